#!/usr/bin/env python
"""How low must a generated stem's noise floor be to pass issue 12's distance targets? (no model involved)

    .venv/bin/python benchmarks/floor_budget.py [--write]

Real held-out toy clips (the sets of ``benchmarks/generation_quality.py``: same seed base, same sizes,
same reference and real baseline) with white noise added at a fixed RMS, from −30 to −90 dBFS, and the
Fréchet distance ratio of each stem. A sampler whose denoiser leaks noise at small σ leaves such a
floor under otherwise real music; this table says which floor still passes ratio ≤ 5 (target) and
≤ 2 (moonshot), so a model's floor (``benchmarks/regeneration.py``) can be read against it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402
from generation_quality import N, N_BASELINES, N_REF, SR, clips, real_songs  # noqa: E402

from msdm_tutorial import STEMS, quality  # noqa: E402

LENGTH = 32768
FLOORS_DBFS = (-30, -40, -50, -60, -70, -80, -90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-base", type=int, default=9001, help="seed base of the unseen real songs")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    songs = real_songs(args.seed_base, N_REF + N * (N_BASELINES + 1), 6.0, LENGTH)
    reference, rest = songs[:N_REF], songs[N_REF:]
    baselines = [rest[i * N:(i + 1) * N] for i in range(N_BASELINES)]
    held_out = rest[N_BASELINES * N:]
    g = torch.Generator().manual_seed(1)
    rows = {f"{db} dBFS": [] for db in FLOORS_DBFS}
    rows = {"none (real held-out)": [], **rows}
    for stem in STEMS:
        scale = quality.DistanceScale(clips(reference, stem), [clips(b, stem) for b in baselines], SR)
        real = clips(held_out, stem)
        rows["none (real held-out)"].append(f"{scale(real):.1f}")
        for db in FLOORS_DBFS:
            hiss = quality.white_noise(N, LENGTH, 10 ** (db / 20), g)
            rows[f"{db} dBFS"].append(f"{scale(real + hiss):.1f}")
    lines = ["## Generation quality: the noise-floor budget", "",
             "Measured by `.venv/bin/python benchmarks/floor_budget.py --write`: the real held-out set of "
             f"`Generation quality` ({N} unseen toy clips of {LENGTH} samples, seed base {args.seed_base}; same "
             f"reference of {N_REF} and baseline of {N_BASELINES} disjoint real sets) with white noise of the "
             "given RMS added to every clip. Fréchet distance ratio per stem (target ≤ 5, moonshot ≤ 2).", "",
             markdown_table(["white-noise floor added", *STEMS], ([name, *cells] for name, cells in rows.items()))]
    print_section(lines[0], "\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
