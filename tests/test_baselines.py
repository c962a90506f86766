"""Separation baselines (msdm_tutorial.baselines): equal split and the oracle ratio mask."""

from __future__ import annotations

import pytest
import torch

from msdm_tutorial.baselines import equal_split, oracle_ratio_mask
from msdm_tutorial.metrics import si_sdr_improvement


def _stems(gen, b=2, t=8192):
    """Four stems with disjoint spectra (sines at different frequencies) plus one silent item stem."""
    n = torch.arange(t) / 22050
    x = torch.stack([0.3 * torch.sin(2 * torch.pi * f * n) for f in (110.0, 880.0, 2500.0, 5000.0)])
    x = x[None].repeat(b, 1, 1) + 0.001 * torch.randn(b, 4, t, generator=gen)
    return x


def test_equal_split_shapes_and_sum(gen):
    y = torch.randn(3, 1, 100, generator=gen)
    est = equal_split(y, 4)
    assert est.shape == (3, 4, 100)
    torch.testing.assert_close(est.sum(1, keepdim=True), y)
    assert equal_split(y[0, 0]).shape == (1, 4, 100)          # (T,) accepted
    assert equal_split(y[:, 0], 2).shape == (3, 2, 100)       # (B, T) accepted


def test_equal_split_scores_like_the_mixture(gen):
    # SI-SDR ignores scale: y/K is the mixture, so its SI-SDRi is 0 dB (the floor).
    x = _stems(gen)
    y = x.sum(1, keepdim=True)
    sdri = si_sdr_improvement(equal_split(y, 4), x, y)
    assert sdri.abs().max() < 1e-6


def test_equal_split_rejects_bad_input():
    with pytest.raises(ValueError, match="num_stems"):
        equal_split(torch.zeros(1, 1, 10), 0)
    with pytest.raises(ValueError, match="mixture must have shape"):
        equal_split(torch.zeros(1, 2, 10))


def test_oracle_mask_sums_to_mixture_and_separates_disjoint_spectra(gen):
    x = _stems(gen)
    y = x.sum(1, keepdim=True)
    for power in (1.0, 2.0):
        est = oracle_ratio_mask(x, power=power)
        assert est.shape == x.shape
        torch.testing.assert_close(est.sum(1, keepdim=True), y, atol=1e-5, rtol=0)
        sdri = si_sdr_improvement(est, x, y)
        assert sdri.min() > 10, f"disjoint spectra must separate well, got {sdri}"


def test_oracle_mask_of_identical_stems_is_an_equal_split(gen):
    s = torch.randn(1, 1, 4096, generator=gen)
    x = s.repeat(1, 4, 1)
    y = x.sum(1, keepdim=True)
    torch.testing.assert_close(oracle_ratio_mask(x), equal_split(y, 4), atol=1e-5, rtol=0)


def test_oracle_mask_silent_bins_are_shared_equally():
    x = torch.zeros(1, 4, 4096)
    est = oracle_ratio_mask(x)
    assert torch.isfinite(est).all() and est.abs().max() == 0


def test_oracle_mask_given_mixture_and_errors(gen):
    x = _stems(gen, b=1)
    y = x.sum(1)                                               # (B, T) mixture accepted
    torch.testing.assert_close(oracle_ratio_mask(x, y), oracle_ratio_mask(x), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="stems must have shape"):
        oracle_ratio_mask(x[0])
    with pytest.raises(ValueError, match="does not fit"):
        oracle_ratio_mask(x, torch.zeros(1, 1, 10))
    with pytest.raises(ValueError, match="power"):
        oracle_ratio_mask(x, power=0)
