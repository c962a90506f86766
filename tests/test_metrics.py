"""SI-SDR, SI-SDRi and the paper's windowed evaluation protocol (msdm_tutorial.metrics)."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from msdm_tutorial import metrics
from msdm_tutorial.metrics import si_sdr, si_sdr_improvement

STEMS = ("bass", "drums", "guitar", "piano")


def test_known_value():
    # s ⟂ n, ⟨ŝ, s⟩ = ‖s‖² so α = 1 and SI-SDR = 10 log10(‖s‖² / ‖n‖²) = −20 log10(a)
    s = torch.ones(8, dtype=torch.float64)
    n = torch.tensor([1.0, -1] * 4, dtype=torch.float64)
    for a, expected in ((0.1, 20.0), (1.0, 0.0), (0.5, 20 * math.log10(2))):
        assert si_sdr(s + a * n, s, eps=0.0).item() == pytest.approx(expected, abs=1e-9)
        assert si_sdr(s + a * n, s).item() == pytest.approx(expected, abs=1e-5)   # ε = 1e-8 barely moves it


def test_matches_textbook_formula_on_random_signals():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(5, 3, 1000, generator=g, dtype=torch.float64)
    est = 0.7 * ref + 0.3 * torch.randn(5, 3, 1000, generator=g, dtype=torch.float64)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref ** 2).sum(-1, keepdim=True)
    textbook = 10 * torch.log10((alpha * ref).pow(2).sum(-1) / (alpha * ref - est).pow(2).sum(-1))
    out = si_sdr(est, ref)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out, textbook, rtol=0, atol=1e-6)


def test_scale_invariance_and_perfect_estimate():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(4, 2000, generator=g)
    est = ref + 0.2 * torch.randn(4, 2000, generator=g)
    base = si_sdr(est, ref)
    for c in (0.01, 3.0, 100.0):
        torch.testing.assert_close(si_sdr(c * est, ref), base, rtol=0, atol=1e-4)
        torch.testing.assert_close(si_sdr(est, c * ref), base, rtol=0, atol=1e-4)
    assert (si_sdr(ref, ref) > 80).all()
    assert (si_sdr(5 * ref, ref) > 80).all()


def test_mean_removal_option():
    g = torch.Generator().manual_seed(2)
    ref = torch.randn(3, 500, generator=g)
    est = ref + 0.1 * torch.randn(3, 500, generator=g)
    shifted = est + 0.5
    torch.testing.assert_close(si_sdr(shifted, ref, zero_mean=True), si_sdr(est, ref, zero_mean=True),
                               atol=0.05, rtol=0)
    assert (si_sdr(shifted, ref) < si_sdr(est, ref) - 5).all()          # the paper's version: no mean removal


def test_improvement_broadcasts_the_mixture():
    g = torch.Generator().manual_seed(3)
    stems = torch.randn(2, 4, 800, generator=g)
    mix = stems.sum(1, keepdim=True)
    est = stems + 0.1 * torch.randn(2, 4, 800, generator=g)
    imp = si_sdr_improvement(est, stems, mix)
    assert imp.shape == (2, 4)
    torch.testing.assert_close(imp, si_sdr(est, stems) - si_sdr(mix.expand_as(stems), stems))
    assert (imp > 0).all()
    torch.testing.assert_close(si_sdr_improvement(mix.expand_as(stems), stems, mix), torch.zeros(2, 4, dtype=torch.float64))
    # equal split y/K: SI-SDR is scale invariant, so splitting the mix equally improves nothing
    torch.testing.assert_close(si_sdr_improvement(mix.expand_as(stems) / 4, stems, mix),
                               torch.zeros(2, 4, dtype=torch.float64), atol=1e-6, rtol=0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shapes differ"):
        si_sdr(torch.ones(2, 10), torch.ones(2, 11))
    with pytest.raises(ValueError, match="NaN"):
        si_sdr(torch.tensor([1.0, float("nan")]), torch.ones(2))
    with pytest.raises(ValueError, match="broadcast"):
        si_sdr_improvement(torch.ones(2, 4, 10), torch.ones(2, 4, 10), torch.ones(3, 1, 10))


def test_silence_criterion():
    n = 1000
    # ‖s‖₂ / n < 1.5e-5  ⇔  constant amplitude a with a·√n / n < 1.5e-5
    edge = 1.5e-5 * math.sqrt(n)
    assert metrics.is_silent(torch.full((n,), 0.99 * edge)).item()
    assert not metrics.is_silent(torch.full((n,), 1.01 * edge)).item()
    assert metrics.is_silent(torch.zeros(2, n)).tolist() == [True, True]


def test_protocol_windows():
    sr = 100
    assert metrics.protocol_windows(1000, sr) == [(0, 400), (200, 600), (400, 800), (600, 1000)]
    assert metrics.protocol_windows(1100, sr)[-1] == (800, 1100)          # last window cut, as in the paper
    assert len(metrics.protocol_windows(1100, sr)) == 5
    assert metrics.protocol_windows(300, sr) == [(0, 300)]
    assert metrics.protocol_windows(262144, 22050)[:2] == [(0, 88200), (44100, 132300)]


def _toy_track(sr=100, seconds=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = sr * seconds
    ref = torch.zeros(4, t)
    ref[0] = 0.3 * torch.randn(t, generator=g)                            # bass everywhere
    ref[1, :400] = 0.3 * torch.randn(400, generator=g)                    # drums only in the first 4 s
    est = ref + 0.05 * torch.randn(4, t, generator=g)
    return est, ref


def test_evaluate_track_skips_single_source_windows():
    sr = 100
    est, ref = _toy_track(sr)
    rows = metrics.evaluate_track(est, ref, sr, STEMS, track="T1")
    # windows (0,400) and (200,600) have bass + drums; (400,800) and (600,1000) only bass
    assert [(r["start_sample"], r["end_sample"], r["active_stems"]) for r in rows] == [(0, 400, 2), (200, 600, 2)]
    expected = si_sdr_improvement(est[:, 200:600], ref[:, 200:600], ref[:, 200:600].sum(0, keepdim=True))
    assert [rows[1][s] for s in STEMS] == pytest.approx(expected.tolist())
    assert all(math.isfinite(r[s]) for r in rows for s in STEMS)          # silent stems stay finite (ε)
    everything = metrics.evaluate_track(est, ref, sr, STEMS, filter_single_source=False)
    assert len(everything) == 4
    # the reference is cropped to the separated length
    assert len(metrics.evaluate_track(est[:, :600], ref, sr, STEMS)) == 2
    with pytest.raises(ValueError, match="shape"):
        metrics.evaluate_track(est[:3], ref[:3], sr, STEMS)


def test_evaluate_summary_and_writers(tmp_path):
    sr = 100
    tracks = [("A", *_toy_track(sr, seed=0)), ("B", *_toy_track(sr, seed=1))]
    results = metrics.evaluate(tracks, sr, STEMS)
    summary = results["summary"]
    assert summary["num_windows"] == 4 and summary["num_tracks"] == 2
    for s in STEMS:
        assert summary["si_sdri"][s] == pytest.approx(sum(w[s] for w in results["windows"]) / 4)
    assert summary["average"] == pytest.approx(sum(summary["si_sdri"].values()) / 4)
    assert results["protocol"]["window_seconds"] == 4.0 and results["protocol"]["threshold"] == 1.5e-5

    metrics.write_json(tmp_path / "r.json", results)
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert loaded["summary"]["average"] == pytest.approx(summary["average"])
    assert len(loaded["windows"]) == 4
    metrics.write_csv(tmp_path / "windows.csv", tmp_path / "summary.csv", results)
    rows = list(csv.DictReader(open(tmp_path / "windows.csv")))
    assert [r["track"] for r in rows] == ["A", "A", "B", "B"]
    assert float(rows[0]["bass"]) == pytest.approx(results["windows"][0]["bass"], abs=1e-4)
    summary_rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert [r["stem"] for r in summary_rows] == [*STEMS, "average"]
    assert not list(tmp_path.glob("*.tmp-*"))                            # atomic writes leave nothing behind

    empty = metrics.evaluate([], sr, STEMS)
    metrics.write_json(tmp_path / "empty.json", empty)
    assert json.loads((tmp_path / "empty.json").read_text())["summary"]["average"] is None
