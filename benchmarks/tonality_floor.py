#!/usr/bin/env python
"""How tonal can a model's output be? The spectral flatness of its estimate of *real* songs at small σ.

    .venv/bin/python benchmarks/tonality_floor.py                      # the shipped msdm-tiny.pt
    .venv/bin/python benchmarks/tonality_floor.py CKPT … --precision fp32 bf16

Generation ends with the denoiser's estimate at the smallest noise levels, so whatever broadband error
that estimate leaves sets a floor under the flatness of every generated stem (issue 12's tonality
measure, ``quality.flatness_db``). This script measures the floor without any sampler: 16 unseen toy
songs (seeds 90000–90015, the first 32768 samples), noised to σ, denoised once, D(x0 + σn; σ). Per σ
and pitched stem: the flatness of the noisy input and of the estimate (dB), and the estimate's RMS
error over σ (1 = the noise passes untouched; 0 = a perfect denoiser). Real stems are far below both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, quality  # noqa: E402
from msdm_tutorial.data.toy import synthesize_song  # noqa: E402
from msdm_tutorial.models import chunk_length, model_rate  # noqa: E402
from msdm_tutorial.precision import with_precision  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "data_small" / "checkpoints" / "msdm-tiny.pt"
SIGMAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
PITCHED = ("bass", "guitar", "piano")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", type=Path, default=[CHECKPOINT])
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for path in args.checkpoints:
        model = checkpoints.load(path).eval()
        sr, length = model_rate(model), chunk_length(model)
        x0 = torch.stack([synthesize_song(90000 + i, 2 * length / sr + 0.1, sr)[0][:, :length] for i in range(16)])
        idx = [STEMS.index(s) for s in PITCHED]
        real = [f"{quality.flatness_db(x0[:, k]):.1f}" for k in idx]
        for precision in args.precision:
            denoise = with_precision(model, precision)
            g = torch.Generator().manual_seed(1)
            rows = [["real stems", *real, *real, "—"]]
            for sigma in SIGMAS:
                noisy = x0 + sigma * torch.randn(x0.shape, generator=g)
                with torch.no_grad():
                    est = denoise(noisy, sigma)
                rows.append([f"{sigma:g}", *(f"{quality.flatness_db(noisy[:, k]):.1f}" for k in idx),
                             *(f"{quality.flatness_db(est[:, k]):.1f}" for k in idx),
                             f"{float((est - x0).pow(2).mean().sqrt()) / sigma:.2f}"])
            print(f"\n{path} ({precision}): flatness in dB of the pitched stems, 16 unseen songs\n")
            print(markdown_table(["σ", *(f"noisy {s}" for s in PITCHED), *(f"estimate {s}" for s in PITCHED),
                                  "RMS error / σ"], rows, align="l" + "r" * 7))
    return 0


if __name__ == "__main__":
    sys.exit(main())
