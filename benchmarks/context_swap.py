#!/usr/bin/env python
"""Is it the other stems that silence the generated piano? Swap the context halfway down (issue 12).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/context_swap.py [--checkpoint C] [--swap-sigmas 3 1 0.3]
        [--stem piano] [--seed-base 5003] [--generation-seed 0]

Total generation (``msdm generate``'s setting: the paper's Euler 150 with S_churn 20 from σ 20, bf16
where native, no margin) runs 16 chunks down to a grid level σ_s ≈ each ``--swap-sigmas`` value and
stops there: the state x_gen(σ_s). 16 unseen real songs (``generation_quality.real_songs``, disjoint
from the reference and the real sets), noised to the same level, give x_real + σ_s·n. Four states are
put together from these two, taking the studied stem (default: the piano) from one and the other stems
(its *context*) from the other:

    own stem   context     what it asks
    generated  generated   generation itself, continued
    generated  real        can a real context lift the generated stem?
    real       generated   does a generated context silence a real stem?
    real       real        regeneration of real songs from σ_s

For each state the script prints the studied stem's median per-chunk RMS of the estimate D(x; σ_s)
(what the model believes right there) and then runs the rest of the same σ grid, with the same churn
per step, to σ = 0, and prints the final stem's median per-chunk RMS and every stem's Fréchet distance
ratio (``generation_quality.py``'s scale: 16 clips against 32 real ones over the mean of 4 disjoint
real sets; 1 = as real songs). If the stem's level follows its context, the other stems silence it;
if it follows its own channel, the stem is decided by σ_s on its own.

One torch thread; results are printed (the numbers quoted in docs/training_recipe.md come from here).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_quality import CHECKPOINT, N, clips, distance_scale, song_sets  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, samplers, tasks  # noqa: E402
from msdm_tutorial.models import chunk_length  # noqa: E402
from msdm_tutorial.precision import with_precision  # noqa: E402

CONFIG = tasks.GenerationConfig.paper()


def median_rms(x: torch.Tensor) -> float:
    """Median over chunks of each chunk's RMS; ``x`` is (N, T)."""
    return float(x.float().pow(2).mean(-1).sqrt().median())


@torch.no_grad()
def generate_to(denoiser, shape, sigmas: torch.Tensor, indices, generator: torch.Generator) -> dict:
    """Run the generation sampler once from σ_0 and return its state at each ``sigmas[index]``, by index."""
    x = samplers.initial_noise(shape, sigmas, generator=generator)
    states, last = {}, max(indices)
    for step in samplers.euler_steps(samplers.score_derivative(denoiser), x, sigmas, generator=generator,
                                     **CONFIG.sampler_kwargs()):
        if step.i + 1 in indices:
            states[step.i + 1] = step.x
        if step.i + 1 == last:
            return states
    raise ValueError(f"index {last} is past the grid")


@torch.no_grad()
def finish(denoiser, x: torch.Tensor, sigmas: torch.Tensor, index: int, generator: torch.Generator,
           churn: bool = True) -> torch.Tensor:
    """Run the rest of the grid, ``sigmas[index:]``, with the full grid's churn per step γ = S_churn / N
    (or none: the probability-flow ODE)."""
    tail = sigmas[index:]
    s_churn = CONFIG.with_steps(len(tail) - 1).s_churn if churn else 0.0        # the same γ per step
    return samplers.euler(samplers.score_derivative(denoiser), x, tail, s_churn=s_churn, generator=generator)


@torch.no_grad()
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--swap-sigmas", type=float, nargs="+", default=[3.0, 1.0, 0.3], metavar="σ")
    parser.add_argument("--stem", default="piano", choices=STEMS, help="the stem whose context is swapped")
    parser.add_argument("--seed-base", type=int, default=5003,
                        help="seed base of the real songs (5003: development; 9001: generation_quality.py's)")
    parser.add_argument("--generation-seed", type=int, default=0)
    parser.add_argument("--no-tail-churn", action="store_true",
                        help="finish every state without churn (the ODE below σ_s): does the churn erode the stem?")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint).eval()
    denoiser = with_precision(model, "auto")
    length = chunk_length(model)
    reference, baselines, swap = song_sets(args.seed_base, length)
    scales = [distance_scale(reference, baselines, s) for s in STEMS]
    x_real = torch.stack([s["clip"] for s in swap]).float()                       # (N, K, T)
    k = STEMS.index(args.stem)
    own = torch.zeros(1, len(STEMS), 1)
    own[0, k] = 1.0
    sigmas = CONFIG.sigmas()
    print(f"{args.checkpoint}: {N} chunks of {length} samples; studied stem {args.stem}; real songs from seed base "
          f"{args.seed_base}; generation seed {args.generation_seed}; {CONFIG.sampler} {CONFIG.num_steps} steps, "
          f"S_churn {CONFIG.s_churn:g}, σ {CONFIG.sigma_max:g} → {CONFIG.sigma_min:g}"
          + ("; no churn below σ_s" if args.no_tail_churn else ""))
    print(f"real {args.stem}: median chunk RMS {median_rms(x_real[:, k]):.3f}")
    print(f"| σ_s | own {args.stem} | context | D's {args.stem} at σ_s, median chunk RMS | final {args.stem} median "
          "chunk RMS | distance ratio: " + " | ".join(STEMS) + " | seconds |")
    indices = [int(torch.argmin((sigmas[:-1].log() - torch.log(torch.tensor(t))).abs())) for t in args.swap_sigmas]
    generated = generate_to(denoiser, (N, len(STEMS), length), sigmas, set(indices),
                            torch.Generator().manual_seed(args.generation_seed))
    for index in indices:
        sigma = float(sigmas[index])
        x_gen = generated[index]
        noised = x_real + sigma * torch.randn(x_real.shape, generator=torch.Generator().manual_seed(1))
        for own_name, context_name in (("generated", "generated"), ("generated", "real"),
                                       ("real", "generated"), ("real", "real")):
            start = time.perf_counter()
            own_x = x_gen if own_name == "generated" else noised
            context_x = x_gen if context_name == "generated" else noised
            x = own * own_x + (1 - own) * context_x
            estimate = median_rms(denoiser(x, sigma)[:, k])
            out = finish(denoiser, x, sigmas, index, torch.Generator().manual_seed(args.generation_seed + 100),
                         churn=not args.no_tail_churn)
            ratios = [scale(out[:, j]) for j, scale in enumerate(scales)]
            print(f"| {sigma:.3g} | {own_name} | {context_name} | {estimate:.3f} | {median_rms(out[:, k]):.3f} | "
                  + " | ".join(f"{r:.1f}" for r in ratios) + f" | {time.perf_counter() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
