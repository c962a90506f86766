"""Helpers every notebook of the course uses: device choice, quick mode, seeding.

``MSDM_QUICK=1`` (set by the test command) asks notebooks to shrink their work; they still run
top to bottom. Use ``course.size(full, quick)`` for any knob that sets how much work a cell does.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

QUICK = os.environ.get("MSDM_QUICK", "0") not in ("", "0", "false", "False")


def size(full, quick):
    """``quick`` under ``MSDM_QUICK=1`` (tests), ``full`` otherwise."""
    return quick if QUICK else full


def pick_device(verbose: bool = True) -> torch.device:
    """``cuda`` when a GPU is visible, else ``cpu`` (:func:`msdm_tutorial.models.pick_device`), and say which."""
    from .models import pick_device as auto_device

    device = auto_device()
    if verbose:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
        print(f"torch {torch.__version__} | device: {device} — {name}" + (" | quick mode" if QUICK else ""))
    return device


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def repo_root():
    """The checkout this package was installed from (editable install), where data_small/ lives."""
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


def data_small():
    """Path to the shipped small data (toy songs, tiny checkpoints)."""
    return repo_root() / "data_small"
