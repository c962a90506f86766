"""How close generated stems are to real ones: a Fréchet distance on log-mel frames, and tonality.

SI-SDR needs a reference; generated music has none. These measures compare *sets* instead.

**Fréchet distance** (as in FID/FAD, on log-mel frames of one stem). Fit a Gaussian to the frames of
each set, N(μ_a, Σ_a) and N(μ_b, Σ_b), and take the 2-Wasserstein distance between them:

    FD(a, b) = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2})

From a few dozen clips FD is noisy and grows as sets shrink, so it is reported as a **ratio**:
FD(generated, reference) over the mean FD(real_i, reference) of several disjoint real sets real_i of
the same size as the generated one. 1 means "as close to the reference as real songs are".

**Tonality** is the spectral flatness of the loud frames (geometric over arithmetic mean of the
power spectrum): about 0.56 for white noise, near 0 for a few sustained partials. A pitched stem
that is noise-like has the flatness of noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

N_MELS = 64
N_FFT = 1024
HOP = 256
FLOOR_DB = -80.0                  # log-mel floor: silence (a resting instrument) is -80 dB, not -inf


def _clips(audio) -> Tensor:
    x = torch.as_tensor(audio, dtype=torch.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"expected clips as (N, T) or (T,), got shape {tuple(x.shape)}")
    return x


def log_mel_frames(audio, sample_rate: int, n_mels: int = N_MELS) -> np.ndarray:
    """All log-mel frames of a set of clips ``(N, T)``, stacked: ``(frames, n_mels)`` in dB re full scale."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=N_FFT, hop_length=HOP, n_mels=n_mels,
                                               f_min=20.0, f_max=sample_rate / 2, power=2.0, center=True)
    power = mel(_clips(audio)) / (N_FFT / 2) ** 2 * 4          # a full-scale sine's peak bin ≈ 1
    db = 10 * torch.log10(power.clamp_min(10 ** (FLOOR_DB / 10)))
    return db.transpose(1, 2).reshape(-1, n_mels).double().numpy()


