import torch

from msdm_tutorial import toy2d


def test_mixture_denoiser_is_posterior_mean_by_monte_carlo(gen):
    """D(x; σ) = E[x0 | x]: check by importance weighting samples of the prior."""
    gm = toy2d.GaussianMixture([0.3, 0.7], [[-1.0, 0.0], [1.5, 0.5]], [0.3, 0.5])
    x0 = gm.sample(400_000, gen)
    x = torch.tensor([[0.2, 0.1], [1.0, -0.5]])
    sigma = 0.6
    for xi, di in zip(x, gm.denoiser(x, sigma)):
        w = torch.exp(-((xi - x0) ** 2).sum(1) / (2 * sigma ** 2))
        mc = (w[:, None] * x0).sum(0) / w.sum()
        assert torch.allclose(di, mc, atol=0.02), (di, mc)


def test_score_matches_autograd_of_log_prob():
    gm = toy2d.ring_mixture(5, std=0.3)
    x = torch.randn(16, 2, requires_grad=True)
    lp = gm.log_prob(x, sigma=0.4).sum()
    (grad,) = torch.autograd.grad(lp, x)
    assert torch.allclose(gm.score(x.detach(), 0.4), grad, atol=1e-4)


def test_mixture_moments(gen):
    gm = toy2d.GaussianMixture([1, 2, 1], [[0, 0], [2, 1], [-1, 3]], [0.2, 0.4, 0.3])
    s = gm.sample(200_000, gen)
    assert torch.allclose(s.mean(0), gm.mean(), atol=0.02)
    assert torch.allclose(torch.cov(s.T), gm.covariance(), atol=0.03)


def test_mlp_denoiser_learns_the_mixture_quickly(gen):
    gm = toy2d.ring_mixture(8, std=0.15)
    model, losses = toy2d.train_mlp_denoiser(gm.sample(10_000, gen), steps=600, seed=0)
    assert sum(losses[-50:]) / 50 < sum(losses[:50]) / 50
    x0 = gm.sample(2000, gen)
    sigma = 0.5
    x = x0 + sigma * torch.randn(x0.shape, generator=gen)
    with torch.no_grad():
        err_model = ((model(x, sigma) - gm.denoiser(x, sigma)) ** 2).sum(1).mean()
    # baseline: the best *linear* denoiser (what an untrained EDM network gives: c_skip·x)
    v = gm.covariance()[0, 0]
    err_linear = ((x * v / (v + sigma ** 2) - gm.denoiser(x, sigma)) ** 2).sum(1).mean()
    assert err_model < 0.5 * err_linear, (err_model, err_linear)


def test_spiral_shape(gen):
    s = toy2d.spiral(1000, gen)
    assert s.shape == (1000, 2) and s.abs().max() < 1.5
