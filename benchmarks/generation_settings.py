#!/usr/bin/env python
"""Is noise-like generation the sampler's fault or the model's? Distance ratios under four settings.

    .venv/bin/python benchmarks/generation_settings.py [--checkpoint C]
    .venv/bin/python benchmarks/generation_settings.py --sigma-min 0.01 0.03   # … ending early, then one D step

Generates 16 chunks with ``tasks.generate`` under four sampler settings (the paper's Euler 150 steps
with S_churn 20 from σ_max 20, which ``msdm generate`` uses, and deterministic Heun 40 steps from
σ_max 20, 3 and 1) and prints, per stem, the Fréchet distance ratio of
``benchmarks/generation_quality.py`` (same unseen real songs, same set sizes; 1 = as close as real
songs are) and each stem's RMS. One torch thread. If a setting brought every stem near 1, the
model would be fine and the sampler to blame; if all settings stay far above, the model is.

``--sigma-min S …`` runs the paper's setting and Heun 40 from σ_max 20 again for each σ_min S: the
grid ends at S and the last step jumps to σ = 0 with one denoising, D(x; S). It also prints each
stem's noise floor (10th percentile of the RMS of 1024-sample frames, dBFS). If the floor were made
where the sampler ends (σ ≲ 0.003, where the model lets almost all noise through), ending at 0.01 or
0.03, where it still denoises, would lower it.

``--settings KEY …`` picks settings by key (``--list`` prints them; default: the four above), among
them candidates for choosing ``msdm generate``'s default for a model: more or less churn, resampling,
the grid ending at σ_min 3e-3 (separation's). Choose on development songs (``--seed-base 5003``, disjoint
from generation_quality.py's 9001) and several generation seeds (``--generation-seeds 0 1``), then
confirm with generation_quality.py. It also prints the pitched stems' spectral flatness in dB.
``--reference-draws R`` pools every ratio over R draws of the real songs (seed bases B … B+R−1), as
generation_quality.py does: one draw moves a ratio 2–3×, enough to pick the wrong setting.

``--guide auto`` (or a guide checkpoint, with ``--guide-weight`` and ``--guide-sigma-max``) runs every
setting autoguided, as ``msdm generate`` does by default when the checkpoint has a companion guide.

``--chunk-rms`` also prints each stem's per-chunk RMS percentiles, real and generated: whether a stem
that comes out too quiet on average is quiet in every chunk or silent in some. ``--path-rms`` prints, along
the sampling path, each stem's median per-chunk RMS of the estimate D(x; σ) at a few σ (20 … 0.01): where
a stem's level is decided. ``--precision fp32`` runs the denoiser in fp32 rather than ``msdm generate``'s
default (bf16 autocast where the CPU has native bf16): whether bf16 costs generation anything.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_quality import (CHECKPOINT, N, add_guide_arguments, clips, guide_label,  # noqa: E402
                                load_guided, pooled, reference_draws, song_sets)

from msdm_tutorial import STEMS, quality, tasks  # noqa: E402
from msdm_tutorial.models import chunk_length  # noqa: E402

PAPER = tasks.GenerationConfig.paper()
HEUN = tasks.GenerationConfig(num_steps=40, sampler="heun", s_churn=0.0)
SETTINGS = {   # key: (row name, config)
    "paper": ("Euler 150, S_churn 20, σ_max 20 (paper; msdm generate)", PAPER),
    "heun40": ("Heun 40, no churn, σ_max 20", HEUN),
    "heun40-s3": ("Heun 40, no churn, σ_max 3", HEUN.replace(sigma_max=3.0)),
    "heun40-s1": ("Heun 40, no churn, σ_max 1", HEUN.replace(sigma_max=1.0)),
    "euler150-c0": ("Euler 150, no churn, σ_max 20", PAPER.replace(s_churn=0.0)),
    "euler150-c10": ("Euler 150, S_churn 10, σ_max 20", PAPER.replace(s_churn=10.0)),
    "euler150-c40": ("Euler 150, S_churn 40, σ_max 20", PAPER.replace(s_churn=40.0)),
    "euler150-c80": ("Euler 150, S_churn 80, σ_max 20", PAPER.replace(s_churn=80.0)),
    "euler75r2": ("Euler 75 × R 2, S_churn 10, σ_max 20", PAPER.with_steps(75).replace(num_resamples=2)),
    "paper-min3e-3": ("Euler 150, S_churn 20, σ_max 20, σ_min 0.003", PAPER.replace(sigma_min=3e-3)),
    "heun40-min3e-3": ("Heun 40, no churn, σ_max 20, σ_min 0.003", HEUN.replace(sigma_min=3e-3)),
    "heun75": ("Heun 75, no churn, σ_max 20", HEUN.replace(num_steps=75)),
    "heun40-c10": ("Heun 40, S_churn 10, σ_max 20", HEUN.replace(s_churn=10.0)),
    "paper-tmin1": ("Euler 150, S_churn 20 only where σ ≥ 1, σ_max 20", PAPER.replace(s_tmin=1.0)),
    "paper-tmin0.3": ("Euler 150, S_churn 20 only where σ ≥ 0.3, σ_max 20", PAPER.replace(s_tmin=0.3)),
    "paper-snoise1.007": ("Euler 150, S_churn 20, S_noise 1.007, σ_max 20", PAPER.replace(s_noise=1.007)),
    "paper-snoise1.02": ("Euler 150, S_churn 20, S_noise 1.02, σ_max 20", PAPER.replace(s_noise=1.02)),
    "paper-snoise1.05": ("Euler 150, S_churn 20, S_noise 1.05, σ_max 20", PAPER.replace(s_noise=1.05)),
    "paper-snoise1.1": ("Euler 150, S_churn 20, S_noise 1.1, σ_max 20", PAPER.replace(s_noise=1.1)),
}
DEFAULT_SETTINGS = ("paper", "heun40", "heun40-s3", "heun40-s1")
PITCHED = ("bass", "guitar", "piano")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--sigma-min", type=float, nargs="+", default=[], metavar="S",
                        help="also the paper's setting and Heun 40 (σ_max 20) ending at each σ_min S")
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS), choices=list(SETTINGS),
                        metavar="KEY", help="settings to run (--list prints them)")
    parser.add_argument("--list", action="store_true", help="print the settings' keys and exit")
    parser.add_argument("--seed-base", type=int, default=9001,
                        help="seed base of the real songs (9001: generation_quality.py's; 5003 for development)")
    parser.add_argument("--generation-seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="one generated set of 16 chunks per seed; ratios are printed per seed and averaged")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                        help="the denoiser's precision (auto: bf16 where the CPU has it natively, as msdm generate)")
    parser.add_argument("--chunk-rms", action="store_true",
                        help="also print each stem's per-chunk RMS (10th / 50th / 90th percentile) of the real "
                             "reference and of every setting: is a quiet stem quiet in every chunk, or silent in some?")
    parser.add_argument("--path-rms", action="store_true",
                        help="also print, along the first generation seed's sampling path, each stem's median "
                             "per-chunk RMS of the estimate D(x; σ) at a few σ: where a stem's level is decided")
    parser.add_argument("--reference-draws", type=int, default=1, metavar="R",
                        help="pool each ratio over R draws of the real songs (seed bases B … B+R−1; default 1)")
    add_guide_arguments(parser)
    args = parser.parse_args()
    if args.list:
        for key, (name, config) in SETTINGS.items():
            print(f"{key:16s} {name} ({config.nfe} NFE)")
        return 0
    torch.set_num_threads(1)
    model = load_guided(args)
    length = chunk_length(model)
    reference, _, _ = song_sets(args.seed_base, length)          # the first draw's reference: real flatness, RMS
    draws = reference_draws(args.seed_base, length, args.reference_draws)
    print(f"{args.checkpoint}{guide_label(model)} ({args.precision}): real songs from seed base(s) "
          f"{args.seed_base}{f'–{args.seed_base + args.reference_draws - 1}' if args.reference_draws > 1 else ''}; "
          f"{N} generated chunks of {length} samples per setting and generation seed {args.generation_seeds}; distance "
          "ratio per stem (1 = as real songs; pooled over reference draws, mean over seeds, then per seed), RMS per stem, noise floor per stem (dBFS), "
          "flatness of bass / guitar / piano (dB; real in the first row)")
    real_flat = [10 * math.log10(quality.spectral_flatness(clips(reference, s))) for s in PITCHED]
    print("| real reference | — | — | — | " + " / ".join(f"{f:.1f}" for f in real_flat) + " | — |")
    if args.chunk_rms:
        print("per-chunk RMS, 10th / 50th / 90th percentile, " + ", ".join(STEMS) + ": real "
              + chunk_rms_text(torch.stack([clips(reference, s) for s in STEMS], 1)))
    settings = {SETTINGS[key][0]: SETTINGS[key][1] for key in args.settings}
    paper, heun = SETTINGS["paper"][1], SETTINGS["heun40"][1]
    for s_min in args.sigma_min:
        settings[f"Euler 150, S_churn 20, σ_max 20, σ_min {s_min:g}"] = paper.replace(sigma_min=s_min)
        settings[f"Heun 40, no churn, σ_max 20, σ_min {s_min:g}"] = heun.replace(sigma_min=s_min)
    for name, config in settings.items():
        start = time.perf_counter()
        path = []                        # (σ, median per-chunk RMS per stem of D(x; σ)), first seed only
        record = (lambda step: path.append((step.sigma, step.denoised.float().pow(2).mean(-1).sqrt().median(0).values)))
        xs = [tasks.generate(model, (N, len(STEMS), length), config, generator=torch.Generator().manual_seed(seed),
                             callback=record if args.path_rms and i == 0 else None, precision=args.precision)
              for i, seed in enumerate(args.generation_seeds)]
        per_seed = [[pooled(draws, s, [scales[s](x[:, k]) for scales, _ in draws]) for k, s in enumerate(STEMS)] for x in xs]
        ratios = [sum(r[k] for r in per_seed) / len(per_seed) for k in range(len(STEMS))]
        x = torch.cat(xs)
        rms = x.pow(2).mean(dim=(0, 2)).sqrt().tolist()
        frames = x.unfold(-1, 1024, 1024).pow(2).mean(-1).sqrt()                  # (N, K, frames)
        floor = [20 * math.log10(max(float(frames[:, k].flatten().quantile(0.1)), 1e-10)) for k in range(len(STEMS))]
        flat = [10 * math.log10(quality.spectral_flatness(x[:, STEMS.index(s)])) for s in PITCHED]
        seeds = "; ".join(", ".join(f"{v:.1f}" for v in r) for r in per_seed) if len(per_seed) > 1 else ""
        print(f"| {name} ({config.nfe} NFE) | " + " | ".join(f"{r:.1f}" for r in ratios)
              + (f" ({seeds})" if seeds else "") + " | "
              + " / ".join(f"{v:.3f}" for v in rms) + " | " + " / ".join(f"{f:.0f}" for f in floor)
              + " | " + " / ".join(f"{f:.1f}" for f in flat)
              + f" | {time.perf_counter() - start:.0f} s |", flush=True)
        if args.chunk_rms:
            print(f"per-chunk RMS, {name}: " + chunk_rms_text(x), flush=True)
        if args.path_rms:
            marks = [min(path, key=lambda p: abs(math.log(p[0] / target))) for target in PATH_SIGMAS]
            print(f"median per-chunk RMS of D(x; σ) along the path, {name} (" + ", ".join(STEMS) + "): "
                  + "; ".join(f"σ {sig:.3g}: " + " / ".join(f"{v:.3f}" for v in rms.tolist()) for sig, rms in marks),
                  flush=True)
    return 0


PATH_SIGMAS = (20.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.05, 0.01)


def chunk_rms_text(x: torch.Tensor) -> str:
    """Per stem, the 10th / 50th / 90th percentile of the RMS of each chunk of ``x`` (N, K, T)."""
    rms = x.float().pow(2).mean(-1).sqrt()                                          # (N, K)
    q = torch.tensor([0.1, 0.5, 0.9])
    return "; ".join(" / ".join(f"{v:.3f}" for v in rms[:, k].quantile(q).tolist()) for k in range(x.shape[1]))


if __name__ == "__main__":
    sys.exit(main())
