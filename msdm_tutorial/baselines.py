"""Two reference points for separation scores: a floor and an oracle ceiling.

* :func:`equal_split` — every stem gets y / K. It uses nothing but the mixture, so any separator
  worth its name must beat it. Its SI-SDRi is not 0 dB: y/K is the mixture scaled, and SI-SDR
  ignores the scale, so it scores *exactly* like the mixture itself (SI-SDRi = 0 dB) — the floor.
* :func:`oracle_ratio_mask` — the ideal ratio mask (IRM). It *peeks at the true stems*: each
  time–frequency bin of the mixture's STFT is shared among the stems in proportion to their true
  magnitudes,

      M_k(t, f) = |S_k(t, f)|^p / Σ_j |S_j(t, f)|^p,     x̂_k = iSTFT(M_k · Y),

  (p = 2: the "Wiener-like" IRM2, p = 1: IRM1; Vincent et al. 2007, Stöter et al. 2018's
  open-unmix oracles). It is not a bound on every method — a waveform model can in principle do
  better — but no mask-based separator with this STFT can beat it by much, so it is the usual
  "upper bound" column. The masks sum to 1, so the estimates sum to the mixture (up to the
  iSTFT's rounding).

Both take and return ``(B, K, T)`` / ``(B, 1, T)`` tensors like :mod:`msdm_tutorial.tasks`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .task_inputs import mixture_shape

__all__ = ["equal_split", "oracle_ratio_mask"]


def _mixture(mixture: Tensor) -> Tensor:
    return mixture_shape(torch.as_tensor(mixture))


def equal_split(mixture: Tensor, num_stems: int = 4) -> Tensor:
    """The trivial separator: every stem is y / K. ``(B, 1, T)`` (or (B, T), (T,)) → ``(B, K, T)``."""
    if num_stems < 1:
        raise ValueError(f"num_stems must be >= 1, got {num_stems}")
    y = _mixture(mixture)
    return (y / num_stems).expand(-1, num_stems, -1).clone()


def oracle_ratio_mask(stems: Tensor, mixture: Tensor | None = None, power: float = 2.0, n_fft: int = 2048,
                      hop_length: int = 512, eps: float = 1e-12) -> Tensor:
    """Ideal ratio mask separation from the **true** stems ``(B, K, T)`` (an oracle, not a method).

    ``mixture`` defaults to the sum of the stems. ``power`` is p in |S_k|^p / Σ_j |S_j|^p. A bin
    where every stem is silent is shared equally. Returns estimates ``(B, K, T)`` that sum to the
    mixture up to float rounding.
    """
    x = torch.as_tensor(stems)
    if x.ndim != 3:
        raise ValueError(f"stems must have shape (B, K, T), got {tuple(x.shape)}")
    if not power > 0:
        raise ValueError(f"power must be > 0, got {power}")
    b, k, t = x.shape
    y = x.sum(1, keepdim=True) if mixture is None else _mixture(mixture)
    if y.shape[0] != b or y.shape[-1] != t:
        raise ValueError(f"mixture of shape {tuple(y.shape)} does not fit stems of shape {tuple(x.shape)}")
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)

    def stft(a: Tensor) -> Tensor:
        return torch.stft(a.reshape(-1, t), n_fft, hop_length, window=window, center=True, return_complex=True)

    S = stft(x).reshape(b, k, n_fft // 2 + 1, -1)
    Y = stft(y).reshape(b, 1, n_fft // 2 + 1, -1)
    weight = S.abs() ** power
    total = weight.sum(1, keepdim=True)
    mask = torch.where(total > eps, weight / total.clamp_min(eps), torch.full_like(weight, 1.0 / k))
    est = torch.istft((mask * Y).reshape(b * k, n_fft // 2 + 1, -1), n_fft, hop_length, window=window,
                      center=True, length=t)
    return est.reshape(b, k, t)
