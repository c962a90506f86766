"""Do generated and imputed stems sound like the real ones? Calibrated quality measures (issue 12).

    .venv/bin/python benchmarks/generation_quality.py --write
    .venv/bin/python benchmarks/generation_quality.py --checkpoint runs/new/export.pt

All real songs are unseen: synthesised with the toy composer from a seed base (``--seed-base``)
disjoint from data_small's (2302 and 2257), at the model's own sample rate. One clip per song, of the model's chunk length, cropped
at a seeded offset. Sets of N = 16 clips; the reference is 32 further songs; the real baseline is the
mean over 4 disjoint real sets (msdm_tutorial.quality.distance_ratio).

One such draw of reference and baselines moves a ratio 2-3x (the real baselines' distances to one
reference span 63-828 for the drums), so every ratio is also pooled over ``--reference-draws``
independent draws (seed bases B, B+1, ...): the candidate's distances summed over the draws over the
baselines' (msdm_tutorial.quality.pooled_ratio), with the single draws' range. The generated and imputed
clips are the same in every draw; every other row is re-drawn from its draw's held-out songs.

Rows, per stem:
* **real held-out**: a fifth disjoint set of 16 real songs (should score ≈ 1);
* **white / pink noise** at the real stem's RMS (must fail every check);
* **another instrument**: real clips of a different stem (bass ← guitar, drums ← bass, guitar ← piano,
  piano ← guitar);
* **generated**: ``msdm generate --batch 16`` at its default settings (the paper's sampler, autoguided by
  the checkpoint's companion ``NAME-guide.pt`` when it has one; ``--guide none``: the model alone);
* **imputed**: ``msdm impute --keep bass,drums`` on each of the held-out songs, default settings (the
  course's recommended imputation, not autoguided; ``--guide auto`` guides both commands);
  key fit (in-scale share of chroma energy for the song's key) is reported for these.
Tonality is the spectral flatness of the loud frames (0.56 = −2.5 dB for white noise), compared in dB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, cli, quality  # noqa: E402
from msdm_tutorial.data import analysis as A  # noqa: E402
from msdm_tutorial.data.audio import read_audio, save_audio  # noqa: E402
from msdm_tutorial.data.toy import synthesize_song  # noqa: E402
from msdm_tutorial.data.toyset import song_seed  # noqa: E402
from msdm_tutorial.autoguidance import AutoguidedDenoiser, describe  # noqa: E402
from msdm_tutorial.options import DEFAULT_GUIDE  # noqa: E402
from msdm_tutorial.models import chunk_length, guide_path, model_rate, recorded_guidance, with_guide  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "data_small" / "checkpoints" / "msdm-tiny.pt"
SR = 22050                 # set to the model's own rate in main(): every clip is compared at that rate
N = 16                     # clips per compared set
N_REF = 32                 # clips in the reference set
N_BASELINES = 4            # disjoint real sets for the baseline
REFERENCE_DRAWS = 6        # independent (reference, baselines, held-out) draws every ratio is pooled over
OTHER = {"bass": "guitar", "drums": "bass", "guitar": "piano", "piano": "guitar"}
PITCHED = ("bass", "guitar", "piano")


def real_songs(seed_base: int, count: int, seconds: float, length: int):
    """``count`` unseen songs: full stems (for impute), one cropped clip each, and their labels."""
    rng = np.random.default_rng(seed_base)
    songs = []
    for i in range(count):
        seed = song_seed(seed_base, i + 1)
        x, meta = synthesize_song(seed, seconds, SR)
        start = int(rng.integers(0, x.shape[-1] - length + 1))
        songs.append({"seed": seed, "clip": x[:, start:start + length], "meta": meta, "start": start})
    return songs


def song_sets(seed_base: int, length: int, seconds: float = 6.0):
    """The unseen songs every distance here is measured on: (reference, real baselines, held-out) — N_REF
    songs, N_BASELINES disjoint sets of N, and N more, in that order of seeds."""
    songs = real_songs(seed_base, N_REF + N * (N_BASELINES + 1), seconds, length)
    reference, rest = songs[:N_REF], songs[N_REF:]
    return reference, [rest[i * N:(i + 1) * N] for i in range(N_BASELINES)], rest[N_BASELINES * N:]


def distance_scale(reference, baselines, stem: str) -> quality.DistanceScale:
    """The Fréchet distance ratio of ``stem`` against ``reference``, scaled by the real baselines'."""
    return quality.DistanceScale(clips(reference, stem), [clips(b, stem) for b in baselines], SR)


