import math

import pytest
import torch

from msdm_tutorial import samplers, tasks, toy2d
from msdm_tutorial.schedules import karras_sigmas


def gaussian_denoiser(s2):
    """Exact D for data N(0, s²I):  D(x; σ) = x·s²/(s² + σ²)."""
    return lambda x, sigma: x * s2 / (s2 + sigma ** 2)


S = 0.2  # the paper's σ_data: audio-like scale


def sample_variance(sampler, num_steps, gen, n=10_000, **kw):
    """Var(samples)/s² for data N(0, s²I), starting from the exact marginal N(0, (s² + σ_max²)I).

    Deterministic discretisation error of this grid (σ_max = 10 s, measured on a scalar run):
    Heun 18 steps +4.5 %, Euler 200 steps −1.8 %. Sampling error of the variance over 40k draws ≈ 0.7 %.
    """
    sig = karras_sigmas(num_steps, 1e-4, 10 * S, 7.0)
    x = math.sqrt(S ** 2 + sig[0].item() ** 2) * torch.randn(n, 4, generator=gen)
    y = sampler(samplers.score_derivative(gaussian_denoiser(S ** 2)), x, sig, **kw)
    return y.var().item() / S ** 2


def test_heun_18_steps_reproduces_variance(gen):
    # deterministic discretisation error at 18 steps is +3.3% (measured by a scalar run); sampling error ~1%
    ratio = sample_variance(samplers.heun, 18, gen)
    assert abs(ratio - 1) < 0.07, ratio


def test_euler_200_steps_reproduces_variance(gen):
    ratio = sample_variance(samplers.euler, 200, gen)
    assert abs(ratio - 1) < 0.04, ratio


def test_euler_churn_and_resampling_converge_to_the_variance(gen):
    """Churn adds noise that Euler's first-order step only half removes: a bias that halves with the
    step size (measured over 100k draws: −7.4 % at 200 steps, −3.8 % at 400, for S_churn 20, R 2)."""
    r200 = sample_variance(samplers.euler, 200, gen, n=100_000, s_churn=20.0, num_resamples=2, generator=gen)
    r400 = sample_variance(samplers.euler, 400, gen, n=100_000, s_churn=20.0, num_resamples=2, generator=gen)
    assert abs(r400 - 1) < 0.06, r400
    assert abs(r400 - 1) < 0.75 * abs(r200 - 1), (r200, r400)


def test_heun_churn_reproduces_variance(gen):
    ratio = sample_variance(samplers.heun, 40, gen, s_churn=10.0, s_tmin=0.0, s_tmax=10.0, generator=gen)
    assert abs(ratio - 1) < 0.05, ratio


def test_adpm2_reproduces_variance(gen):
    ratio = sample_variance(samplers.adpm2, 50, gen, generator=gen)
    assert abs(ratio - 1) < 0.05, ratio


def test_heun_is_second_order():
    """Halving the step size divides Heun's error by ~4 (Euler's by ~2)."""
    def error(sampler, n):
        sig = karras_sigmas(n, 1e-4, 1.0, 7.0)
        y = sampler(samplers.score_derivative(gaussian_denoiser(S ** 2)), torch.ones(1, 1) * sig[0], sig)
        exact = sig[0] * S / math.sqrt(S ** 2 + sig[0] ** 2)
        return abs(y.item() / exact.item() - 1)

    assert 3.0 < error(samplers.heun, 20) / error(samplers.heun, 40) < 5.0
    assert 1.5 < error(samplers.euler, 40) / error(samplers.euler, 80) < 2.5


def test_gaussian_mixture_moments(gen):
    gm = toy2d.ring_mixture(8, radius=2.0, std=0.2)
    sig = karras_sigmas(40, 0.002, 10.0, 7.0)
    y = samplers.heun(samplers.score_derivative(gm.denoiser), samplers.initial_noise((8000, 2), sig, gen), sig)
    assert torch.allclose(y.mean(0), gm.mean(), atol=0.06)
    assert torch.allclose(torch.cov(y.T), gm.covariance(), atol=0.08)
    # every sample lands near a ring component: distance to the circle is small
    assert ((y.norm(dim=1) - 2.0).abs() < 0.8).float().mean() > 0.99


def test_steps_generator_yields_every_step_and_counts_nfe(gen):
    sig = karras_sigmas(10, 1e-3, 1.0)
    deriv = samplers.score_derivative(gaussian_denoiser(0.04))
    x = samplers.initial_noise((5, 3), sig, gen)
    steps = list(samplers.heun_steps(deriv, x, sig))
    assert [s.i for s in steps] == list(range(10))
    assert steps[-1].nfe == 2 * 10 - 1  # Euler on the last step (σ = 0)
    assert torch.equal(steps[-1].x, samplers.heun(deriv, x, sig))
    e = list(samplers.euler_steps(deriv, x, sig, num_resamples=3))
    assert e[-1].nfe == 30
    a = list(samplers.adpm2_steps(deriv, x, sig))
    assert len(a) == 9 and a[-1].sigma_next == pytest.approx(1e-3, rel=1e-5) and a[-1].nfe == 18


