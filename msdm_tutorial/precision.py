"""Precision of the network inside a sampler: bfloat16 autocast or float32.

``"bf16"`` runs the denoiser's matrix products and convolutions under bfloat16 autocast while the
sampler's state stays float32 (D's output is cast back to the dtype of x); ``"fp32"`` runs it in
float32; ``"auto"`` picks bf16 on CUDA and on CPUs with native bf16 instructions
(:func:`resolve_precision`) for denoisers with learned weights, and leaves closed-form denoisers in
fp32 (:func:`with_precision`). Every task of :mod:`msdm_tutorial.tasks` takes ``precision``.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import Tensor, nn

Denoiser = Callable[[Tensor, float], Tensor]

PRECISIONS = ("auto", "bf16", "fp32")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (x86 AVX512-BF16 or AMX-BF16; Arm BF16).

    Read from the kernel's CPU flags (``/proc/cpuinfo``, Linux); elsewhere, False. Without these
    instructions oneDNN emulates bf16, which is slower than float32.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = {w for line in f if line.lower().startswith(("flags", "features")) for w in line.split()}
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve_precision(precision: str = "auto", device=None) -> str:
    """``"bf16"`` or ``"fp32"``: ``"auto"`` is bf16 on CUDA (when the GPU supports it) and on CPUs
    with native bf16 (:func:`cpu_has_native_bf16`), fp32 elsewhere (e.g. Apple MPS)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if kind == "cpu" and cpu_has_native_bf16() else "fp32"


def _has_weights(denoiser) -> bool:
    return isinstance(denoiser, nn.Module) and any(True for _ in denoiser.parameters())


def with_precision(denoiser: Denoiser, precision: str = "auto", device=None) -> Denoiser:
    """``D`` run under bfloat16 autocast (``precision`` bf16, or auto where native), else ``D`` itself.

    Only the network's matrix products and convolutions run in bf16; D's output is cast back to
    the dtype of x, so the sampler integrates in float32. ``"auto"`` leaves denoisers without
    learned weights (closed-form ones, plain functions) in fp32: they would only lose accuracy.
    """
    if precision == "auto" and not _has_weights(denoiser):
        return denoiser
    if resolve_precision(precision, device) == "fp32":
        return denoiser

    def bf16_denoiser(x: Tensor, sigma) -> Tensor:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            return denoiser(x, sigma).to(x.dtype)

    return bf16_denoiser