def reference_draws(seed_base: int, length: int, draws: int = REFERENCE_DRAWS, seconds: float = 6.0):
    """``draws`` independent draws of :func:`song_sets` (seed bases ``seed_base``, ``seed_base + 1``, …), each as
    ``({stem: DistanceScale}, held-out songs)``: pool a ratio over them (:func:`pooled`), since one draw moves it 2–3×."""
    return [({s: distance_scale(ref, base, s) for s in STEMS}, held)
            for ref, base, held in (song_sets(seed_base + i, length, seconds) for i in range(draws))]


def add_guide_arguments(parser, default: str = "none") -> None:
    """``--guide C|auto|none --guide-weight W --guide-sigma-max S``, as ``msdm generate``'s (default: no guide)."""
    parser.add_argument("--guide", default=default, metavar="C|auto|none",
                        help=f"autoguidance guide (auto: the checkpoint's companion NAME-guide.pt; default {default})")
    parser.add_argument("--guide-weight", type=float, metavar="W", help="autoguidance weight (default: the guide's)")
    parser.add_argument("--guide-sigma-max", type=float, metavar="S", help="guide only where σ ≤ S (default: the guide's)")


def load_guided(args):
    """``args.checkpoint``'s model, autoguided as ``args.guide`` says (:func:`msdm_tutorial.models.with_guide`)."""
    model = checkpoints.load(args.checkpoint).eval()
    return with_guide(model, args.checkpoint, args.guide, args.guide_weight, args.guide_sigma_max)


def pooled(draws, stem: str, ratios) -> float:
    """``stem``'s ratios in every draw of :func:`reference_draws`, pooled (:func:`msdm_tutorial.quality.pooled_ratio`)."""
    return quality.pooled_ratio([scales[stem] for scales, _ in draws], ratios)


def guide_label(model) -> str:
    """`` (autoguided at w W where σ ≤ S)`` for a guided model, else nothing."""
    return f" ({describe(model.weight, model.sigma_max)})" if isinstance(model, AutoguidedDenoiser) else ""


def clips(songs, stem: str) -> torch.Tensor:
    return torch.stack([s["clip"][STEMS.index(stem)] for s in songs])


def run_quiet(argv) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(argv) == 0, argv


def guide_args(guide: str | None) -> list[str]:
    """``--guide G`` when one is asked for; none leaves each command at its own default."""
    return [] if guide is None else ["--guide", guide]


def generated_clips(checkpoint: Path, work: Path, seconds: float, seed: int = 0, guide: str | None = None) -> dict[str, torch.Tensor]:
    out = work / "generated"
    run_quiet(["generate", "--checkpoint", str(checkpoint), *guide_args(guide), "--out", str(out), "--batch", str(N),
               "--seconds", f"{seconds}", "--seed", str(seed), "--quiet"])
    return {s: torch.stack([read_audio(out / f"sample_{b:03d}" / f"{s}.wav", SR).audio[0] for b in range(N)])
            for s in STEMS}


def imputed_clips(checkpoint: Path, work: Path, songs, seconds: float, guide: str | None = None) -> dict[str, torch.Tensor]:
    got = {s: [] for s in ("guitar", "piano")}
    for i, song in enumerate(songs):
        track = work / "tracks" / f"Track{i:05d}"
        full = song["clip"]
        track.mkdir(parents=True)
        for k, s in enumerate(STEMS):
            save_audio(track / f"{s}.wav", full[k][None], SR)
        out = work / "imputed" / track.name
        run_quiet(["impute", "--checkpoint", str(checkpoint), *guide_args(guide), "--track", str(track), "--keep", "bass,drums",
                   "--out", str(out), "--seconds", f"{seconds}", "--seed", str(i), "--quiet"])
        for s in got:
            got[s].append(read_audio(out / f"{s}.wav", SR).audio[0])
    return {s: torch.stack(v) for s, v in got.items()}


