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
"""

from __future__ import annotations

import argparse
import math
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
    parser.add_argument("--sigma-min", type=float, nargs="+", default=[], metavar="S",
                        help="also the paper's setting and Heun 40 (σ_max 20) ending at each σ_min S")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint)
    length = chunk_length(model)
    songs = real_songs(9001, N_REF + N * N_BASELINES, 6.0, length)
    reference = songs[:N_REF]
    baselines = [songs[N_REF + i * N:N_REF + (i + 1) * N] for i in range(N_BASELINES)]
    print(f"{args.checkpoint}: {N} generated chunks of {length} samples per setting; distance ratio per stem "
          "(1 = as real songs), then RMS per stem, then noise floor per stem (dBFS)")
    scales = [quality.DistanceScale(clips(reference, s), [clips(b, s) for b in baselines], SR) for s in STEMS]
    settings = dict(SETTINGS)
    paper, heun = SETTINGS[next(iter(SETTINGS))], SETTINGS["Heun 40, no churn, σ_max 20"]
    for s_min in args.sigma_min:
        settings[f"Euler 150, S_churn 20, σ_max 20, σ_min {s_min:g}"] = paper.replace(sigma_min=s_min)
        settings[f"Heun 40, no churn, σ_max 20, σ_min {s_min:g}"] = heun.replace(sigma_min=s_min)
    for name, config in settings.items():
        start = time.perf_counter()
        x = tasks.generate(model, (N, len(STEMS), length), config, generator=torch.Generator().manual_seed(0))
        ratios = [scale(x[:, k]) for k, scale in enumerate(scales)]
        rms = x.pow(2).mean(dim=(0, 2)).sqrt().tolist()
        frames = x.unfold(-1, 1024, 1024).pow(2).mean(-1).sqrt()                  # (N, K, frames)
        floor = [20 * math.log10(max(float(frames[:, k].flatten().quantile(0.1)), 1e-10)) for k in range(len(STEMS))]
        print(f"| {name} | " + " | ".join(f"{r:.1f}" for r in ratios) + " | "
              + " / ".join(f"{v:.3f}" for v in rms) + " | " + " / ".join(f"{f:.0f}" for f in floor)
              + f" | {time.perf_counter() - start:.0f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
