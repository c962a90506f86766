#!/usr/bin/env python
"""Does the sampler decide whether imputed guitar and piano follow the song's key? (issue 12)

    .venv/bin/python benchmarks/imputation_settings.py [--checkpoint CKPT] [--settings NAME …]

The held-out songs of ``benchmarks/generation_quality.py`` (16 unseen toy songs, seed base 9001, one
clip of the model's chunk each; ``--seed-base 5003`` for development songs, to compare models) are imputed with bass and drums kept (``tasks.impute``, one batch, bf16
where native, seed 0) at several sampler settings of about the paper's cost, with and without
reconstruction guidance (``ImputationConfig.guidance``; ``recommended()`` is ``msdm impute``'s default).
Per setting: the Fréchet distance ratio of the imputed guitar and piano to real ones
(``quality.DistanceScale``, as in generation_quality.py: 1 = as close as real songs), their key fit (share of
chroma energy on the song's key; white noise ≈ 0.58, the real stems 0.90 and 0.98), spectral flatness (dB) and
RMS, and the seconds the batch took. Issue 12's targets: distance ratio ≤ 5, key fit ≥ 0.75.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generation_quality as G  # noqa: E402
from _report import markdown_table  # noqa: E402

from msdm_tutorial import STEMS, quality, tasks  # noqa: E402
from msdm_tutorial.configs import ImputationConfig  # noqa: E402
from msdm_tutorial.models import chunk_length, model_rate  # noqa: E402

PAPER = ImputationConfig.paper()
SETTINGS = {
    "paper: Euler 256 steps, S_churn 10": PAPER,
    "Euler 64 steps × R 4, the paper's churn per step": PAPER.with_steps(64).replace(num_resamples=4),
    "Euler 256 steps, S_churn 40": PAPER.replace(s_churn=40.0),
    "Heun 64 steps, no churn": PAPER.with_heun(64).replace(s_churn=0.0),
    "Euler 64 steps, the paper's churn per step": PAPER.with_steps(64),
    "the same with guidance 1": PAPER.with_steps(64).replace(guidance=1.0),
    "the same with guidance 2": PAPER.with_steps(64).replace(guidance=2.0),
    "the same with guidance 4": PAPER.with_steps(64).replace(guidance=4.0),
    "recommended: the paper's with guidance 2": ImputationConfig.recommended(),
}
IMPUTED = ("guitar", "piano")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=G.CHECKPOINT)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seed-base", type=int, default=9001,
                        help="seed base of the songs (9001: generation_quality.py's held-out set; 5003 for development)")
    G.add_guide_arguments(parser)
    args = parser.parse_args(argv)
    model = G.load_guided(args)
    G.SR = model_rate(model)
    length = chunk_length(model)
    reference, baselines, songs = G.song_sets(args.seed_base, length)   # 9001: generation_quality's held-out set
    scales = {stem: G.distance_scale(reference, baselines, stem) for stem in IMPUTED}
    known = torch.stack([s["clip"] for s in songs]).float()
    rows = []
    for name in args.settings:
        cfg = SETTINGS[name]
        t0 = time.perf_counter()
        x = tasks.impute(model, known, ["bass", "drums"], cfg, generator=torch.Generator().manual_seed(0))
        cells = []
        for stem in IMPUTED:
            k = STEMS.index(stem)
            cells += [f"{scales[stem](x[:, k]):.1f}",
                      f"{np.nanmean([G.key_fit(x[i, k], songs[i]['meta']) for i in range(len(songs))]):.2f}",
                      f"{quality.flatness_db(x[:, k]):.1f}", f"{float(x[:, k].pow(2).mean().sqrt()):.3f}"]
        seconds = time.perf_counter() - t0
        rows.append([name, cfg.nfe, f"{seconds:.0f}", *cells])
        print(f"  {name}: {seconds:.0f} s", flush=True)
    print(f"\n{args.checkpoint.name}{G.guide_label(model)}, bass and drums kept, {len(songs)} songs (seed base {args.seed_base}):\n")
    print(markdown_table(["setting", "NFE", "s", *(f"{s} {m}" for s in IMPUTED
                                                   for m in ("distance", "key fit", "flatness dB", "RMS"))],
                         rows, align="lrr" + "r" * 8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
