#!/usr/bin/env python
"""Where do generated stems get their noise floor? Two probes of a model's rests (issue 12).

    .venv/bin/python benchmarks/silence_probe.py [CKPT]                 # the leak inside the rests of songs
    .venv/bin/python benchmarks/silence_probe.py [CKPT] --learn 300     # can the network learn silence?

1. **Rests of songs.** 8 unseen toy songs (``ToySongStream`` seed 515151) are noised at σ and denoised
   once. Where a true stem is digitally silent (|x0| < 1e-6), the RMS of the estimate's error, per
   stem, in dB re σ: 0 dB passes the noise unchanged; a model that can tell a rest from a note scores
   far below 0 at small σ. (``quality.silence_leak`` asks the same of chunks where *every* stem is
   silent, which songs never are.)
2. **``--learn N``.** Fine-tunes a copy of the model for N steps on silent chunks only (x0 = 0, batch
   4 × 8192 samples, ln σ uniform on [ln 0.001, ln 0.03], Adam 1e-3), once in bf16 autocast and once
   in fp32, and prints ``quality.silence_leak`` at σ = 0.001 … 0.03 every 100 steps: whether the
   architecture can represent "pass no noise" at all, and whether bf16 training gets in the way.

One torch thread; results are printed (the numbers quoted in docs/training_recipe.md come from here).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

import torch

from msdm_tutorial import STEMS, checkpoints, quality
from msdm_tutorial.data.stream import ToySongStream
from msdm_tutorial.denoiser import edm_loss

CHECKPOINT = Path(__file__).resolve().parents[1] / "data_small" / "checkpoints" / "msdm-tiny.pt"
SIGMAS = (0.003, 0.01, 0.03)
LEARN_SIGMAS = (0.001, 0.003, 0.01, 0.03)


@torch.no_grad()
def leak_in_rests(denoiser, x0: torch.Tensor, sigma: float) -> list[float]:
    """Per stem: RMS of D(x0 + σn; σ) − x0 where x0 is silent, in dB re σ (NaN when a stem never rests)."""
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    err = denoiser(x0 + sigma * noise, sigma).float() - x0
    rests = x0.abs() < 1e-6
    out = []
    for k in range(x0.shape[1]):
        e = err[:, k][rests[:, k]]
        out.append(20 * math.log10(float(e.pow(2).mean().sqrt()) / sigma) if e.numel() else float("nan"))
    return out


def learn_silence(model, steps: int, autocast: bool) -> None:
    """Fine-tune a copy of ``model`` on silent chunks and print its silence leak every 100 steps."""
    net = copy.deepcopy(model).train()
    net.clamp = False
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    name = "bf16" if autocast else "fp32"

    def leak() -> str:
        net.eval()
        per = quality.silence_leak(net, (4, len(STEMS), 8192), LEARN_SIGMAS, generator=torch.Generator().manual_seed(1))
        net.train()
        return ", ".join(f"σ {s:g}: {sum(v) / len(v):.1f} dB" for s, v in per.items())

    print(f"{name} step 0: {leak()}", flush=True)
    for step in range(1, steps + 1):
        sigma = torch.exp(torch.empty(4).uniform_(math.log(1e-3), math.log(3e-2), generator=g))
        x0 = torch.zeros(4, len(STEMS), 8192)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = edm_loss(net, x0, sigma, torch.randn(x0.shape, generator=g), net.sigma_data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"{name} step {step}: loss {loss.item():.4f}; {leak()}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path, default=CHECKPOINT)
    parser.add_argument("--learn", type=int, default=0, metavar="N", help="also fine-tune on silence for N steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint).eval()
    stems = list(model.stems)
    stream = ToySongStream(32768, stems=stems, seed=515151)
    x0 = torch.stack([stream[i] for i in range(8)])
    print(f"{args.checkpoint.name}: error inside the rests of 8 songs, dB re σ ({', '.join(stems)})")
    for sigma in SIGMAS:
        print(f"  σ {sigma:g}: " + ", ".join(f"{s} {v:.1f}" for s, v in zip(stems, leak_in_rests(model, x0, sigma))))
    if args.learn:
        for autocast in (True, False):
            learn_silence(model, args.learn, autocast)
    return 0


if __name__ == "__main__":
    sys.exit(main())
