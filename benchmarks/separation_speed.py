#!/usr/bin/env python
"""Separation speed: seconds of compute per second of audio, at the paper's settings, the recommended one and Heun.

    .venv/bin/python benchmarks/separation_speed.py            # print the results
    .venv/bin/python benchmarks/separation_speed.py --write    # also update docs/benchmarks.md

MSDM Dirac separation (``tasks.separate_long``, as ``msdm separate`` runs it) of a toy test song's
mixture, timed end to end on the CPU:

* **paper**: Table 1's sampler — Euler, 150 steps × R = 2 correction resamples = 300 NFE, S_churn 20;
* **Euler N × R 2**: the paper's sampler on N steps (2N NFE; default N = 24 → 48 NFE, the course's
  recommended setting earlier on 2026-12-04; the recommended setting now is 12 steps on a grid ending at σ
  3e-3, whose speed with seamless chunks ``benchmarks/long_form.py --part speed --recommended`` measures),
  the paper's churn per step (S_churn = 20·N/150);
* **Heun N**: EDM's Heun sampler with N steps (2N − 1 NFE; default N = 24 → 47 NFE), the same σ
  grid and the paper's churn per step (S_churn = 20·N/150). Which Heun settings stay within 0.3 dB
  of the paper's sampler on the whole test set is measured by ``benchmarks/separation_quality.py``
  (and checked by ``tests/test_shipped_quality.py``); pass them with ``--heun-steps``.

The model is ``--checkpoint`` (default ``data_small/checkpoints/msdm-tiny.pt``). Without a trained
checkpoint a random-weight tiny U-Net of the same architecture is timed instead, and the output
says so: its speed is the trained model's speed, its SI-SDRi means nothing. The input is the sum of
the stems of ``--track`` (first ``--seconds``, default two whole chunks), cut into chunks of the model's length
(32768 samples for tiny, 262144 for the paper's models), separated independently in float32 (the
paper's way, so that the rows stay comparable over time; seamless chunks and bf16, the defaults of
``msdm separate`` now, are timed by ``benchmarks/long_form.py``). Only the section
"## Separation speed" of docs/benchmarks.md is rewritten.

``--paper-model`` also times a few denoiser evaluations of a random-weight U-Net of the paper's
size (405 M parameters) on one 262144-sample chunk and extrapolates to the same settings: the
cost of the paper's own checkpoints on this CPU (about 1.6 GB of weights, a few GB of activations).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from msdm_tutorial import STEMS, metrics
from msdm_tutorial.course import data_small
from msdm_tutorial.data.datasets import load_track
from msdm_tutorial.models import chunk_length, length_multiple, load_model
from msdm_tutorial.tasks import SeparationConfig, separate_long

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, print_section  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
SECTION = "## Separation speed"
DEFAULT_CHECKPOINT = "data_small/checkpoints/msdm-tiny.pt"


def random_tiny(seed: int = 0):
    from msdm_tutorial import unet
    from msdm_tutorial.denoiser import EDMDenoiser

    torch.manual_seed(seed)
    return EDMDenoiser(unet.build("tiny"), stems=STEMS, sample_rate=22050).eval()


def time_setting(model, y, reference, cfg, chunk, batch, sr, seed=0) -> dict:
    """Separate ``y`` (T,) once; wall-clock time and the protocol's SI-SDRi against ``reference``."""
    t = time.perf_counter()
    x = separate_long(model, y[None, None], cfg, chunk_length=chunk, batch_size=batch, chunking="independent",
                      precision="fp32", generator=torch.Generator().manual_seed(seed))
    elapsed = time.perf_counter() - t
    seconds = y.numel() / sr
    res = metrics.evaluate([("track", x[0], reference)], sr, tuple(model.stems))
    return {"nfe": cfg.nfe, "elapsed_s": elapsed, "audio_s": seconds, "s_per_s": elapsed / seconds,
            "ms_per_nfe_per_s": 1000 * elapsed / seconds / cfg.nfe, "si_sdri": res["summary"]["average"]}


