"""Samplers: integrate the probability-flow ODE  dx/dσ = (x − D(x; σ)) / σ  down a σ grid.

Every sampler takes a *derivative function* ``deriv(x, σ) -> dx/dσ`` instead of a network, so the
MSDM tasks (generation, imputation, separation) are just different derivative functions around
the same loops (see ``msdm_tutorial.tasks``). A task may also pass ``project(x, σ) -> x``, applied
before every derivative evaluation and to the final sample (imputation re-inserts the known stems,
Dirac separation sets the constrained source to y − Σ others).

Each sampler exists twice: ``*_steps`` is a generator yielding a :class:`Step` per σ step (handy
for plotting trajectories), and the plain function runs it to the end and returns the sample.
The grid ``sigmas`` has length N+1 and ends with 0 (``schedules.karras_sigmas``); ``x`` starts at
σ_0, i.e. ``x = sigmas[0] * randn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor

from ._checks import check_finite, check_same_shape, check_sigmas

Derivative = Callable[[Tensor, float], Tensor]
Project = Callable[[Tensor, float], Tensor]


@dataclass
class Step:
    """One σ step: ``x`` is the state after the step (at ``sigma_next``); ``denoised`` = x − σ·d is the
    clean estimate seen at ``sigma``; ``nfe`` counts derivative evaluations so far."""

    i: int
    sigma: float
    sigma_next: float
    x: Tensor
    denoised: Tensor
    nfe: int


def score_derivative(denoiser: Callable[[Tensor, float], Tensor]) -> Derivative:
    """The unconditional ODE derivative  dx/dσ = (x − D(x; σ)) / σ  (= −σ ∇ₓ log p_σ(x))."""

    def deriv(x: Tensor, sigma: float) -> Tensor:
        return (x - denoiser(x, sigma)) / sigma

    return deriv


def initial_noise(shape, sigmas: Tensor, generator: torch.Generator | None = None, device=None) -> Tensor:
    """x at σ_0:  σ_0 · n,  n ~ N(0, I)."""
    return float(sigmas[0]) * torch.randn(shape, generator=generator, device=device)


def _noise_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _identity(x: Tensor, sigma: float) -> Tensor:
    return x


def _start(x: Tensor, sigmas: Tensor, deriv: Derivative) -> list[float]:
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    check_sigmas(sigmas)
    check_finite(x)
    if not callable(deriv):
        raise ValueError("deriv must be a callable deriv(x, sigma) -> dx/dsigma")
    return [float(s) for s in sigmas]


def _evaluate(deriv: Derivative, x: Tensor, sigma: float) -> Tensor:
    d = deriv(x, sigma)
    check_same_shape(d, x, "derivative vs x")
    check_finite(d, f"derivative at sigma={sigma:.4g}")
    return d


def euler_steps(deriv: Derivative, x: Tensor, sigmas: Tensor, s_churn: float = 0.0, num_resamples: int = 1,
                generator: torch.Generator | None = None, project: Project | None = None,
                s_tmin: float = 0.0, s_noise: float = 1.0) -> Iterator[Step]:
    """MSDM's Euler loop with churn and R "correction" resamples (the paper's separation sampler).

    For each step i, repeated R times:
        γ = min(S_churn / N, √2 − 1) if σ_i ≥ S_tmin else 0,  σ̂ = σ_i (1 + γ)
        x ← x + √(σ̂² − σ_i²) · S_noise · ε          (churn: climb to σ̂; EDM's S_noise > 1 adds a little
                                                       more noise than the network will remove)
        x ← x + (σ_{i+1} − σ̂) · deriv(x, σ̂)         (Euler step down to σ_{i+1})
        x ← x + √(σ_i² − σ_{i+1}²) ε  if not the last resample   (re-noise back to σ_i)
    """
    s = _start(x, sigmas, deriv)
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    project = project or _identity
    n = len(s) - 1
    churn = min(s_churn / n, math.sqrt(2.0) - 1.0)
    nfe = 0
    for i in range(n):
        sigma, sigma_next = s[i], s[i + 1]
        gamma = churn if sigma >= s_tmin else 0.0         # EDM's S_tmin: no churn below it
        for r in range(num_resamples):
            sigma_hat = sigma * (1.0 + gamma)
            if gamma > 0:
                x = x + math.sqrt(sigma_hat ** 2 - sigma ** 2) * s_noise * _noise_like(x, generator)
            x = project(x, sigma_hat)
            d = _evaluate(deriv, x, sigma_hat)
            nfe += 1
            denoised = x - sigma_hat * d
            x = x + (sigma_next - sigma_hat) * d
            if r < num_resamples - 1:
                x = x + math.sqrt(sigma ** 2 - sigma_next ** 2) * _noise_like(x, generator)
        if i == n - 1:
            x = project(x, sigma_next)
        yield Step(i, sigma, sigma_next, x, denoised, nfe)


def heun_steps(deriv: Derivative, x: Tensor, sigmas: Tensor, s_churn: float = 0.0, s_tmin: float = 0.0,
               s_tmax: float = float("inf"), s_noise: float = 1.0, generator: torch.Generator | None = None,
               project: Project | None = None) -> Iterator[Step]:
    """EDM Algorithm 2 (Karras et al. 2022): stochastic Heun, second order, Euler on the last step.

        γ_i = min(S_churn / N, √2 − 1) if S_tmin ≤ σ_i ≤ S_tmax else 0,   σ̂ = σ_i (1 + γ_i)
        x̂ = x + √(σ̂² − σ_i²) · S_noise · ε
        d = deriv(x̂, σ̂);   x' = x̂ + (σ_{i+1} − σ̂) d
        if σ_{i+1} ≠ 0:   x' = x̂ + (σ_{i+1} − σ̂) · (d + deriv(x', σ_{i+1})) / 2
    """
    s = _start(x, sigmas, deriv)
    project = project or _identity
    n = len(s) - 1
    nfe = 0
    for i in range(n):
        sigma, sigma_next = s[i], s[i + 1]
        gamma = min(s_churn / n, math.sqrt(2.0) - 1.0) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1.0 + gamma)
        if gamma > 0:
            x = x + math.sqrt(sigma_hat ** 2 - sigma ** 2) * s_noise * _noise_like(x, generator)
        x_hat = project(x, sigma_hat)
        d = _evaluate(deriv, x_hat, sigma_hat)
        nfe += 1
        x = x_hat + (sigma_next - sigma_hat) * d
        if sigma_next != 0:
            x = project(x, sigma_next)
            d_next = _evaluate(deriv, x, sigma_next)
            nfe += 1
            x = x_hat + (sigma_next - sigma_hat) * 0.5 * (d + d_next)
        else:
            x = project(x, sigma_next)
        yield Step(i, sigma, sigma_next, x, x_hat - sigma_hat * d, nfe)


def adpm2_steps(deriv: Derivative, x: Tensor, sigmas: Tensor, rho: float = 1.0,
                generator: torch.Generator | None = None, project: Project | None = None) -> Iterator[Step]:
    """Ancestral DPM-Solver-2 as in audio-diffusion-pytorch 0.0.43 (``ADPM2Sampler``).

    Each step splits σ_{i+1} into a deterministic part σ_down and fresh noise σ_up:
        σ_up = √(σ_{i+1}² (σ_i² − σ_{i+1}²) / σ_i²),   σ_down = √(σ_{i+1}² − σ_up²),
        σ_mid = ((σ_i^{1/ρ} + σ_down^{1/ρ}) / 2)^ρ
        x_mid = x + (σ_mid − σ_i) deriv(x, σ_i);   x ← x + (σ_down − σ_i) deriv(x_mid, σ_mid) + σ_up ε
    Like the original it runs N−1 steps and stops at σ_{N−1} = σ_min (never evaluates σ = 0).
    """
    s = _start(x, sigmas, deriv)
    project = project or _identity
    n = len(s) - 1
    nfe = 0
    for i in range(n - 1):
        sigma, sigma_next = s[i], s[i + 1]
        sigma_up = math.sqrt(sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2)
        sigma_down = math.sqrt(sigma_next ** 2 - sigma_up ** 2)
        sigma_mid = ((sigma ** (1 / rho) + sigma_down ** (1 / rho)) / 2) ** rho
        x = project(x, sigma)
        d = _evaluate(deriv, x, sigma)
        x_mid = project(x + d * (sigma_mid - sigma), sigma_mid)
        d_mid = _evaluate(deriv, x_mid, sigma_mid)
        nfe += 2
        denoised = x - sigma * d
        x = x + d_mid * (sigma_down - sigma) + sigma_up * _noise_like(x, generator)
        if i == n - 2:
            x = project(x, sigma_next)
        yield Step(i, sigma, sigma_next, x, denoised, nfe)


def run(steps: Iterator[Step], callback: Callable[[Step], None] | None = None) -> Tensor:
    """Exhaust a ``*_steps`` generator and return the final sample; ``callback(step)`` sees every
    :class:`Step` on the way (trajectories, progress bars)."""
    last = None
    for last in steps:
        if callback is not None:
            callback(last)
    if last is None:
        raise ValueError("the sampler made no step (adpm2 needs at least 2 sigma steps)")
    return last.x


def euler(deriv: Derivative, x: Tensor, sigmas: Tensor, **kwargs) -> Tensor:
    """Run :func:`euler_steps` to the end."""
    return run(euler_steps(deriv, x, sigmas, **kwargs))


def heun(deriv: Derivative, x: Tensor, sigmas: Tensor, **kwargs) -> Tensor:
    """Run :func:`heun_steps` to the end."""
    return run(heun_steps(deriv, x, sigmas, **kwargs))


def adpm2(deriv: Derivative, x: Tensor, sigmas: Tensor, **kwargs) -> Tensor:
    """Run :func:`adpm2_steps` to the end."""
    return run(adpm2_steps(deriv, x, sigmas, **kwargs))


SAMPLERS = {"euler": euler, "heun": heun, "adpm2": adpm2}
STEPPERS = {"euler": euler_steps, "heun": heun_steps, "adpm2": adpm2_steps}