def guide_note(checkpoint, guide: str) -> str:
    """How a command with ``--guide guide`` was guided, for the report."""
    path = guide_path(checkpoint, guide)
    if path is None:
        return " (the model alone, no autoguidance)"
    g = recorded_guidance(path)
    return f" {describe(g.get('weight', 1.0), g.get('sigma_max'), f'`{path.name}`')} (as the file records)"


def key_fit(x: torch.Tensor, meta: dict) -> float:
    if x.abs().max() < 1e-4:
        return float("nan")
    return A.in_scale_fraction(A.chroma(x, SR), meta["tonic"], meta["mode"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--label", default=None, help="the model's name in the table (default: the file name)")
    parser.add_argument("--seed-base", type=int, default=9001, help="seed base of the unseen real songs")
    parser.add_argument("--generation-seed", type=int, default=0, help="msdm generate --seed of the generated set")
    parser.add_argument("--song-seconds", type=float, default=6.0)
    parser.add_argument("--reference-draws", type=int, default=REFERENCE_DRAWS, metavar="R",
                        help=f"pool every ratio over R draws of reference and baselines (default {REFERENCE_DRAWS})")
    parser.add_argument("--guide", metavar="C|auto|none",
                        help="msdm generate and msdm impute --guide (default: each command's own, "
                             f"{', '.join(f'{k} {v}' for k, v in DEFAULT_GUIDE.items())})")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    global SR
    torch.manual_seed(0)
    model = checkpoints.load(args.checkpoint)
    SR = model_rate(model)                                        # real songs are synthesised at this rate
    length = chunk_length(model)                                  # the model's own chunk (32768 for tiny)
    seconds = length / SR
    label = args.label or args.checkpoint.name

    t0 = time.perf_counter()
    draws = reference_draws(args.seed_base, length, args.reference_draws, args.song_seconds)
    held_out = draws[0][1]                                       # the first draw: song_sets(args.seed_base)
    with tempfile.TemporaryDirectory() as tmp:
        generated = generated_clips(args.checkpoint, Path(tmp), seconds, args.generation_seed, args.guide)
        imputed = imputed_clips(args.checkpoint, Path(tmp), held_out, seconds, args.guide)
    model_s = time.perf_counter() - t0

    g = torch.Generator().manual_seed(1)

    def candidates(held, stem: str) -> dict:
        """Every row's clips of ``stem`` in a draw: real rows and noise from its held-out songs, the model's the same in all."""
        real = clips(held, stem)
        rms = float(real.pow(2).mean().sqrt())
        out = {"real held-out": real, "white noise": quality.white_noise(N, length, rms, g),
               "pink noise": quality.pink_noise(N, length, rms, g),
               f"another instrument ({OTHER[stem]})": clips(held, OTHER[stem]), f"generated ({label})": generated[stem]}
        if stem in imputed:
            out[f"imputed ({label})"] = imputed[stem]
        return out

    rows, spread = {}, {}                                        # the first draw's measures; every draw's ratio
    for i, (scales, held) in enumerate(draws):
        for stem in STEMS:
            for name, x in candidates(held, stem).items():
                row = name.split(" (")[0] if name.startswith("another") else name
                spread.setdefault(row, {}).setdefault(stem, []).append(scales[stem](x))
                if i > 0:
                    continue
                # clip i of every set but the generated one belongs to held-out song i, whose key is known
                key = [key_fit(x[j], held[j]["meta"]) for j in range(N)] if not name.startswith("generated") else []
                rows.setdefault(row, {})[stem] = {
                    "ratio": spread[row][stem][0],
                    "flatness": quality.spectral_flatness(x),
                    "rms": float(x.pow(2).mean().sqrt()),
                    "key": float(np.nanmean(key)) if key and not np.all(np.isnan(key)) else float("nan")}
    real_flat = {s: rows["real held-out"][s]["flatness"] for s in STEMS}

    def cell(v, fmt="{:.2f}"):
        return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)

    def spread_cell(stem, ratios):
        return "—" if ratios is None else f"{pooled(draws, stem, ratios):.1f} ({min(ratios):.1f}–{max(ratios):.1f})"

    def flat_db(v):
        return 10 * np.log10(v) if v is not None and v > 0 else float("nan")

    def flatness_cells(per, s):
        """A pitched stem's flatness in dB and its difference to the real stems'."""
        if s not in per:
            return [cell(None), cell(None)]
        return [cell(flat_db(per[s]["flatness"]), "{:.1f}"), cell(flat_db(per[s]["flatness"]) - flat_db(real_flat[s]), "{:+.1f}")]

    lines = ["## Generation quality: distance to real stems", "",
             f"Measured by `.venv/bin/python benchmarks/generation_quality.py"
             f"{'' if args.checkpoint == CHECKPOINT else ' --checkpoint ' + str(args.checkpoint)}"
             f"{'' if args.generation_seed == 0 else f' --generation-seed {args.generation_seed}'}"
             f"{'' if args.guide is None else f' --guide {args.guide}'} --write` on "
             f"{date.today()}: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
             f"model sampling took {model_s:.0f} s. Unseen toy songs (seed base {args.seed_base}), one "
             f"{seconds:.2f}-s clip each; sets of {N} clips, reference {N_REF}, real baseline = mean of "
             f"{N_BASELINES} disjoint real sets (`msdm_tutorial.quality`). Generated: `msdm generate`"
             f"{guide_note(args.checkpoint, args.guide or DEFAULT_GUIDE['generate'])}; imputed: `msdm impute`"
             f"{guide_note(args.checkpoint, args.guide or DEFAULT_GUIDE['impute'])}.", "",
             "**Fréchet distance ratio** on log-mel frames (1 = as close to the reference as real songs are):", "",
             markdown_table(["set", *STEMS], ([name, *(cell(per.get(s, {}).get("ratio"), "{:.1f}") for s in STEMS)]
                                              for name, per in rows.items()))]
    lines += ["", f"**The same ratio pooled over {args.reference_draws} draws** of reference, baselines and held-out songs "
              f"(seed bases {args.seed_base}–{args.seed_base + args.reference_draws - 1}; the first is the table above): "
              "the distances summed over the draws over the baselines' (`quality.pooled_ratio`), and in brackets the "
              "single draws' range. One draw moves a ratio 2–3×, so compare models and check targets on the pooled ratio:", "",
              markdown_table(["set", *STEMS], ([name, *(spread_cell(s, per.get(s)) for s in STEMS)]
                                               for name, per in spread.items()))]
    lines += ["", "**Tonality**: spectral flatness of the loud frames in dB (10·log10; white noise ≈ −2.5 dB, "
              "pure tones far below), and its difference to the real stems', for the pitched stems. (Flatness "
              "itself spans six decades here, so ratios of it mean nothing; compare in dB.)", "",
              markdown_table(["set", *(h for s in PITCHED for h in (f"{s} dB", f"{s} − real"))],
                             ([name, *(c for s in PITCHED for c in flatness_cells(per, s))] for name, per in rows.items()))]
    lines += ["", "**Key fit** of guitar and piano (share of chroma energy in the song's key; 7/12 ≈ 0.58 for "
              "noise), and RMS:", "",
              markdown_table(["set", "guitar key fit", "piano key fit", "guitar RMS", "piano RMS"],
                             ([name, cell(per["guitar"]["key"]), cell(per["piano"]["key"]), cell(per["guitar"]["rms"], "{:.3f}"),
                               cell(per["piano"]["rms"], "{:.3f}")] for name, per in rows.items() if "guitar" in per))]
    print_section(lines[0], "\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
