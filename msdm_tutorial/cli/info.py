"""``msdm info``: versions, device and where the course lives — the first thing to paste in a bug report."""

from __future__ import annotations

import os
import platform

from .common import write_json


def collect() -> dict:
    """Versions, the compute device, the CPU count, the stem order and the sample rate."""
    import torch

    from .. import SAMPLE_RATE, STEMS, __version__
    from ..models import pick_device

    return {
        "msdm_tutorial": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "device": str(pick_device()),
        "cpu_count": os.cpu_count(),
        "stems": list(STEMS),
        "sample_rate": SAMPLE_RATE,
    }


def run_info(args) -> int:
    info = collect()
    for key, value in info.items():
        print(f"{key:>16}: {value}")
    write_json(args.json, info)
    return 0


def register(sub) -> None:
    p = sub.add_parser("info", help="print versions and the compute device",
                       description="Print library versions, the compute device and the stem order.")
    p.add_argument("--json", metavar="FILE", help="also write the information as JSON")
    p.set_defaults(func=run_info)
