import pytest
import torch
from torch import nn

from msdm_tutorial.denoiser import EDMDenoiser, c_in, c_noise, c_out, c_skip, edm_loss, loss_weight


class Zero(nn.Module):
    def forward(self, x, c):
        return torch.zeros_like(x)


class Recorder(nn.Module):
    """Returns a fixed tensor and records what it was fed."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, x, c):
        self.x, self.c = x, c
        return self.out


def test_zero_network_gives_c_skip_x(gen):
    d = EDMDenoiser(Zero(), sigma_data=0.2, clamp=False)
    x = torch.randn(3, 4, 16, generator=gen)
    sigma = torch.tensor([0.01, 0.2, 5.0])
    expected = (0.2 ** 2 / (sigma ** 2 + 0.2 ** 2)).view(3, 1, 1) * x
    assert torch.allclose(d(x, sigma), expected, atol=1e-7)


def test_preconditioning_formulas(gen):
    sd = 0.2
    x = torch.randn(2, 1, 8, generator=gen)
    f = torch.randn(2, 1, 8, generator=gen)
    net = Recorder(f)
    d = EDMDenoiser(net, sigma_data=sd, clamp=False)
    sigma = torch.tensor([0.05, 3.0])
    out = d(x, sigma)
    s = sigma.view(2, 1, 1)
    assert torch.allclose(net.x, x / (s ** 2 + sd ** 2).sqrt())
    assert torch.allclose(net.c, 0.25 * sigma.log())
    expect = sd ** 2 / (s ** 2 + sd ** 2) * x + s * sd / (s ** 2 + sd ** 2).sqrt() * f
    assert torch.allclose(out, expect, atol=1e-6)
    # the pieces are exported too
    assert torch.allclose(c_skip(s, sd) * x + c_out(s, sd) * f, expect, atol=1e-6)
    assert torch.allclose(c_in(s, sd), 1 / (s ** 2 + sd ** 2).sqrt()) and torch.allclose(c_noise(sigma), sigma.log() / 4)


def test_clamp_applies_only_when_asked():
    big = Recorder(torch.full((1, 1, 4), 100.0))
    x = torch.zeros(1, 1, 4)
    assert EDMDenoiser(big, clamp=True)(x, 1.0).abs().max() == 1.0
    assert EDMDenoiser(big, clamp=False)(x, 1.0).abs().max() > 1.0


def test_loss_weight_equals_lambda(gen):
    sd = 0.2
    sigma = torch.tensor([1e-3, 0.05, 0.2, 10.0])
    assert torch.allclose(loss_weight(sigma, sd), (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2)
    # the denoiser's loss is exactly λ(σ)·mean‖D − x0‖² per item, averaged
    d = EDMDenoiser(Zero(), sigma_data=sd)
    x0 = torch.randn(4, 2, 32, generator=gen) * sd
    n = torch.randn(4, 2, 32, generator=gen)
    s = sigma.view(4, 1, 1)
    per_item = ((c_skip(s, sd) * (x0 + s * n) - x0) ** 2).flatten(1).mean(1)
    assert torch.allclose(d.loss(x0, sigma=sigma, noise=n), (loss_weight(sigma, sd) * per_item).mean(), rtol=1e-5)


def test_stem_weights_weigh_each_stems_error_and_are_normalised(gen):
    """Σ_k w_k‖D_k − x0_k‖² / Σ_k w_k: equal weights give the plain loss, a scale of w changes nothing,
    and a weight moves the loss towards that stem's own error."""
    sd = 0.2
    d = EDMDenoiser(Zero(), sigma_data=sd)
    x0 = torch.randn(3, 4, 64, generator=gen) * torch.tensor([0.4, 0.1, 0.1, 0.05]).view(1, 4, 1)
    n = torch.randn(3, 4, 64, generator=gen)
    sigma = torch.tensor([0.05, 0.5, 3.0])
    plain = edm_loss(d, x0, sigma, n, sd)
    assert torch.allclose(edm_loss(d, x0, sigma, n, sd, (2.0, 2.0, 2.0, 2.0)), plain)
    assert torch.allclose(edm_loss(d, x0, sigma, n, sd, (1, 1, 1, 4)), edm_loss(d, x0, sigma, n, sd, (3, 3, 3, 12)))
    per_stem = [edm_loss(d, x0[:, k:k + 1], sigma, n[:, k:k + 1], sd) for k in range(4)]
    weighted = edm_loss(d, x0, sigma, n, sd, (1, 1, 1, 4))
    assert torch.allclose(weighted, (per_stem[0] + per_stem[1] + per_stem[2] + 4 * per_stem[3]) / 7, rtol=1e-5)
    assert not torch.allclose(weighted, plain)
    for bad in ((1, 1, 1), (1, 1, 1, 0), (1, 1, -1, 4)):
        with pytest.raises(ValueError, match="stem_weights"):
            edm_loss(d, x0, sigma, n, sd, bad)


def test_zero_network_loss_is_one_for_data_with_variance_sigma_data(gen):
    """With F = 0 the weighted loss equals c_out⁻²·E‖c_skip(x0+σn) − x0‖² = 1 when Var x0 = σ_d²."""
    sd = 0.2
    d = EDMDenoiser(Zero(), sigma_data=sd)
    x0 = torch.randn(64, 1, 4096, generator=gen) * sd
    for s in (0.01, 0.2, 30.0):
        loss = d.loss(x0, sigma=torch.full((64,), s), generator=gen).item()
        assert abs(loss - 1.0) < 0.02, (s, loss)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), torch.tensor([0.1, 0.0])])
def test_bad_sigma_raises(sigma):
    d = EDMDenoiser(Zero())
    with pytest.raises(ValueError, match="sigma"):
        d(torch.zeros(2, 1, 4), sigma)


def test_bad_inputs_raise():
    d = EDMDenoiser(Zero())
    with pytest.raises(ValueError, match="NaN"):
        d(torch.tensor([[[float("nan"), 0.0]]]), 1.0)
    with pytest.raises(ValueError, match="sigma must be a float"):
        d(torch.zeros(2, 1, 4), torch.ones(3))
