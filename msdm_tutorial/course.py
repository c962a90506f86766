"""Helpers every notebook of the course uses: the common start, device choice, quick mode, seeding.

Every notebook's set-up cell ends with ``device, gen = course.start()`` (:func:`start`): on Colab it
finishes installing the course (:func:`colab_install`), then it picks the device, applies the plotting
style and seeds everything.

``MSDM_QUICK=1`` (set by the test command) asks notebooks to shrink their work; they still run
top to bottom. Use ``course.size(full, quick)`` for any knob that sets how much work a cell does.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from importlib.metadata import version

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


def colab_install() -> None:
    """On Colab, after the set-up cell cloned the course: install the clone editable (its dependencies,
    with torch pinned to the installed version, as pip sees it, so that pip never reinstalls Colab's
    torch), work in its notebooks/ folder, and switch on Colab's widget manager."""
    root = repo_root()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(root),
                    f"torch=={version('torch')}"], check=True)
    os.chdir(root / "notebooks")
    from google.colab import output

    output.enable_custom_widget_manager()


def start(seed: int = 0) -> tuple[torch.device, torch.Generator]:
    """The common start of a notebook (its set-up cell): on Colab :func:`colab_install`; then the device
    (:func:`pick_device`, printed), the course's plotting style, and everything seeded with ``seed``.
    Returns the device and a torch.Generator seeded with ``seed``."""
    if "google.colab" in sys.modules:
        colab_install()
    from . import plotting

    device = pick_device()
    plotting.use_style()
    return device, seed_everything(seed)


def checkpoint(name: str):
    """Path to a shipped checkpoint: ``data_small/checkpoints/NAME.pt``."""
    return data_small() / "checkpoints" / f"{name}.pt"


def tiny_model(device="cpu", name: str = "msdm-tiny"):
    """A shipped model (:func:`checkpoint`) on ``device``, with its sample rate and its chunk length (the
    length it was trained on, :func:`msdm_tutorial.models.chunk_length`: 32768 samples ≈ 1.5 s for
    the tiny models), and a line saying so. Returns ``(denoiser, sample_rate, chunk_length)``."""
    from .checkpoints import load
    from .models import chunk_length

    denoiser = load(checkpoint(name), device)
    rate, chunk = denoiser.sample_rate, chunk_length(denoiser)
    print(f"{name}: stems {denoiser.stems}, {rate} Hz, chunks of {chunk} samples ({chunk / rate:.2f} s)")
    return denoiser, rate, chunk
