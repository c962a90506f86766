"""Input checks shared by the library: each raises a ValueError that says what is wrong."""

from __future__ import annotations

import torch
from torch import Tensor


def check_finite(x: Tensor, name: str = "x") -> None:
    """Raise ValueError when ``x`` holds NaN or Inf."""
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name} contains {bad} NaN/Inf value(s); check the input or lower the step size")


def check_sigmas(sigmas: Tensor) -> None:
    """A sampling grid must be 1-D, finite, strictly decreasing, positive except a trailing 0."""
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError(f"sigma grid must be 1-D with at least 2 entries, got shape {tuple(sigmas.shape)}")
    check_finite(sigmas, "sigma grid")
    if not (sigmas[:-1] > sigmas[1:]).all():
        raise ValueError(f"sigma grid must strictly decrease, got {sigmas.tolist()[:6]}...")
    if not (sigmas[:-1] > 0).all() or sigmas[-1] < 0:
        raise ValueError("sigma grid must be positive (only the last entry may be 0)")


def check_positive_sigma(sigma: Tensor | float, name: str = "sigma") -> None:
    """σ must be > 0 wherever the denoiser or the score is evaluated."""
    s = torch.as_tensor(sigma)
    if not torch.isfinite(s).all() or (s <= 0).any():
        raise ValueError(f"{name} must be finite and > 0, got {s.flatten()[:4].tolist()}")


def check_same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