def test_project_is_applied_before_each_evaluation_and_at_the_end(gen):
    seen = []

    def deriv(x, sigma):
        seen.append(x[:, 0].clone())
        return x / sigma

    def project(x, sigma):
        x = x.clone()
        x[:, 0] = 0.5
        return x

    sig = karras_sigmas(5, 1e-3, 1.0)
    for sampler in (samplers.euler, samplers.heun, samplers.adpm2):
        seen.clear()
        y = sampler(deriv, samplers.initial_noise((2, 3), sig, gen), sig, project=project)
        assert all(torch.all(v == 0.5) for v in seen) and torch.all(y[:, 0] == 0.5)


def test_seeded_runs_are_reproducible():
    sig = karras_sigmas(10, 1e-3, 1.0)
    deriv = samplers.score_derivative(gaussian_denoiser(0.04))
    runs = [samplers.euler(deriv, samplers.initial_noise((4, 8), sig, g), sig, s_churn=5, generator=g)
            for g in (torch.Generator().manual_seed(3), torch.Generator().manual_seed(3))]
    assert torch.equal(*runs)


def test_euler_s_tmin_churns_only_at_and_above_it():
    """S_tmin above σ_max is no churn at all; S_tmin inside the grid churns only the steps from σ_i ≥ S_tmin."""
    sig = karras_sigmas(12, 1e-3, 1.0)
    deriv = samplers.score_derivative(gaussian_denoiser(0.04))

    def run(s_churn=5.0, **kw):
        g = torch.Generator().manual_seed(3)
        return list(samplers.euler_steps(deriv, samplers.initial_noise((4, 8), sig, g), sig, s_churn=s_churn,
                                         generator=g, **kw))

    assert torch.equal(run(s_tmin=2.0)[-1].x, run(s_churn=0.0)[-1].x)
    full, partial = run(), run(s_tmin=0.1)
    k = next(i for i, st in enumerate(partial) if st.sigma < 0.1)   # the first step below S_tmin
    assert torch.equal(full[k - 1].x, partial[k - 1].x), "above S_tmin the runs are the same"
    assert not torch.equal(full[-1].x, partial[-1].x), "below it one churns and the other does not"
    assert tasks.GenerationConfig.paper().replace(s_tmin=1.0).sampler_kwargs()["s_tmin"] == 1.0
    with pytest.raises(ValueError, match="s_tmin"):
        tasks.GenerationConfig.paper().replace(s_tmin=-1.0)


def test_euler_s_noise_scales_the_churn_noise():
    """EDM's S_noise multiplies the noise the churn adds: with D ≡ 0 one step maps x to (σ_1/σ̂)(x + √(σ̂² − σ_0²)·S·ε),
    so the part that the churn added doubles with S = 2; S = 1 is the paper's sampler unchanged."""
    sig = karras_sigmas(4, 1e-3, 1.0)
    deriv = samplers.score_derivative(lambda x, sigma: torch.zeros_like(x))
    x0 = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))

    def first_step(**kw):
        return next(samplers.euler_steps(deriv, x0, sig, s_churn=1.0, generator=torch.Generator().manual_seed(3),
                                         **kw)).x

    sigma_hat = float(sig[0]) * (1 + 1.0 / 4)                # γ = S_churn / N
    deterministic = x0 * float(sig[1]) / sigma_hat
    added = first_step() - deterministic
    assert added.abs().mean() > 1e-3
    torch.testing.assert_close(first_step(s_noise=2.0) - deterministic, 2 * added)
    assert torch.equal(first_step(s_noise=1.0), first_step())
    assert tasks.GenerationConfig.paper().replace(s_noise=1.05).sampler_kwargs()["s_noise"] == 1.05
    assert "s_noise" not in tasks.GenerationConfig.paper().sampler_kwargs()
    with pytest.raises(ValueError, match="s_noise"):
        tasks.GenerationConfig.paper().replace(s_noise=0.0)


@pytest.mark.parametrize("sampler", [samplers.euler, samplers.heun, samplers.adpm2])
def test_bad_inputs_raise_value_errors(sampler):
    deriv = samplers.score_derivative(gaussian_denoiser(0.04))
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="decrease"):
        sampler(deriv, x, torch.tensor([1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="positive"):
        sampler(deriv, x, torch.tensor([1.0, -0.5, -1.0]))
    with pytest.raises(ValueError, match="NaN"):
        sampler(deriv, torch.tensor([[float("nan"), 0.0]]), karras_sigmas(4))
    with pytest.raises(ValueError, match="shapes differ"):
        sampler(lambda x, s: torch.zeros(5), x, karras_sigmas(4))
    with pytest.raises(ValueError, match="NaN"):
        sampler(lambda x, s: x * float("inf"), x + 1, karras_sigmas(4))
