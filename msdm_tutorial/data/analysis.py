"""Small music-analysis helpers to check, from the audio alone, that stems share a context.

* ``onset_envelope`` / ``onset_times``: spectral flux and its peaks (where notes start);
* ``grid_alignment``: the fraction of onsets that fall on a tempo's sixteenth-note grid;
* ``estimate_tempo``: the autocorrelation peak of the onset envelope, folded into one octave;
* ``chroma`` / ``estimate_key``: pitch-class energy and the Krumhansl–Kessler key profiles
  (``NOTE_NAMES[i]`` names chroma bin i);
* ``tempo_and_key_per_chunk`` / ``steady_share``: does a long (outpainted) song keep one tempo and key?

They are deliberately simple (numpy + torch.stft) and are used by notebook 05 and the tests.
"""

from __future__ import annotations

import numpy as np
import torch

from .toy import NOTE_NAMES, SCALES  # noqa: F401  (NOTE_NAMES: for readers of chroma)

# Krumhansl–Kessler key profiles (probe-tone ratings), tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(-1) if x.ndim > 1 and x.shape[0] == 1 else x


def _stft_mag(x, n_fft: int, hop: int) -> np.ndarray:
    x = torch.as_tensor(_as_numpy(x))
    spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True, center=True)
    return spec.abs().numpy()  # (freq, frames)


def onset_envelope(x, sr: int, hop: int = 256, n_fft: int = 1024) -> tuple[np.ndarray, float]:
    """Spectral flux (half-wave rectified increase of log magnitude); returns (envelope, frames/s)."""
    mag = np.log1p(100.0 * _stft_mag(x, n_fft, hop))
    flux = np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=0)
    flux = np.concatenate([[0.0], flux])
    return flux.astype(np.float32), sr / hop


def onset_times(x, sr: int, hop: int = 256, threshold: float = 0.15) -> np.ndarray:
    """Onset times in seconds: local maxima of the envelope above ``threshold`` × its maximum."""
    env, fps = onset_envelope(x, sr, hop)
    if env.max() <= 0:
        return np.zeros(0)
    e = env / env.max()
    peaks = (e[1:-1] > threshold) & (e[1:-1] >= e[:-2]) & (e[1:-1] > e[2:])
    idx = np.flatnonzero(peaks) + 1
    keep, last = [], -1e9  # at most one onset per 40 ms
    for i in idx:
        if (i - last) / fps >= 0.04:
            keep.append(i)
            last = i
    # the flux peaks one frame after the energy rises (centred frames, diff): shift back
    return (np.array(keep, dtype=np.float64) - 1.0) / fps


def grid_alignment(onsets, tempo_bpm: float, tolerance: float = 0.03, offset: float = 0.0) -> float:
    """Fraction of ``onsets`` (s) within ``tolerance`` s of the sixteenth-note grid of a tempo."""
    onsets = np.asarray(onsets, dtype=np.float64)
    if onsets.size == 0:
        return float("nan")
    step = 60.0 / tempo_bpm / 4
    phase = (onsets - offset) / step
    dist = np.abs(phase - np.round(phase)) * step
    return float((dist <= tolerance).mean())


def estimate_tempo(x, sr: int, low: float = 80.0, high: float = 160.0) -> float:
    """Tempo (BPM) from the autocorrelation of the onset envelope, folded into [low, 2·low)."""
    env, fps = onset_envelope(x, sr)
    env = env - env.mean()
    n = len(env)
    f = np.fft.rfft(env, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    lags = np.arange(1, n)
    bpm = 60.0 * fps / lags
    ok = (bpm >= 30) & (bpm <= 480)
    # harmonic sum: a beat period also shows at 2x and 4x the lag
    score = np.zeros_like(acf)
    for mult in (1, 2, 4):
        idx = np.minimum(np.arange(n) * mult, n - 1)
        score += acf[idx] / mult
    best = lags[ok][np.argmax(score[1:][ok])]
    tempo = 60.0 * fps / best
    while tempo >= 2 * low:
        tempo /= 2
    while tempo < low:
        tempo *= 2
    return float(tempo)


def chroma(x, sr: int, n_fft: int = 8192, hop: int = 2048, fmin: float = 60.0, fmax: float = 2000.0) -> np.ndarray:
    """Pitch-class energy (12,), C first, summed over time and normalised to sum 1.

    Each FFT bin counts for its nearest semitone, weighted by cos²(π · its distance to that
    semitone's centre), so that energy between two notes (window leakage) counts little.
    """
    mag = _stft_mag(x, n_fft, hop) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    band = (freqs >= fmin) & (freqs <= fmax)
    semis = 12 * np.log2(freqs[band] / 440.0) + 69
    nearest = np.round(semis)
    weight = np.cos(np.pi * (semis - nearest)) ** 2
    pcs = nearest.astype(int) % 12
    energy = mag[band].sum(axis=1) * weight
    c = np.bincount(pcs, weights=energy, minlength=12)
    total = c.sum()
    return c / total if total > 0 else c


def estimate_key(c: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, "major"/"minor") whose Krumhansl–Kessler profile best matches chroma ``c``."""
    best, key = -np.inf, (0, "major")
    for tonic in range(12):
        for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            r = np.corrcoef(c, np.roll(prof, tonic))[0, 1]
            if r > best:
                best, key = r, (tonic, mode)
    return key


def key_signature(c: np.ndarray) -> int:
    """The major key (tonic pitch class) whose seven scale notes hold most of chroma ``c``.

    A major key and its relative minor share their notes, so this names the *signature*
    (e.g. C major = A minor -> 0), which audio of a short excerpt pins down far more reliably
    than the tonic.
    """
    return int(np.argmax([in_scale_fraction(c, t, "major") for t in range(12)]))


def signature_of(tonic: int, mode: str) -> int:
    """The signature (relative-major tonic) of a key: A minor -> 0 (C), E major -> 4."""
    return tonic if mode == "major" else (tonic + 3) % 12


def in_scale_fraction(c: np.ndarray, tonic: int, mode: str) -> float:
    """Share of chroma energy on the seven pitch classes of the key."""
    scale = [(tonic + d) % 12 for d in SCALES[mode]]
    return float(c[scale].sum() / max(c.sum(), 1e-12))


def tempo_and_key_per_chunk(pitched, mix, sr: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Does a long song keep one tempo and one key? Per ``chunk``-sample segment of it:

    * the onset tempo of ``mix`` (:func:`estimate_tempo`, BPM), and
    * the share of the ``pitched`` audio's chroma on the whole song's key signature — the major scale
      that holds most of its chroma (:func:`key_signature`, :func:`in_scale_fraction`).

    ``pitched`` and ``mix`` are 1-D (T,): the sum of the pitched stems and the sum of all stems.
    Returns (tempos, in-key shares), one entry per whole segment."""
    pitched, mix = _as_numpy(pitched), _as_numpy(mix)
    signature = key_signature(chroma(pitched, sr))
    starts = range(0, mix.shape[-1] - chunk + 1, chunk)
    tempos = [estimate_tempo(mix[s:s + chunk], sr) for s in starts]
    shares = [in_scale_fraction(chroma(pitched[s:s + chunk], sr), signature, "major") for s in starts]
    return np.array(tempos), np.array(shares)


def steady_share(tempos, tolerance: float = 0.04) -> float:
    """The share of ``tempos`` within ±``tolerance`` (relative) of their median: 1 = one tempo throughout."""
    tempos = np.asarray(tempos, dtype=float)
    return float(np.mean(np.abs(tempos / np.median(tempos) - 1) <= tolerance))
