"""Separating one mixture of any length: :func:`msdm_tutorial.tasks.separate_long` with a progress bar.

``msdm separate``, ``msdm evaluate`` and the benchmarks run the same call: a mono (T,) mixture y is
cut into chunks (``chunking``, ``overlap``), separated ``batch`` chunks at a time with the random
stream of ``seed``, and returned as (K, T) stems on the CPU; with the Dirac likelihood Σ_k x_k = y.
"""

from __future__ import annotations

from torch import Tensor

from .models import seeded_generator, synchronize
from .progress import StepProgress
from .task_inputs import SILENT_PEAK, silent_items
from . import tasks
from .tasks import chunk_runs, default_overlap


def check_not_silent(y: Tensor, name) -> None:
    """A ValueError naming ``name`` when the mixture is silent (``task_inputs.silent_items``: peak < SILENT_PEAK)."""
    if silent_items(y):
        peak = float(y.abs().max())
        raise ValueError(f"{name}: the mixture is silent (peak {peak:.3g} below {SILENT_PEAK:g}); "
                         f"there is nothing to separate")


def separate_mixture(model, y: Tensor, cfg, chunk: int, batch: int, seed: int, device, quiet: bool = True,
                     desc: str = "separate", chunking: str = "seamless", overlap: int | None = None,
                     precision: str = "auto") -> Tensor:
    """(T,) mixture → (K, T) stems with :func:`~msdm_tutorial.tasks.separate_long` and a progress bar."""
    overlap = default_overlap(chunk) if overlap is None else overlap
    runs = chunk_runs(y.shape[-1], chunk, overlap, chunking, 1, batch)
    with StepProgress(runs * cfg.num_steps, desc, quiet) as bar:
        x = tasks.separate_long(model, y.to(device)[None, None], cfg, chunk_length=chunk, batch_size=batch,
                          generator=seeded_generator(device, seed), callback=bar, chunking=chunking,
                          overlap=overlap, precision=precision)
    synchronize(device)
    return x[0].float().cpu()


__all__ = ["check_not_silent", "separate_mixture"]
