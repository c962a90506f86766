"""EDM preconditioning (Karras et al. 2022, Table 1) around any network F, and its training loss.

    D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ))

    c_skip = σ_d² / (σ² + σ_d²)      c_out = σ·σ_d / √(σ² + σ_d²)
    c_in   = 1 / √(σ² + σ_d²)        c_noise = ¼ ln σ

The loss is  E_{σ, x0, n} λ(σ) ‖D(x0 + σn; σ) − x0‖²  with  λ(σ) = (σ² + σ_d²) / (σ·σ_d)²,
which makes the effective target of F unit-variance at every σ. MSDM uses σ_d = 0.2 and clamps
D to [−1, 1] (audio-diffusion-pytorch's ``dynamic_threshold=0``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._checks import check_finite, check_positive_sigma
from .schedules import LogNormalSigma


def c_skip(sigma: Tensor, sigma_data: float) -> Tensor:
    return sigma_data ** 2 / (sigma ** 2 + sigma_data ** 2)


def c_out(sigma: Tensor, sigma_data: float) -> Tensor:
    return sigma * sigma_data / (sigma ** 2 + sigma_data ** 2).sqrt()


def c_in(sigma: Tensor, sigma_data: float) -> Tensor:
    return 1.0 / (sigma ** 2 + sigma_data ** 2).sqrt()


def c_noise(sigma: Tensor) -> Tensor:
    return 0.25 * sigma.log()


def loss_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """λ(σ) = (σ² + σ_d²) / (σ·σ_d)²."""
    return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


def as_batch_sigma(sigma: Tensor | float, x: Tensor) -> Tensor:
    """Broadcast a scalar or (B,) σ to shape (B, 1, …, 1) matching x, after checking σ > 0."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    check_positive_sigma(sigma)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma must be a float or a ({x.shape[0]},) tensor for x of shape {tuple(x.shape)}, "
                         f"got shape {tuple(sigma.shape)}")
    return sigma.view(-1, *([1] * (x.ndim - 1)))


class EDMDenoiser(nn.Module):
    """Wrap a network ``net(x_in, c_noise) -> F`` into the denoiser ``D(x, σ) -> x̂0``.

    ``clamp=True`` clips D to [−1, 1] as the paper's code does (audio lives in [−1, 1]).
    ``stems`` and ``sample_rate`` describe what the channels mean (used by checkpoints and tasks).
    """

    def __init__(self, net: nn.Module, sigma_data: float = 0.2, clamp: bool = True,
                 stems: tuple[str, ...] | None = None, sample_rate: int | None = None):
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)
        self.clamp = clamp
        self.stems = tuple(stems) if stems is not None else None
        self.sample_rate = sample_rate

    def forward(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        check_finite(x)
        s = as_batch_sigma(sigma, x)
        sd = self.sigma_data
        f = self.net(c_in(s, sd) * x, c_noise(s).flatten())
        d = c_skip(s, sd) * x + c_out(s, sd) * f.to(x.dtype)
        return d.clamp(-1.0, 1.0) if self.clamp else d

    def loss(self, x0: Tensor, sigma: Tensor | None = None, noise: Tensor | None = None,
             sigma_distribution: LogNormalSigma = LogNormalSigma(), generator: torch.Generator | None = None) -> Tensor:
        """:func:`edm_loss` of this denoiser (without the clamp); σ and n are drawn when not given."""
        check_finite(x0, "x0")
        if sigma is None:
            sigma = sigma_distribution.sample(x0.shape[0], generator=generator, device=x0.device)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        clamp, self.clamp = self.clamp, False
        try:
            return edm_loss(self, x0, sigma, noise, self.sigma_data)
        finally:
            self.clamp = clamp


def valid_stem_weights(weights, num_stems: int) -> bool:
    """True when ``weights`` holds ``num_stems`` finite positive numbers (``edm_loss``'s stem_weights)."""
    return len(weights) == num_stems and all(math.isfinite(w) and w > 0 for w in weights)


def edm_loss(denoise, x0: Tensor, sigma: Tensor, noise: Tensor, sigma_data: float,
             stem_weights: tuple[float, ...] | None = None) -> Tensor:
    """Batch mean of  λ(σ) · mean‖D(x0 + σn; σ) − x0‖²  (the mean runs over an item's elements).

    ``stem_weights`` (one per stem, i.e. per channel of x0) weigh each stem's squared error,
    Σ_k w_k ‖D_k − x0_k‖² / Σ_k w_k: the weights are normalised to mean 1, so equal weights (or
    None) give the plain loss. The minimiser is still E[x0 | x] for any positive weights; they only
    move the network's finite capacity (and the gradient) between stems.

    ``denoise`` is any callable D(x, σ) — an :class:`EDMDenoiser`, or one wrapped in
    DistributedDataParallel during training — and should not clamp.
    """
    s = as_batch_sigma(sigma, x0)
    d = denoise(x0 + s * noise, s.flatten())
    squared_error = (d.float() - x0) ** 2
    if stem_weights is not None:
        if not valid_stem_weights(stem_weights, x0.shape[1]):     # checked on the host: no device sync
            raise ValueError(f"stem_weights: need {x0.shape[1]} positive weights (one per stem), got {tuple(stem_weights)}")
        mean = sum(stem_weights) / len(stem_weights)
        w = torch.tensor([v / mean for v in stem_weights], dtype=squared_error.dtype, device=squared_error.device)
        squared_error = squared_error * w.view(1, -1, *([1] * (x0.dim() - 2)))
    per_item = squared_error.flatten(1).mean(1)
    return (loss_weight(s.flatten(), sigma_data) * per_item).mean()
