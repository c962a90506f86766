"""ISDM: K independent single-stem models used as one K-stem denoiser.

The paper's ISDM baseline trains one model per stem, p(x) = Π_k p_k(x_k). Its denoiser is the K
single-stem denoisers side by side, so every separation derivative of :mod:`msdm_tutorial.tasks`
applies unchanged.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from .task_inputs import check_stems_shape

Denoiser = Callable[[Tensor, float], Tensor]


class ISDMDenoiser(nn.Module):
    """K single-stem denoisers ``D_k(x_k, σ)`` on (B, 1, T) as one K-channel denoiser.

        D(x, σ) = [D_1(x_1, σ), …, D_K(x_K, σ)]

    This is the score of the product prior Π_k p_k(x_k) (independent stems), so the separation
    derivatives above apply unchanged ("ISDM" in the paper). ``denoisers`` is a sequence, or a
    mapping stem name → denoiser (which also sets ``stems``).
    """

    def __init__(self, denoisers: Sequence[Denoiser] | Mapping[str, Denoiser], stems: Sequence[str] | None = None):
        super().__init__()
        if isinstance(denoisers, Mapping):
            if stems is not None and tuple(stems) != tuple(denoisers):
                raise ValueError(f"stems {tuple(stems)} differ from the mapping's keys {tuple(denoisers)}")
            stems, denoisers = tuple(denoisers), list(denoisers.values())
        denoisers = list(denoisers)
        if not denoisers:
            raise ValueError("ISDM needs at least one single-stem denoiser")
        if stems is None:
            own = [getattr(d, "stems", None) for d in denoisers]
            if all(o is not None and len(o) == 1 for o in own):
                stems = tuple(o[0] for o in own)
        if stems is not None and len(stems) != len(denoisers):
            raise ValueError(f"{len(stems)} stem names for {len(denoisers)} denoisers")
        self.stems = tuple(stems) if stems is not None else None
        rates = {getattr(d, "sample_rate", None) for d in denoisers} - {None}
        if len(rates) > 1:
            raise ValueError(f"the single-stem models have different sample rates {sorted(rates)}")
        self.sample_rate = rates.pop() if rates else None
        if all(isinstance(d, nn.Module) for d in denoisers):
            self.denoisers = nn.ModuleList(denoisers)
        else:
            self._plain = denoisers
            self.denoisers = None

    def _list(self):
        return list(self.denoisers) if self.denoisers is not None else self._plain

    def forward(self, x: Tensor, sigma) -> Tensor:
        ds = self._list()
        check_stems_shape(x, len(ds), "ISDM input")
        return torch.cat([d(x[:, k:k + 1], sigma) for k, d in enumerate(ds)], dim=1)
