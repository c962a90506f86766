#!/usr/bin/env python
"""Does a long generated song keep one tempo and one key? Outpainting with the shipped model (issue 15).

    .venv/bin/python benchmarks/long_generation.py --write
    .venv/bin/python benchmarks/long_generation.py --checkpoint runs/new/export.pt --steps 12

``msdm generate --seconds 20`` (default settings unless ``--steps``: the paper's 150 Euler steps from
σ_max 20) outpaints a song many times the model's chunk: each chunk holds the end of the one before as
known (``tasks.generate(…, chunk_length=…)``). Per chunk-length segment of each song, as in notebook
08, section 7 (``data.analysis.tempo_and_key_per_chunk``):

* **on one tempo**: the share of segments whose onset tempo of the mix is within ±4 % of the song's
  median (``analysis.steady_share``);
* **in-key share**: the share of the pitched stems' chroma on the song's own key signature.

Calibration rows: real toy songs of the same length (unseen seeds; a steady tempo and one key) and
white noise at the stems' level (no beat; about 7/12 of its chroma on any scale). Notebook 08 calls
a song steady when ≥ 60 % of its segments share one tempo and its mean in-key share is ≥ 0.8.

``--continue-real`` asks whether the model can hand a tempo on at all: it keeps the first chunk of each
real song and outpaints the rest from it (each next chunk holds the last ``--overlap`` of the song so far,
all stems, as ``msdm generate`` does), and prints the continued songs' rows and the share of their later
segments within ±4 % of the real song's tempo. Printed only; ``--write`` is for the generated songs.
Only the section "## Long-form generation: one tempo and one key?" of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402
from generation_quality import guide_note, run_quiet  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, tasks  # noqa: E402
from msdm_tutorial.chunking import DEFAULT_OVERLAP  # noqa: E402
from msdm_tutorial.data import analysis as A  # noqa: E402
from msdm_tutorial.data.audio import read_audio  # noqa: E402
from msdm_tutorial.data.toy import synthesize_song  # noqa: E402
from msdm_tutorial.models import chunk_length, model_rate, with_guide  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "data_small" / "checkpoints" / "msdm-tiny.pt"
SECTION = "## Long-form generation: one tempo and one key?"
PITCHED = [STEMS.index(s) for s in ("bass", "guitar", "piano")]
MIN_STEADY, MIN_KEY_SHARE = 0.6, 0.8          # notebook 08's verdict thresholds
REAL_SEED_BASE = 20261204                     # unseen real songs (data_small uses 2302 and 2257)


def measure(stems: torch.Tensor, sr: int, chunk: int) -> dict:
    tempos, shares = A.tempo_and_key_per_chunk(stems[PITCHED].sum(0), stems.sum(0), sr, chunk)
    return {"tempos": tempos, "steady": A.steady_share(tempos), "key": float(shares.mean())}


def generated(checkpoint: Path, seconds: float, seed: int, steps: int | None, overlap: float | None, sr: int,
              work: Path, guidance: float | None = None, guide: str = "auto") -> torch.Tensor:
    out = work / f"seed{seed}"
    argv = ["generate", "--checkpoint", str(checkpoint), "--out", str(out), "--seconds", f"{seconds:g}",
            "--seed", str(seed), "--guide", guide, "--quiet"] + (["--steps", str(steps)] if steps else []) \
        + (["--overlap", f"{overlap:g}"] if overlap is not None else []) \
        + (["--guidance", f"{guidance:g}"] if guidance is not None else [])
    run_quiet(argv)
    return torch.stack([read_audio(out / f"{s}.wav", sr).audio[0] for s in STEMS])


def continued(model, checkpoint: Path, real: torch.Tensor, chunk: int, overlap: int, steps: int | None, guide: str) -> torch.Tensor:
    """Real songs (B, K, T) continued from their first chunk: each next chunk holds the song's last ``overlap``
    samples as known, all stems (imputation along time, as ``tasks.outpaint`` does after its first chunk, which
    it generates; without outpaint's crossfade of the first free samples), and generates the rest."""
    model = with_guide(model.eval(), checkpoint, guide)                # ``model``: loaded from ``checkpoint``
    config = tasks.GenerationConfig.paper()
    config = config.replace(num_steps=steps) if steps else config
    g = torch.Generator().manual_seed(0)
    song = real[..., :chunk]
    while song.shape[-1] < real.shape[-1]:
        part = torch.zeros(*real.shape[:2], chunk)
        part[..., :overlap] = song[..., -overlap:]
        held = torch.zeros_like(part)
        held[..., :overlap] = 1
        song = torch.cat([song, tasks.impute(model, part, held, config, generator=g)[..., overlap:]], -1)
    return song[..., :real.shape[-1]]


def continue_real(args, model, sr: int, chunk: int) -> None:
    """Print how far real songs continued from their first chunk keep the real tempo and key."""
    overlap = int(round((DEFAULT_OVERLAP if args.overlap is None else args.overlap) * chunk))
    songs = [synthesize_song(REAL_SEED_BASE + i, seconds=args.seconds, sample_rate=sr) for i in range(args.songs)]
    t0 = time.perf_counter()
    out = continued(model, args.checkpoint, torch.stack([torch.as_tensor(x, dtype=torch.float32) for x, _ in songs]), chunk,
                    overlap, args.steps, args.guide)
    print(f"real songs continued from their first chunk, overlap {overlap} samples ({overlap / sr:.2f} s), "
          f"{time.perf_counter() - t0:.0f} s:")
    for (x, meta), song in zip(songs, out):
        m = measure(song, sr, chunk)
        later = np.asarray(m["tempos"][1:])
        on_real = float(np.mean(np.abs(later / meta["tempo_bpm"] - 1) <= 0.04))
        print(f"  real song ({meta['tempo_bpm']:.0f} BPM): tempo per segment {' '.join(f'{t:.0f}' for t in m['tempos'])}; "
              f"{m['steady']:.0%} on one tempo, in-key share {m['key']:.2f}; later segments on the real tempo {on_real:.0%}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--songs", type=int, default=3, help="generated songs (seeds 0, 1, …) and real songs")
    parser.add_argument("--steps", type=int, help="σ steps (default: msdm generate's, the paper's 150)")
    parser.add_argument("--overlap", type=float, help="chunk overlap, a fraction of a chunk (default: msdm generate's 0.25)")
    parser.add_argument("--guidance", type=float,
                        help="reconstruction guidance on each chunk's held overlap (default: msdm generate's 0)")
    parser.add_argument("--guide", default="auto", metavar="C|auto|none",
                        help="msdm generate --guide (default auto, its default: the checkpoint's companion guide)")
    parser.add_argument("--continue-real", action="store_true",
                        help="instead: continue real songs from their first chunk and print how long they keep their tempo")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = checkpoints.load(args.checkpoint)
    sr, chunk = model_rate(model), chunk_length(model)
    if args.continue_real:
        continue_real(args, model, sr, chunk)
        return 0
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.songs):
            audio = generated(args.checkpoint, args.seconds, seed, args.steps, args.overlap, sr, Path(tmp), args.guidance,
                              args.guide)
            rows.append((f"generated, seed {seed}", measure(audio, sr, chunk)))
            print(f"  seed {seed}: {rows[-1][1]['steady']:.0%} on one tempo, in-key share {rows[-1][1]['key']:.2f}",
                  flush=True)
    gen_s = time.perf_counter() - t0
    for i in range(args.songs):
        x, meta = synthesize_song(REAL_SEED_BASE + i, seconds=args.seconds, sample_rate=sr)
        rows.append((f"real toy song {i + 1} ({meta['tempo_bpm']:.0f} BPM)", measure(x, sr, chunk)))
    noise = 0.05 * torch.randn(len(STEMS), int(args.seconds * sr), generator=torch.Generator().manual_seed(0))
    rows.append(("white noise", measure(noise, sr, chunk)))

    def verdict(m):
        return "yes" if m["steady"] >= MIN_STEADY and m["key"] >= MIN_KEY_SHARE else "no"

    gen = [m for name, m in rows if name.startswith("generated")]
    steps = f"--steps {args.steps}" if args.steps else "default settings: the paper's 150 Euler steps"
    text = "\n".join([
        SECTION, "",
        f"Measured by `.venv/bin/python benchmarks/long_generation.py"
        f"{'' if args.checkpoint == CHECKPOINT else ' --checkpoint ' + str(args.checkpoint)}"
        f"{' --steps ' + str(args.steps) if args.steps else ''}"
        f"{'' if args.seconds == 20 else f' --seconds {args.seconds:g}'}{'' if args.songs == 3 else f' --songs {args.songs}'}"
        f"{'' if args.overlap is None else f' --overlap {args.overlap:g}'}"
        f"{'' if args.guidance is None else f' --guidance {args.guidance:g}'}"
        f"{'' if args.guide == 'auto' else f' --guide {args.guide}'}"
        f" --write` on {platform.machine()}, {os.cpu_count()} "
        f"cores, torch {torch.__version__}: `msdm generate --seconds {args.seconds:g} --seed S` ({steps}) with "
        f"`{args.checkpoint.name}`{guide_note(args.checkpoint, args.guide)}, outpainted in chunks of {chunk} samples; generation took {gen_s:.0f} s. Per "
        f"{chunk / sr:.2f}-s segment: the onset tempo of the mix and the in-key share of the pitched stems "
        "(`data.analysis.tempo_and_key_per_chunk`). A song keeps one tempo and key when ≥ 60 % of its segments "
        "are within ±4 % of its median tempo and its mean in-key share is ≥ 0.8 (notebook 08, section 7).", "",
        markdown_table(["song", "tempo per segment (BPM)", "on one tempo", "mean in-key share", "one tempo and key?"],
                       ([name, " ".join(f"{t:.0f}" for t in m["tempos"]), f"{m['steady']:.0%}", f"{m['key']:.2f}",
                         verdict(m)] for name, m in rows), align="llrrl"), "",
        f"- Generated songs: {np.mean([m['steady'] for m in gen]):.0%} of segments on one tempo on average, mean "
        f"in-key share {np.mean([m['key'] for m in gen]):.2f}; {sum(verdict(m) == 'yes' for m in gen)} of {len(gen)} "
        "keep one tempo and key.", "",
    ])
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
