"""Autoguidance: guide a model with a weaker version of itself (Karras et al. 2024, arXiv 2406.02507).

A denoiser errs in two ways: it misses detail it has not learnt, and it spreads its probability over
regions between real data. A *weaker* version of the same model (trained shorter, or smaller) makes
the same kinds of error, more of them. Extrapolating from the weak estimate through the main one,

    D_w(x; σ) = D_0(x; σ) + w·(D_1(x; σ) − D_0(x; σ)),   w ≥ 1,

moves each step further in the direction the extra training took the model: towards the data, away
from the blur both models share. w = 1 is the main model D_1 itself; the score of D_w is
s_0 + w·(s_1 − s_0), so every task of :mod:`msdm_tutorial.tasks` takes D_w unchanged (the sampler
loops only ever see a denoiser). Classifier-free guidance has the same form with an unconditional
model as D_0; with a *different kind* of model as D_0 (ISDM's independent stems) the difference also
carries what the two models disagree on, and generation gets worse (docs/training_recipe.md, section 4,
"Autoguidance").

``sigma_max`` applies the guidance only where σ ≤ sigma_max and uses D_1 alone above (guidance in a
limited interval, Kynkäänniemi et al. 2024), which also skips D_0's cost there. The shipped tiny model
is guided where σ ≤ 3: for the model before its fine-tune, guiding above σ ≈ 1.5 made the generated bass
too loud; the fine-tuned one generates the bass too quietly and gains from σ ≤ 3 (docs/training_recipe.md,
section 4, "Autoguidance" and "The fine-tune that ships").
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .denoiser import as_batch_sigma

Denoiser = Callable[[Tensor, float], Tensor]


def describe(weight: float, sigma_max: float | None = None, guide_name: str | None = None) -> str:
    """``autoguided by NAME at w W where σ ≤ S``: one wording for every report of a guided run."""
    by = f" by {guide_name}" if guide_name else ""
    where = f" where σ ≤ {sigma_max:g}" if sigma_max is not None else ""
    return f"autoguided{by} at w {weight:g}{where}"


class AutoguidedDenoiser(nn.Module):
    """``D_w = D_0 + w·(D_1 − D_0)`` for the main denoiser D_1 (``main``) and its weaker version D_0 (``guide``).

    Both must take the same stems at the same sample rate. ``stems``, ``sample_rate`` and ``net`` are
    the main model's (the U-Net's valid lengths and chunk length follow it); ``weight`` ≥ 1; ``sigma_max``:
    guide only where σ ≤ sigma_max (None: at every σ).
    """

    def __init__(self, main: Denoiser, guide: Denoiser, weight: float, sigma_max: float | None = None):
        super().__init__()
        if not weight >= 1.0:
            raise ValueError(f"autoguidance weight must be ≥ 1 (1: the main model alone), got {weight}")
        for name in ("stems", "sample_rate"):
            a, b = getattr(main, name, None), getattr(guide, name, None)
            if a is not None and b is not None and a != b:
                raise ValueError(f"the guide model's {name} ({b}) differ from the main model's ({a})")
        if sigma_max is not None and not sigma_max > 0:
            raise ValueError(f"autoguidance sigma_max must be > 0 (None: guide at every σ), got {sigma_max}")
        self.main, self.guide, self.weight = main, guide, float(weight)
        self.sigma_max = None if sigma_max is None else float(sigma_max)
        self.stems = getattr(main, "stems", None)
        self.sample_rate = getattr(main, "sample_rate", None)
        self.net = getattr(main, "net", None)

    def guided(self, sigma: Tensor) -> Tensor:
        """Which items' σ (any shape) lie where the guidance applies."""
        if self.sigma_max is None:
            return torch.ones_like(sigma, dtype=torch.bool)
        return sigma <= self.sigma_max

    def forward(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        d1 = self.main(x, sigma)
        on = self.guided(as_batch_sigma(sigma, x))
        if self.weight == 1.0 or not bool(on.any()):
            return d1
        d0 = self.guide(x, sigma)
        return d1 + (self.weight - 1.0) * on.to(d1.dtype) * (d1 - d0)
