#!/usr/bin/env python
"""Is noise-like generation the sampler's fault or the model's? Distance ratios under four settings.

    .venv/bin/python benchmarks/generation_settings.py [--checkpoint C]

Generates 16 chunks with ``tasks.generate`` under four sampler settings (the paper's Euler 150 steps
with S_churn 20 from σ_max 20, which ``msdm generate`` uses, and deterministic Heun 40 steps from
σ_max 20, 3 and 1) and prints, per stem, the Fréchet distance ratio of
``benchmarks/generation_quality.py`` (same unseen real songs, same set sizes; 1 = as close as real
songs are) and each stem's RMS. One torch thread. If a setting brought every stem near 1, the
model would be fine and the sampler to blame; if all settings stay far above, the model is.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_quality import CHECKPOINT, N, N_BASELINES, N_REF, SR, clips, real_songs  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, quality, tasks  # noqa: E402
from msdm_tutorial.models import chunk_length  # noqa: E402

SETTINGS = {
    "Euler 150, S_churn 20, σ_max 20 (paper; msdm generate)": tasks.GenerationConfig.paper(),
    "Heun 40, no churn, σ_max 20": tasks.GenerationConfig(num_steps=40, sampler="heun", s_churn=0.0),
    "Heun 40, no churn, σ_max 3": tasks.GenerationConfig(num_steps=40, sampler="heun", s_churn=0.0, sigma_max=3.0),
    "Heun 40, no churn, σ_max 1": tasks.GenerationConfig(num_steps=40, sampler="heun", s_churn=0.0, sigma_max=1.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint)
    length = chunk_length(model)
    songs = real_songs(9001, N_REF + N * N_BASELINES, 6.0, length)
    reference = songs[:N_REF]
    baselines = [songs[N_REF + i * N:N_REF + (i + 1) * N] for i in range(N_BASELINES)]
    print(f"{args.checkpoint}: {N} generated chunks of {length} samples per setting; distance ratio per stem "
          "(1 = as real songs), then RMS per stem")
    scales = [quality.DistanceScale(clips(reference, s), [clips(b, s) for b in baselines], SR) for s in STEMS]
    for name, config in SETTINGS.items():
        start = time.perf_counter()
        x = tasks.generate(model, (N, len(STEMS), length), config, generator=torch.Generator().manual_seed(0))
        ratios = [scale(x[:, k]) for k, scale in enumerate(scales)]
        rms = x.pow(2).mean(dim=(0, 2)).sqrt().tolist()
        print(f"| {name} | " + " | ".join(f"{r:.1f}" for r in ratios) + " | "
              + " / ".join(f"{v:.3f}" for v in rms) + f" | {time.perf_counter() - start:.0f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