def paper_model_nfe_seconds(evaluations: int) -> float:
    """Seconds per denoiser evaluation of a random paper-size MSDM U-Net on one 262144-sample chunk."""
    from msdm_tutorial import unet
    from msdm_tutorial.denoiser import EDMDenoiser
    from msdm_tutorial.tasks import PAPER_CHUNK_LENGTH

    torch.manual_seed(0)
    model = EDMDenoiser(unet.build("paper"), stems=STEMS, sample_rate=22050).eval()
    x = torch.randn(1, len(STEMS), PAPER_CHUNK_LENGTH)
    with torch.no_grad():
        model(x, 0.5)  # warm-up
        t = time.perf_counter()
        for _ in range(evaluations):
            model(x, 0.5)
    return (time.perf_counter() - t) / evaluations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help=f"MSDM checkpoint (default {DEFAULT_CHECKPOINT} if it exists, "
                                             "else a random-weight tiny model)")
    parser.add_argument("--track", default=str(data_small() / "toy" / "test" / "Track00029"),
                        help="track folder whose stems are summed into the mixture")
    parser.add_argument("--seconds", type=float,
                        help="seconds of the track to separate (default: two whole chunks, as far as the track goes)")
    parser.add_argument("--euler-steps", type=int, nargs="*", default=[24], metavar="N",
                        help="Euler × R 2 step counts to time (default 24, i.e. 48 NFE; the recommended setting: 12)")
    parser.add_argument("--heun-steps", type=int, nargs="*", default=[24], metavar="N",
                        help="Heun step counts to time (default 24, i.e. 47 NFE)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--batch", type=int, default=8, help="chunks per batch (default 8)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per setting; the fastest is kept, the least disturbed by other jobs (default 1)")
    parser.add_argument("--paper-model", action="store_true",
                        help="also extrapolate from --paper-nfe evaluations of a paper-size U-Net")
    parser.add_argument("--paper-nfe", type=int, default=2, help="timed paper-size evaluations (default 2)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    path = args.checkpoint or (str(ROOT / DEFAULT_CHECKPOINT) if (ROOT / DEFAULT_CHECKPOINT).is_file() else None)
    if path:
        model = load_model(path, "cpu")
        import hashlib

        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
        shown = os.path.relpath(path, ROOT) if Path(path).resolve().is_relative_to(ROOT) else path
        label = f"`{shown}` (sha256 {digest}…)"
        trained = True
    else:
        model = random_tiny()
        label = (f"a random-weight tiny U-Net (no trained checkpoint at `{DEFAULT_CHECKPOINT}` yet): "
                 "the trained tiny model runs at the same speed, but the SI-SDRi column means nothing")
        trained = False
        print(f"note: {DEFAULT_CHECKPOINT} not found; timing a random-weight tiny model (speed only)")
    params = sum(p.numel() for p in model.parameters())
    sr = model.sample_rate or 22050
    chunk = chunk_length(model)
    reference = load_track(args.track, tuple(model.stems), sample_rate=sr, resample=True)
    if args.seconds is not None:
        reference = reference[:, :round(args.seconds * sr)]
    elif reference.shape[-1] >= chunk:  # whole chunks: no zero-padding to pay for
        reference = reference[:, :min(2, reference.shape[-1] // chunk) * chunk]
    y = reference.sum(0)
    print(f"model: {params:,} parameters, {len(model.stems)} stems, chunks of {chunk} samples "
          f"(downsampling {length_multiple(model)}); input {y.numel() / sr:.2f} s; {args.threads} thread(s)")

    with torch.no_grad():  # warm-up (allocator, oneDNN kernels)
        model(torch.randn(min(args.batch, -(-y.numel() // chunk)), len(model.stems), chunk), 0.5)
    load_before = os.getloadavg()[0]
    settings = [("paper (Table 1)", "Euler, R = 2", SeparationConfig.paper_dirac())]
    settings += [(f"Euler {n} × R 2" + (" (recommended)" if n == 24 else ""), "Euler, R = 2",
                  SeparationConfig.paper_dirac().with_steps(n)) for n in args.euler_steps]
    settings += [(f"Heun {n}", "Heun", SeparationConfig.paper_dirac().with_steps(n).with_heun()) for n in args.heun_steps]
    rows = []
    for name, sampler, cfg in settings:
        r = min((time_setting(model, y, reference, cfg, chunk, args.batch, sr) for _ in range(max(1, args.repeats))),
                key=lambda r: r["elapsed_s"])
        rows.append((name, sampler, cfg, r))
        print(f"{name:<16} {cfg.num_steps:>4} steps {r['nfe']:>4} NFE: {r['elapsed_s']:7.1f} s for "
              f"{r['audio_s']:.2f} s of audio = {r['s_per_s']:6.2f} s/s ({r['ms_per_nfe_per_s']:.1f} ms per NFE "
              f"per s), SI-SDRi {r['si_sdri']:.2f} dB")
    paper_nfe_s = None
    if args.paper_model:
        paper_nfe_s = paper_model_nfe_seconds(args.paper_nfe)
        print(f"paper-size U-Net: {paper_nfe_s:.1f} s per evaluation of one 262144-sample chunk")
    load_after = os.getloadavg()[0]

    command = "benchmarks/separation_speed.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [SECTION, "",
             f"Measured by `.venv/bin/python {command.strip()}` on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s); load average "
             f"{load_before:.1f} → {load_after:.1f} while measuring (other jobs shared the CPU).", "",
             f"- Model: {label}; {params / 1e6:.2f} M parameters.",
             f"- Input: the first {y.numel() / sr:.2f} s of `{os.path.relpath(args.track, ROOT)}`'s mixture, "
             f"{sr} Hz, separated in {-(-y.numel() // chunk)} chunk(s) of {chunk} samples ({chunk / sr:.2f} s"
             f"{', the last one zero-padded' if y.numel() % chunk else ''}), "
             f"MSDM Dirac (σ ∈ [1e-4, 1], ρ 7; S_churn 20 for the paper's 150 steps, 20·N/150 for N steps), "
             f"fastest of {max(1, args.repeats)} run(s) per setting.",
             "- The time does not depend on the weights (a trained and a random model of one architecture "
             "cost the same); it scales with NFE and with the number of chunks.", "",
             markdown_table(["setting", "sampler", "steps", "NFE", "seconds", "s per s of audio",
                             "ms per NFE per s of audio", "SI-SDRi avg (dB)"],
                            ([name, sampler, cfg.num_steps, cfg.nfe, f"{r['elapsed_s']:.1f}", f"{r['s_per_s']:.2f}",
                              f"{r['ms_per_nfe_per_s']:.1f}", f"{r['si_sdri']:.2f}" if trained else "n/a (random weights)"]
                             for name, sampler, cfg, r in rows), align="ll" + "r" * 6)]
    paper = rows[0][3]["s_per_s"]
    for name, _, cfg, r in rows[1:]:
        lines.append("")
        lines.append(f"{name} ({cfg.nfe} NFE) is {paper / r['s_per_s']:.1f}× faster than the paper's 300-NFE setting.")
    if paper_nfe_s is not None:
        chunk_s = 262144 / 22050
        lines += ["", f"The paper's model size (random-weight 405 M-parameter U-Net, one 262144-sample chunk "
                      f"= {chunk_s:.2f} s, batch 1): {paper_nfe_s:.1f} s per denoiser evaluation "
                      f"(mean of {args.paper_nfe}), extrapolated:", "",
                  markdown_table(["setting", "NFE", "s per s of audio", "a 4-minute song"],
                                 ([name, cfg.nfe, f"{paper_nfe_s * cfg.nfe / chunk_s:.0f}",
                                   f"{paper_nfe_s * cfg.nfe / chunk_s * 240 / 3600:.1f} h"] for name, _, cfg, _ in rows))]
    if trained:
        lines.append("")
        lines.append("SI-SDRi here is one excerpt of one song (a sanity check); the quality study "
                     "across the test set is the section \"Shipped tiny models: separation quality\" below.")
        if not rows[0][3]["si_sdri"] > 0:
            lines.append("")
            lines.append(f"At the paper's settings this checkpoint scores {rows[0][3]['si_sdri']:.1f} dB, below the "
                         "equal-split baseline (0 dB): it does not separate yet (an early or untrained checkpoint), "
                         "so this column is not a quality result.")
    print_section(SECTION, "\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