def gaussian_stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return frames.mean(0), np.cov(frames, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FD between the Gaussians fitted to frame sets ``a`` and ``b`` (each ``(frames, dims)``)."""
    (mu_a, cov_a), (mu_b, cov_b) = gaussian_stats(a), gaussian_stats(b)
    root_a = _sqrt_psd(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


class DistanceScale:
    """The distance ratio against one reference, as a callable: ``scale(candidate)`` is

        FD(candidate, reference) / mean_i FD(real_i, reference)        (log-mel frames of one stem)

    The reference's frames and the real-set baseline are computed once, so many candidates (noise
    calibrations, models) can be placed on the same scale. Every ``real_sets[i]`` and every candidate
    must hold the same number of clips (FD depends on it); the real sets must be disjoint from each
    other and from ``reference``."""

    def __init__(self, reference, real_sets, sample_rate: int):
        sizes = sorted({len(_clips(r)) for r in real_sets})
        if len(sizes) != 1:
            raise ValueError(f"compare sets of equal size: got sizes {sizes}")
        self.size, self.sample_rate = sizes[0], sample_rate
        self.reference = log_mel_frames(reference, sample_rate)
        self.baseline = float(np.mean([frechet_distance(log_mel_frames(r, sample_rate), self.reference)
                                       for r in real_sets]))

    def __call__(self, candidate) -> float:
        candidate = _clips(candidate)
        if len(candidate) != self.size:
            raise ValueError(f"compare sets of equal size: got sizes {sorted({len(candidate), self.size})}")
        return frechet_distance(log_mel_frames(candidate, self.sample_rate), self.reference) / self.baseline


def pooled_ratio(scales, ratios) -> float:
    """One ratio from several independent draws d of reference and real sets (``scales[d]``, a
    :class:`DistanceScale` with baseline b_d) and a candidate's ratio r_d on each:

        Σ_d FD_d / Σ_d b_d = Σ_d r_d·b_d / Σ_d b_d          (FD_d = r_d·b_d, the candidate's distance in draw d)

    One draw of a 32-clip reference and four 16-clip real sets moves a ratio 2–3×, mostly through b_d;
    a ratio of summed distances does not let a draw whose real sets happen to sit close to its reference
    dominate, as a mean of ratios would. The candidate may differ per draw (a real set of each draw's own)."""
    ratios = list(ratios)
    if len(ratios) != len(scales) or not ratios:
        raise ValueError(f"one ratio per draw: got {len(ratios)} ratios for {len(scales)} draws")
    return sum(r * s.baseline for r, s in zip(ratios, scales)) / sum(s.baseline for s in scales)


def distance_ratio(candidate, reference, real_sets, sample_rate: int) -> float:
    """FD(candidate, reference) / mean_i FD(real_i, reference), on log-mel frames of one stem
    (:class:`DistanceScale` for one candidate)."""
    return DistanceScale(reference, real_sets, sample_rate)(candidate)


def spectral_flatness(audio, loud_db: float = -30.0) -> float:
    """Mean spectral flatness of the frames within ``loud_db`` dB of a set's loudest frame.

    Geometric / arithmetic mean of each frame's power spectrum (Hann window, N_FFT): ≈ 0.56 for
    white noise, → 0 for pure tones. Returns NaN when the clips are silent."""
    x = _clips(audio)
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2
    spec = spec.double() + 1e-20                                  # (N, bins, frames)
    energy = spec.sum(1)
    if energy.max() <= 1e-12:
        return float("nan")
    loud = energy >= energy.max() * 10 ** (loud_db / 10)
    flat = torch.exp(torch.log(spec).mean(1)) / spec.mean(1)
    return float(flat[loud].mean())


def flatness_db(audio) -> float:
    """:func:`spectral_flatness` in dB (10·log10): white noise ≈ −2.5 dB, pure tones far below."""
    return 10 * math.log10(spectral_flatness(audio))


def tonality(candidate, real, generator: torch.Generator) -> dict:
    """Where ``candidate`` clips sit between white noise and ``real`` clips, by :func:`flatness_db`:
    ``{"real": dB, "candidate": dB, "white noise": dB, "share": (noise − candidate) / (noise − real)}``
    (share 1 = as tonal as the real clips, 0 = as noise-like as white noise at their RMS)."""
    real, candidate = (torch.as_tensor(a).reshape(-1, a.shape[-1]) for a in (real, candidate))   # (…, T) clips
    noise = white_noise(real.shape[0], real.shape[-1], float(real.pow(2).mean().sqrt()), generator)
    out = {"real": flatness_db(real), "candidate": flatness_db(candidate), "white noise": flatness_db(noise)}
    out["share"] = (out["white noise"] - out["candidate"]) / (out["white noise"] - out["real"])
    return out


def white_noise(n: int, length: int, rms: float, generator: torch.Generator) -> Tensor:
    return rms * torch.randn(n, length, generator=generator)


def pink_noise(n: int, length: int, rms: float, generator: torch.Generator) -> Tensor:
    """1/f noise: white noise shaped by 1/sqrt(f) in the frequency domain, scaled to ``rms``."""
    spectrum = torch.fft.rfft(torch.randn(n, length, generator=generator, dtype=torch.float64))
    f = torch.arange(spectrum.shape[-1], dtype=torch.float64).clamp_min(1.0)
    x = torch.fft.irfft(spectrum / f.sqrt(), n=length)
    return (rms * x / x.pow(2).mean(-1, keepdim=True).sqrt()).float()


@torch.no_grad()
def denoising_error(denoiser, x0: Tensor, sigmas, generator: torch.Generator | None = None,
                    edge: int = 256) -> dict[float, dict]:
    """How well ``denoiser`` recovers held-out stems at each noise level: for every σ,

        relative error  e_k(σ) = E‖D(x0 + σn; σ)_k − x0_k‖² / E‖x0_k‖²       (per stem k)

    1 is the error of predicting silence, so e_k(σ) ≥ 1 means the model knows nothing about stem k
    at that σ (generation starts at σ = 20, separation at σ = 1). ``edge_ratio`` is the mean squared
    error within ``edge`` samples of either end of the chunk over the error elsewhere: a network that
    handles its borders as well as its middle scores ≈ 1.

    ``best_gain`` (per stem) is the gain that would minimise the error of the estimate scaled as a whole,

        g_k(σ) = ⟨x0_k, D_k⟩ / ⟨D_k, D_k⟩,

    which is 1 for the MMSE denoiser E[x0 | x] (the orthogonality principle: its error is uncorrelated
    with the estimate) and for the best linear one (Wiener). g_k > 1: the estimate of stem k is too
    quiet for what it knows (biased towards silence); g_k < 1: too loud (it passes noise off as signal).

    ``x0``: held-out chunks ``(B, K, T)``; the same noise draw is used at every σ.
    """
    noise = torch.randn(x0.shape, generator=generator)
    power = x0.pow(2).mean((0, 2)).clamp_min(1e-12)
    out = {}
    for sigma in sigmas:
        estimate = denoiser(x0 + float(sigma) * noise, float(sigma)).float()
        err = (estimate - x0).pow(2)
        per_stem = err.mean((0, 2)) / power
        at_edges = torch.cat([err[..., :edge], err[..., -edge:]], -1).mean()
        gain = (x0 * estimate).sum((0, 2)) / estimate.pow(2).sum((0, 2)).clamp_min(1e-20)
        out[float(sigma)] = {"relative": per_stem.tolist(), "best_gain": gain.tolist(),
                             "edge_ratio": float(at_edges / err[..., edge:-edge].mean().clamp_min(1e-20))}
    return out


@torch.no_grad()
def context_use(denoiser, x0: Tensor, sigma: float, generator: torch.Generator | None = None,
                shift: int = 1) -> dict[str, list[float]]:
    """How much a joint denoiser takes from the *other* stems: per stem k, the relative error at σ

        e_k(own)     = ‖D(x0 + σn; σ)_k − x0_k‖² / ‖x0_k‖²
        e_k(foreign) = the same with the other stems, x0_{j≠k}, taken from another song (song i + ``shift``)

    for the same noise n. The stems of one song share a key, chords and a beat, so a model of their
    *joint* density (MSDM) denoises a stem better in its own song than in a foreign one, where the
    context points elsewhere. A denoiser that treats the stems independently (ISDM, the Wiener filter)
    gives e(foreign) = e(own) exactly. ``x0``: real chunks ``(B, K, T)``, B ≥ 2.
    """
    b, k = x0.shape[:2]
    if b < 2 or shift % b == 0:
        raise ValueError(f"context_use needs two songs or more and a shift that pairs each with another, got "
                         f"{b} songs and shift {shift}")
    noise = float(sigma) * torch.randn(x0.shape, generator=generator, device=x0.device)
    power = x0.pow(2).sum((0, 2)).clamp_min(1e-20)

    def errors(x: Tensor) -> Tensor:
        return (denoiser(x + noise, float(sigma)).float() - x0).pow(2).sum((0, 2)) / power

    own = errors(x0)
    foreign = []
    for stem in range(k):
        x = torch.roll(x0, -shift, 0)                # x[i] = song i + shift …
        x[:, stem] = x0[:, stem]                     # … but stem k of song i
        foreign.append(float(errors(x)[stem]))
    return {"own": own.tolist(), "foreign": foreign}


@torch.no_grad()
def silence_leak(denoiser, shape, sigmas, generator: torch.Generator | None = None) -> dict[float, list[float]]:
    """How much noise ``denoiser`` lets through where every stem is silent: for every σ, per stem k,

        leak_k(σ) = 20·log10( RMS(D(σn; σ)_k) / σ )   dB re σ        (x0 = 0, n ~ N(0, I) of ``shape``)

    Toy stems rest in digital silence. A denoiser that can tell a rest from a note keeps rests silent,
    and its leak falls without bound as σ → 0, where the two are easy to tell apart. One that only
    shrinks by the stems' average power P, x·P/(P + σ²) (the Wiener filter, the ideal denoiser of
    Gaussian stems), leaks *more* as σ → 0. Returning the input scores 0 dB; halving it, −6 dB.
    What leaks at the small σ where sampling ends stays in the result as a noise floor at about
    σ·10^(leak/20) (``benchmarks/regeneration.py`` measures the floor itself).
    """
    noise = torch.randn(tuple(shape), generator=generator)
    out = {}
    for sigma in sigmas:
        rms = denoiser(float(sigma) * noise, float(sigma)).float().pow(2).mean((0, 2)).sqrt()
        out[float(sigma)] = (20 * torch.log10(rms.clamp_min(1e-30) / float(sigma))).tolist()
    return out


class WienerDenoiser(torch.nn.Module):
    """The best *linear* denoiser for stationary stems: per stem k and frequency f,

        D(x; σ)_k = F⁻¹[ S_k(f) / (S_k(f) + σ²) · F[x_k] ],   S_k(f) = E|F[x0_k](f)|² / T

    with S_k the average power spectrum of real clips (``fit``). It knows each instrument's spectrum
    and nothing else: no notes, no rhythm, no relation between stems. Sampling from it gives noise
    coloured like each stem, so a diffusion model whose denoising error is no lower than this one's
    generates coloured noise. (In the frequency domain the Gaussian prior makes D exact for
    stationary Gaussian stems; x0 + σn has noise power σ² in every bin of the orthonormal FFT.)
    """

    def __init__(self, power: Tensor, stems=None, sample_rate: int = 22050):
        super().__init__()
        self.register_buffer("power", power)             # (K, T // 2 + 1), orthonormal-FFT power
        self.stems, self.sample_rate = stems, sample_rate

    @classmethod
    def fit(cls, clips: Tensor, **kwargs) -> "WienerDenoiser":
        """``clips``: real stems ``(N, K, T)``; the filter then applies to chunks of length T."""
        spectrum = torch.fft.rfft(clips.double(), norm="ortho")
        return cls(spectrum.abs().pow(2).mean(0), **kwargs)

    def forward(self, x: Tensor, sigma) -> Tensor:
        sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1, 1)
        gain = self.power / (self.power + sigma ** 2)
        return torch.fft.irfft(gain * torch.fft.rfft(x.double(), norm="ortho"), n=x.shape[-1], norm="ortho").to(x.dtype)
