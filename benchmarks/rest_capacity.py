#!/usr/bin/env python
"""Can an architecture learn to keep rests silent beside notes? From-scratch training at small σ only.

    .venv/bin/python benchmarks/rest_capacity.py                      # tiny, wide-fine, tiny-localnorm, 600 steps
    .venv/bin/python benchmarks/rest_capacity.py --models tiny --steps 1000

The generated stems' noise floor (issue 12; ``benchmarks/regeneration.py``) is made at σ ≲ 0.04: the
denoiser lets noise through where a stem rests. At small σ the right output there is  F = −n  (the
noise, at full per-sample detail) and elsewhere nearly the input's own detail. So the network must
carry every sample's noise to its output *and* gate it by context (rest or note). In ``tiny`` every
patch frame packs 4 stems × 8 samples = 32 values into 32 channels, and its first level (T/32) packs
128 values into 64 channels: only the ungated patch-level skip is wide enough for per-sample detail.

Each candidate U-Net trains from scratch, only at small noise, ln σ uniform on [ln 0.001, ln 0.1], on
fresh stream songs (2 × 32768 samples per step, Adam 1e-3, bf16 autocast, one thread, seed 0), and
every 200 steps prints the error inside the rests and on the notes of 8 unseen songs at σ = 0.003,
0.01, 0.03 (``silence_probe.error_in_rests_and_notes``; dB re σ, 0 dB passes the noise unchanged),
and its seconds per step, so that candidates compare at equal steps and at equal CPU time.

* ``tiny``: the shipped architecture.
* ``wide-fine``: the ``tiny-wide`` preset: 64 channels at the patch level (2 per packed value) and a
  first level at T/16 (``channels=64, multipliers=(1, 1, 2, 2, 2), factors=(2, 4, 4, 4)``); the coarse
  levels as tiny's.
* ``tiny-localnorm``: tiny with GroupNorm statistics over 2048 samples (``unet.PRESETS``).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from msdm_tutorial import STEMS, unet
from msdm_tutorial.data.stream import ToySongStream
from msdm_tutorial.denoiser import EDMDenoiser

from silence_probe import SIGMAS, error_in_rests_and_notes, train_at_small_sigma  # noqa: E402  (benchmarks/ is on sys.path)

TINY = unet.PRESETS["tiny"]
CANDIDATES = {
    "tiny": TINY,
    "wide-fine": unet.PRESETS["tiny-wide"],
    "tiny-localnorm": unet.PRESETS["tiny-localnorm"],
}


def train_from_scratch(name: str, steps: int, probe: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = EDMDenoiser(unet.build(CANDIDATES[name]), sigma_data=0.2, clamp=False)
    print(f"{name}: {unet.num_parameters(net.net) / 1e6:.2f} M parameters", flush=True)
    stream = ToySongStream(32768, stems=list(STEMS), seed=616161)
    start = time.perf_counter()

    def report(step: int, loss: float) -> None:
        per_step = (time.perf_counter() - start) / step
        net.eval()
        cells = [f"σ {s:g}: rests {r:.1f}, notes {n:.1f}" for s in SIGMAS for r, n in [error_in_rests_and_notes(net, probe, s)]]
        net.train()
        print(f"  {name} step {step} ({per_step:.2f} s/step): " + "; ".join(cells) + " dB re σ", flush=True)

    train_at_small_sigma(net, lambda step: torch.stack([stream[2 * step], stream[2 * step + 1]]), steps, report,
                         sigma_max=1e-1, every=200)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(CANDIDATES), help=f"comma-separated: {', '.join(CANDIDATES)}")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    probe = torch.stack([ToySongStream(32768, stems=list(STEMS), seed=515151)[i] for i in range(8)])
    for name in args.models.split(","):
        train_from_scratch(name.strip(), args.steps, probe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
