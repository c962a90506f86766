"""SI-SDR, SI-SDR improvement, and the paper's separation-evaluation protocol.

Scale-invariant SDR (Le Roux, Wisdom, Erdogan, Hershey 2019, "SDR – half-baked or well done?"):

    α = ⟨ŝ, s⟩ / ‖s‖²,     SI-SDR(ŝ, s) = 10 log10( ‖α s‖² / ‖α s − ŝ‖² )   [dB]

for an estimate ŝ of a reference s. The authors' evaluation (``evaluation/evaluate_separation.py``,
``sisnr``) adds ε = 1e-8 to both inner products of α and to both energies, and does **not**
remove the mean; we do the same by default, so silent references give finite numbers.
``zero_mean=True`` subtracts each signal's mean first, as Le Roux et al. recommend (for audio
the difference is negligible). SI-SDRi = SI-SDR(ŝ, s) − SI-SDR(y, s), y the mixture.

The paper's protocol (Table 1):
  1. separate each test track in non-overlapping 262144-sample chunks (``tasks.separate_long``);
  2. score windows of 4 s with a 2 s hop (the last one may be shorter);
  3. skip windows where at most one reference stem is active — a stem s is silent in a window
     of n samples when ‖s‖₂ / n < 1.5e-5;
  4. per stem, SI-SDRi is the mean over all kept windows of all tracks; "average" is the mean of
     the per-stem means.
The mixture used for SI-SDRi is the sum of the reference stems, as in the authors' code.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Iterable, Sequence

import torch
from torch import Tensor

from . import STEMS

#: ‖s‖₂ / n below this marks a stem as silent in a window (authors' ``is_silent``).
SILENCE_THRESHOLD = 1.5e-5


def _check_pair(estimate: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    estimate, reference = torch.as_tensor(estimate), torch.as_tensor(reference)
    if estimate.shape != reference.shape:
        raise ValueError(f"estimate and reference shapes differ: {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    if estimate.ndim == 0 or estimate.shape[-1] == 0:
        raise ValueError("signals must have at least one sample on the last axis")
    for name, t in (("estimate", estimate), ("reference", reference)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN/Inf values")
    return estimate.double(), reference.double()


def si_sdr(estimate: Tensor, reference: Tensor, eps: float = 1e-8, zero_mean: bool = False) -> Tensor:
    """SI-SDR in dB per item over the last axis (shape ``estimate.shape[:-1]``, float64).

        α = (⟨ŝ, s⟩ + ε) / (‖s‖² + ε),   SI-SDR = 10 log10( (‖αs‖² + ε) / (‖αs − ŝ‖² + ε) )
    """
    est, ref = _check_pair(estimate, reference)
    if zero_mean:
        est = est - est.mean(-1, keepdim=True)
        ref = ref - ref.mean(-1, keepdim=True)
    alpha = ((est * ref).sum(-1, keepdim=True) + eps) / ((ref * ref).sum(-1, keepdim=True) + eps)
    target = alpha * ref
    noise = target - est
    return 10 * torch.log10(((target ** 2).sum(-1) + eps) / ((noise ** 2).sum(-1) + eps))


def si_sdr_improvement(estimate: Tensor, reference: Tensor, mixture: Tensor, eps: float = 1e-8,
                       zero_mean: bool = False) -> Tensor:
    """SI-SDRi = SI-SDR(estimate, reference) − SI-SDR(mixture, reference), dB per item.

    ``mixture`` broadcasts against ``reference``: (B, 1, T) mixtures work with (B, K, T) stems.
    """
    reference = torch.as_tensor(reference)
    mixture = torch.as_tensor(mixture)
    try:
        mixture = torch.broadcast_to(mixture, reference.shape)
    except RuntimeError:
        raise ValueError(f"mixture of shape {tuple(mixture.shape)} does not broadcast to the reference "
                         f"shape {tuple(reference.shape)}") from None
    return si_sdr(estimate, reference, eps, zero_mean) - si_sdr(mixture, reference, eps, zero_mean)


# ----------------------------------------------------------------------------------------------
# The paper's protocol
# ----------------------------------------------------------------------------------------------

def is_silent(signal: Tensor, threshold: float = SILENCE_THRESHOLD) -> Tensor:
    """‖s‖₂ / n < threshold over the last axis (n = its length), per item (bool tensor).

    The paper's silence rule and the library's only one (``data.is_silent`` is this function).
    """
    signal = torch.as_tensor(signal).double()
    n = signal.shape[-1]
    if n == 0:
        raise ValueError("cannot judge silence of an empty window")
    return torch.linalg.vector_norm(signal, dim=-1) / n < threshold


def protocol_windows(length: int, sample_rate: int, window_seconds: float = 4.0,
                     hop_seconds: float = 2.0) -> list[tuple[int, int]]:
    """Window (start, end) sample indices: ⌈(T − overlap) / hop⌉ windows of 4 s every 2 s.

    Like the authors' code, the last window is cut at the end of the signal (it may be shorter).
    """
    window = int(window_seconds * sample_rate)
    hop = int(hop_seconds * sample_rate)
    if not 0 < hop <= window:
        raise ValueError(f"need 0 < hop <= window, got hop {hop} and window {window} samples")
    if length < 1:
        raise ValueError(f"signal length must be >= 1, got {length}")
    overlap = window - hop
    count = max(1, math.ceil((length - overlap) / hop))
    return [(i * hop, min(i * hop + window, length)) for i in range(count)]


def evaluate_track(separated: Tensor, reference: Tensor, sample_rate: int, stems: Sequence[str] = STEMS,
                   track: str = "", window_seconds: float = 4.0, hop_seconds: float = 2.0,
                   filter_single_source: bool = True, threshold: float = SILENCE_THRESHOLD,
                   eps: float = 1e-8, mixture: Tensor | None = None) -> list[dict]:
    """Score one track window by window: a list of rows, one per kept window.

    ``separated`` and ``reference`` are (K, T) (a leading batch dimension of 1 is accepted); the
    reference is cropped to the separated length, as in the authors' code. ``mixture`` defaults to
    the sum of the reference stems. Each row: ``track``, ``start_sample``, ``end_sample``,
    ``active_stems`` and the SI-SDRi of every stem (dB).
    """
    sep, ref = torch.as_tensor(separated), torch.as_tensor(reference)
    if sep.ndim == 3 and sep.shape[0] == 1:
        sep = sep[0]
    if ref.ndim == 3 and ref.shape[0] == 1:
        ref = ref[0]
    stems = tuple(stems)
    for name, t in (("separated", sep), ("reference", ref)):
        if t.ndim != 2 or t.shape[0] != len(stems):
            raise ValueError(f"{name} stems must have shape ({len(stems)}, T) for stems {stems}, got {tuple(t.shape)}")
    if ref.shape[-1] < sep.shape[-1]:
        raise ValueError(f"reference ({ref.shape[-1]} samples) is shorter than the separation ({sep.shape[-1]})")
    ref = ref[:, :sep.shape[-1]]
    mix = ref.sum(0, keepdim=True) if mixture is None else torch.as_tensor(mixture).reshape(1, -1)[:, :sep.shape[-1]]
    if mix.shape[-1] != sep.shape[-1]:
        raise ValueError(f"mixture has {mix.shape[-1]} samples, the separation {sep.shape[-1]}")
    rows = []
    for start, end in protocol_windows(sep.shape[-1], sample_rate, window_seconds, hop_seconds):
        r, s, m = ref[:, start:end], sep[:, start:end], mix[:, start:end]
        active = int((~is_silent(r, threshold)).sum())
        if filter_single_source and active <= 1:
            continue
        scores = si_sdr_improvement(s, r, m, eps=eps)
        row = {"track": track, "start_sample": start, "end_sample": end, "active_stems": active}
        row.update({stem: float(v) for stem, v in zip(stems, scores)})
        rows.append(row)
    return rows


def summarize(windows: Sequence[dict], stems: Sequence[str] = STEMS) -> dict:
    """Per-stem mean SI-SDRi over windows, and their average (the paper's "Avg" column)."""
    stems = tuple(stems)
    per_stem = {}
    for stem in stems:
        values = [w[stem] for w in windows if stem in w]
        per_stem[stem] = sum(values) / len(values) if values else float("nan")
    finite = [v for v in per_stem.values() if not math.isnan(v)]
    return {
        "si_sdri": per_stem,
        "average": sum(finite) / len(finite) if finite else float("nan"),
        "num_windows": len(windows),
        "num_tracks": len({w.get("track", "") for w in windows}),
    }


def evaluate(tracks: Iterable[tuple[str, Tensor, Tensor]], sample_rate: int, stems: Sequence[str] = STEMS,
             **protocol) -> dict:
    """Run the protocol over ``(name, separated, reference)`` triples.

    Returns ``{"protocol": {...}, "summary": summarize(...), "windows": [rows]}``, ready for
    :func:`write_json` and :func:`write_csv`. ``protocol`` options go to :func:`evaluate_track`.
    """
    if "mixture" in protocol:
        raise ValueError("evaluate() uses each track's sum of reference stems; call evaluate_track for a given mixture")
    windows = []
    for name, separated, reference in tracks:
        windows += evaluate_track(separated, reference, sample_rate, stems, track=name, **protocol)
    settings = {"window_seconds": 4.0, "hop_seconds": 2.0, "filter_single_source": True,
                "threshold": SILENCE_THRESHOLD, "eps": 1e-8}
    settings.update({k: v for k, v in protocol.items() if k in settings})
    settings.update({"sample_rate": sample_rate, "stems": list(stems), "metric": "SI-SDRi (dB)",
                     "mixture": "sum of reference stems"})
    return {"protocol": settings, "summary": summarize(windows, stems), "windows": windows}


# ----------------------------------------------------------------------------------------------
# Writers (atomic: a temp file renamed into place, so no half-written results are left behind)
# ----------------------------------------------------------------------------------------------

def _write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (:func:`msdm_tutorial.files.write_text_atomic`)."""
    from .files import write_text_atomic

    write_text_atomic(path, text)


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(path, results: dict) -> None:
    """Write ``results`` (e.g. from :func:`evaluate`) as JSON; NaN becomes null."""
    _write_atomic(path, json.dumps(_json_safe(results), indent=2) + "\n")


def windows_csv(windows: Sequence[dict], stems: Sequence[str] = STEMS) -> str:
    """CSV text, one row per window: track, start_sample, end_sample, active_stems, <stems…>."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["track", "start_sample", "end_sample", "active_stems", *stems])
    for w in windows:
        writer.writerow([w.get("track", ""), w["start_sample"], w["end_sample"], w["active_stems"],
                         *(f"{w[s]:.4f}" for s in stems)])
    return buf.getvalue()


def summary_csv(summary: dict) -> str:
    """CSV text of a :func:`summarize` dict: one row per stem, then ``average``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["stem", "si_sdri_db", "num_windows"])
    for stem, value in summary["si_sdri"].items():
        writer.writerow([stem, f"{value:.4f}", summary["num_windows"]])
    writer.writerow(["average", f"{summary['average']:.4f}", summary["num_windows"]])
    return buf.getvalue()


def write_csv(windows_path, summary_path, results: dict) -> None:
    """Write the per-window CSV and the summary CSV of :func:`evaluate` results."""
    stems = results.get("protocol", {}).get("stems") or list(results["summary"]["si_sdri"])
    _write_atomic(windows_path, windows_csv(results["windows"], stems))
    _write_atomic(summary_path, summary_csv(results["summary"]))


# ----------------------------------------------------------------------------------------------
# Seams of chunked processing
# ----------------------------------------------------------------------------------------------

#: Samples on either side of a chunk join that count as "at the join" (11.6 ms at 22050 Hz).
JOIN_RADIUS = 256


def join_mask(length: int, joins: Iterable[int], radius: int = JOIN_RADIUS) -> Tensor:
    """(length,) bool: True within ``radius`` samples of any join (|t − j| < radius)."""
    near = torch.zeros(length, dtype=torch.bool)
    for j in joins:
        near[max(0, int(j) - radius):max(0, int(j) + radius)] = True
    return near


def join_error_ratio(items: Iterable[tuple[Tensor, Tensor, Sequence[int]]], radius: int = JOIN_RADIUS,
                     stems: Sequence[str] = STEMS) -> dict[str, float]:
    """How much worse an estimate is at chunk joins than elsewhere, per stem:

        ratio_k = RMS(ŝ_k − s_k over samples within ``radius`` of a join)
                  / RMS(ŝ_k − s_k over all other samples),

    pooled over ``items`` = (estimate (K, T), reference (K, T), join positions). A seamless
    method gives ≈ 1; independent chunks give > 1 (each chunk is blind to its neighbours, and the
    network sees zeros past a chunk's edge).
    """
    near_sq = far_sq = 0.0
    near_n = far_n = 0
    for estimate, reference, joins in items:
        est, ref = _check_pair(estimate, reference)
        err = (est - ref) ** 2
        near = join_mask(err.shape[-1], joins, radius)
        near_sq = near_sq + err[..., near].sum(-1)
        far_sq = far_sq + err[..., ~near].sum(-1)
        near_n += int(near.sum())
        far_n += int((~near).sum())
    if not near_n or not far_n:
        raise ValueError("join_error_ratio needs samples both near joins and elsewhere")
    ratio = ((near_sq / near_n) / (far_sq / far_n).clamp_min(1e-30)).sqrt()
    return {s: float(ratio[k]) for k, s in enumerate(stems)}


def join_step_ratio(signal: Tensor, joins: Sequence[int], width: int = JOIN_RADIUS) -> Tensor:
    """Is there a jump where chunks meet? Per channel of ``signal`` (..., T):

        ratio = mean over joins j of  max_{|t − j| < width} |x[t] − x[t−1]|
                ÷ median over windows of 2·width samples away from joins of the same maximum.

    A click or step at a join is the largest first difference near it, far above a window's usual
    largest one: independent chunks give several times 1, a continuous signal about 1 (its joins
    are windows like any other). Needs at least one join and one window elsewhere.
    """
    x = torch.as_tensor(signal).double()
    d = (x[..., 1:] - x[..., :-1]).abs()
    n = d.shape[-1]
    joins = [int(j) for j in joins if width <= j <= n - width]
    if not joins:
        raise ValueError("join_step_ratio needs a join at least `width` samples inside the signal")
    at = torch.stack([d[..., j - width:j + width].amax(-1) for j in joins]).mean(0)
    starts = [s for s in range(0, n - 2 * width + 1, 2 * width)
              if all(abs(s + width - j) >= 3 * width for j in joins)]
    if not starts:
        raise ValueError("join_step_ratio needs samples away from the joins")
    elsewhere = torch.stack([d[..., s:s + 2 * width].amax(-1) for s in starts]).median(0).values
    return at / elsewhere.clamp_min(1e-12)
