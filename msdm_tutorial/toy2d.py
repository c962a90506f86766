"""A 2-D toy world where everything is exact: Gaussian-mixture and spiral data, the closed-form
denoiser of a Gaussian mixture, and a small MLP denoiser trained by denoising score matching.

For p(x) = Σ_k w_k N(μ_k, s_k² I) the noisy density p_σ = p * N(0, σ² I) is again a mixture with
variances s_k² + σ², and Tweedie's formula gives the exact denoiser

    D(x; σ) = E[x0 | x] = Σ_k r_k(x) · (μ_k + s_k² / (s_k² + σ²) · (x − μ_k)),
    r_k(x) ∝ w_k N(x; μ_k, (s_k² + σ²) I).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .denoiser import EDMDenoiser, as_batch_sigma


@dataclass
class GaussianMixture:
    """Isotropic Gaussian mixture in d dimensions: weights (K,), means (K, d), stds (K,)."""

    weights: Tensor
    means: Tensor
    stds: Tensor

    def __post_init__(self):
        self.weights = torch.as_tensor(self.weights, dtype=torch.float32)
        self.means = torch.as_tensor(self.means, dtype=torch.float32)
        self.stds = torch.as_tensor(self.stds, dtype=torch.float32)
        k = self.weights.shape[0]
        if self.means.ndim != 2 or self.means.shape[0] != k or self.stds.shape != (k,):
            raise ValueError(f"need weights (K,), means (K, d), stds (K,); got {tuple(self.weights.shape)}, "
                             f"{tuple(self.means.shape)}, {tuple(self.stds.shape)}")
        if (self.stds <= 0).any() or (self.weights < 0).any():
            raise ValueError("stds must be > 0 and weights >= 0")
        self.weights = self.weights / self.weights.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator)
        return self.means[k] + self.stds[k, None] * z

    def mean(self) -> Tensor:
        return self.weights @ self.means

    def covariance(self) -> Tensor:
        """Cov = Σ w_k (s_k² I + μ_k μ_kᵀ) − μ μᵀ."""
        mu = self.mean()
        second = sum(w * (s ** 2 * torch.eye(self.dim) + torch.outer(m, m))
                     for w, m, s in zip(self.weights, self.means, self.stds))
        return second - torch.outer(mu, mu)

    def log_prob(self, x: Tensor, sigma: float = 0.0) -> Tensor:
        """log p_σ(x) of the noised mixture."""
        var = self.stds ** 2 + sigma ** 2                               # (K,)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)          # (B, K)
        log_n = -0.5 * sq / var - 0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.logsumexp(self.weights.log() + log_n, dim=1)

    def denoiser(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """The exact D(x; σ) = E[x0 | x0 + σ n = x] (Tweedie)."""
        s2 = as_batch_sigma(sigma, x) ** 2                               # (B, 1)
        var = self.stds[None] ** 2 + s2                                  # (B, K)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        logits = self.weights.log()[None] - 0.5 * sq / var - 0.5 * self.dim * var.log()
        r = logits.softmax(dim=1)                                        # (B, K)
        shrink = (self.stds[None] ** 2 / var)[..., None]                 # (B, K, 1)
        per_comp = self.means[None] + shrink * (x[:, None, :] - self.means[None])
        return (r[..., None] * per_comp).sum(1)

    def score(self, x: Tensor, sigma: float) -> Tensor:
        """∇ₓ log p_σ(x) = (D(x; σ) − x) / σ²."""
        return (self.denoiser(x, sigma) - x) / sigma ** 2


def ring_mixture(num: int = 8, radius: float = 2.0, std: float = 0.15) -> GaussianMixture:
    """``num`` equal Gaussians on a circle: the classic 2-D diffusion toy."""
    angles = torch.arange(num) * 2 * math.pi / num
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(torch.ones(num), means, torch.full((num,), std))


def spiral(n: int, generator: torch.Generator | None = None, noise: float = 0.05, turns: float = 2.0) -> Tensor:
    """Points on a 2-D spiral r ∝ θ, scaled to roughly [−1, 1]², with Gaussian jitter."""
    t = torch.rand(n, generator=generator)
    theta = 2 * math.pi * turns * t.sqrt()
    r = theta / (2 * math.pi * turns)
    pts = torch.stack([r * theta.cos(), r * theta.sin()], dim=1)
    return pts + noise * torch.randn(n, 2, generator=generator)


class MLP(nn.Module):
    """F(x_in, c_noise) for d-dimensional points: a residual MLP with LayerNorm.

    The noise level enters as random Fourier features of c_noise added to the first hidden layer.
    (A plain stack of Linear+SiLU barely learns the sharp 2-D mixtures here; residual blocks do.)
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, num_freqs: int = 16):
        super().__init__()
        self.register_buffer("freqs", torch.randn(num_freqs) * 4.0)
        self.embed_x = nn.Linear(dim, hidden)
        self.embed_noise = nn.Linear(2 * num_freqs, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        f = c_noise[:, None] * self.freqs[None] * 2 * math.pi
        h = self.embed_x(x) + self.embed_noise(torch.cat([f.sin(), f.cos()], dim=1))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def train_mlp_denoiser(data: Tensor, steps: int = 2000, batch_size: int = 256, lr: float = 1e-3,
                       sigma_data: float | None = None, seed: int = 0, hidden: int = 128,
                       log_every: int = 0) -> tuple[EDMDenoiser, list[float]]:
    """Denoising score matching on 2-D points: minimise λ(σ)‖D(x0 + σn; σ) − x0‖², ln σ ~ N(−1.2, 1.2²).

    Returns the trained EDM denoiser (no clamp) and the loss history. Runs in seconds on a CPU.
    """
    from .schedules import LogNormalSigma

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sd = float(data.std()) if sigma_data is None else sigma_data
    model = EDMDenoiser(MLP(dim=data.shape[1], hidden=hidden), sigma_data=sd, clamp=False)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    sigma_dist = LogNormalSigma(mean=-1.2, std=1.2)
    losses = []
    for step in range(steps):
        idx = torch.randint(0, data.shape[0], (batch_size,), generator=g)
        loss = model.loss(data[idx], sigma_distribution=sigma_dist, generator=g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and step % log_every == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}")
    model.eval()
    return model, losses
