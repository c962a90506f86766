import math

import pytest
import torch

from msdm_tutorial.schedules import HighSigmaMixture, KarrasSchedule, LogNormalSigma, karras_sigmas


def test_karras_grid_equals_formula():
    n, smin, smax, rho = 12, 1e-4, 1.0, 7.0
    sig = karras_sigmas(n, smin, smax, rho)
    assert sig.shape == (n + 1,) and sig[-1] == 0
    for i in range(n):
        expected = (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
        assert math.isclose(sig[i].item(), expected, rel_tol=1e-6)
    assert math.isclose(sig[0].item(), smax, rel_tol=1e-6) and math.isclose(sig[n - 1].item(), smin, rel_tol=1e-5)
    assert (sig[:-1] > sig[1:]).all()


def test_schedule_class_matches_function():
    assert torch.equal(KarrasSchedule(0.01, 20.0, 7)(30), karras_sigmas(30, 0.01, 20.0, 7))


@pytest.mark.parametrize("kwargs", [dict(num_steps=0), dict(num_steps=5, sigma_min=0.0),
                                    dict(num_steps=5, sigma_min=2.0, sigma_max=1.0), dict(num_steps=5, rho=0)])
def test_karras_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        karras_sigmas(**kwargs)


def test_lognormal_sigma_moments(gen):
    s = LogNormalSigma(-3.0, 1.0).sample(200_000, generator=gen)
    assert (s > 0).all()
    assert abs(s.log().mean().item() + 3.0) < 0.01
    assert abs(s.log().std().item() - 1.0) < 0.01


def test_lognormal_density_integrates_to_one():
    d = LogNormalSigma(-3.0, 1.0)
    s = torch.logspace(-6, 2, 200_001, dtype=torch.float64)
    total = torch.trapezoid(d.log_prob(s).exp(), s).item()
    assert abs(total - 1.0) < 1e-3


def test_high_sigma_mixture_moves_its_share_of_draws_to_the_high_range(gen):
    base = LogNormalSigma(-2.0, 1.5)
    mix = HighSigmaMixture(base, fraction=0.2, low=1.0, high=20.0)
    s = mix.sample(200_000, generator=gen)
    # P(σ > 3) = 0.8·P_base(σ > 3) + 0.2·ln(20/3)/ln(20)
    p_base = 0.5 * math.erfc((math.log(3) + 2.0) / (1.5 * math.sqrt(2)))
    expected = 0.8 * p_base + 0.2 * math.log(20 / 3) / math.log(20)
    assert abs((s > 3).double().mean().item() - expected) < 0.005
    assert (s > 0).all() and abs((base.sample(200_000, generator=gen) > 3).double().mean().item() - p_base) < 0.002
    grid = torch.logspace(-6, 2, 400_001, dtype=torch.float64)
    assert abs(torch.trapezoid(mix.log_prob(grid).exp(), grid).item() - 1.0) < 2e-3
    with pytest.raises(ValueError, match="fraction"):
        HighSigmaMixture(base, fraction=1.5)
    with pytest.raises(ValueError, match="low"):
        HighSigmaMixture(base, low=5.0, high=1.0)
