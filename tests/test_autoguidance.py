"""Autoguidance (msdm_tutorial.autoguidance): D_w = D_0 + w·(D_1 − D_0) around the shared sampler loops."""

from __future__ import annotations

import pytest
import torch

from msdm_tutorial import tasks
from msdm_tutorial.autoguidance import AutoguidedDenoiser


class Gaussian(torch.nn.Module):
    """The exact denoiser of stems with variance ``var`` each: D(x; σ) = v / (v + σ²) · x; counts its calls."""

    def __init__(self, var: float, stems=("bass", "drums"), sample_rate=22050):
        super().__init__()
        self.var, self.stems, self.sample_rate, self.calls = var, stems, sample_rate, 0

    def forward(self, x, sigma):
        self.calls += 1
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
        return self.var / (self.var + s ** 2) * x


def test_weight_one_is_the_main_model_and_never_calls_the_guide():
    main, guide = Gaussian(0.04), Gaussian(0.09)
    x = torch.randn(3, 2, 16)
    out = AutoguidedDenoiser(main, guide, 1.0)(x, 0.5)
    assert torch.equal(out, main(x, 0.5))
    assert guide.calls == 0


def test_extrapolates_from_the_guide_through_the_main_model():
    main, guide = Gaussian(0.04), Gaussian(0.09)
    x, w = torch.randn(3, 2, 16), 2.5
    d1, d0 = main(x, 0.3), guide(x, 0.3)
    torch.testing.assert_close(AutoguidedDenoiser(main, guide, w)(x, 0.3), d0 + w * (d1 - d0))


def test_sigma_max_guides_only_the_items_below_it_and_skips_the_guide_above():
    main, guide = Gaussian(0.04), Gaussian(0.09)
    d = AutoguidedDenoiser(main, guide, 2.0, sigma_max=1.5)
    x = torch.randn(3, 2, 16)
    sigma = torch.tensor([0.1, 1.5, 5.0])
    out, d1, d0 = d(x, sigma), main(x, sigma), guide(x, sigma)
    torch.testing.assert_close(out[:2], (d1 + (d1 - d0))[:2])
    torch.testing.assert_close(out[2], d1[2])
    guide.calls = 0
    d(x, 10.0)
    assert guide.calls == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="weight must be ≥ 1"):
        AutoguidedDenoiser(Gaussian(0.04), Gaussian(0.09), 0.5)
    with pytest.raises(ValueError, match="stems"):
        AutoguidedDenoiser(Gaussian(0.04), Gaussian(0.09, stems=("bass", "piano")), 2.0)
    with pytest.raises(ValueError, match="sample_rate"):
        AutoguidedDenoiser(Gaussian(0.04), Gaussian(0.09, sample_rate=11025), 2.0)
    with pytest.raises(ValueError, match="sigma_max"):
        AutoguidedDenoiser(Gaussian(0.04), Gaussian(0.09), 2.0, sigma_max=0.0)


def generated_variance(denoiser, n=4096, t=32) -> float:
    cfg = tasks.GenerationConfig(num_steps=64, sampler="heun", s_churn=0.0, sigma_max=20.0, sigma_min=1e-3)
    x = tasks.generate(denoiser, (n, 2, t), cfg, generator=torch.Generator().manual_seed(0), margin=0, precision="fp32")
    return float(x.double().var())


def test_a_guide_that_errs_the_same_way_more_pulls_generation_towards_the_data():
    """Stems of variance v. The main model has learnt 1.5 v (too spread out), its weaker version 2.25 v
    (the same error, more of it). Guidance with w = 2 brings the generated variance from 1.5 v to within
    15 % of v; a guide that errs the *other* way (0.5 v: a different kind of model) pushes it away."""
    v = 0.04
    main = Gaussian(1.5 * v)
    plain = generated_variance(main) / v
    guided = generated_variance(AutoguidedDenoiser(main, Gaussian(2.25 * v), 2.0)) / v
    other = generated_variance(AutoguidedDenoiser(main, Gaussian(0.5 * v), 2.0)) / v
    assert abs(plain - 1.5) < 0.05
    assert abs(guided - 1.0) < 0.15
    assert other > 1.5 + 0.3


def test_with_guide_finds_the_companion_and_takes_its_recorded_setting(tmp_path):
    from msdm_tutorial import checkpoints, models, unet
    from msdm_tutorial.denoiser import EDMDenoiser

    cfg = unet.PRESETS["tiny"]
    stems = ("bass", "drums", "guitar", "piano")
    for name, extra in (("m.pt", None), ("m-guide.pt", {"autoguidance": {"weight": 1.7, "sigma_max": 2.0}}),
                        ("other.pt", None)):
        checkpoints.save(tmp_path / name, EDMDenoiser(unet.build(cfg), stems=stems, sample_rate=22050), cfg, extra=extra)
    model = models.load_model(tmp_path / "m.pt")
    assert models.companion_guide(tmp_path / "m.pt") == tmp_path / "m-guide.pt"
    assert models.companion_guide(tmp_path / "other.pt") is None
    guided = models.with_guide(model, tmp_path / "m.pt")
    assert (guided.weight, guided.sigma_max) == (1.7, 2.0)
    assert models.with_guide(model, tmp_path / "m.pt", "none") is model
    assert models.with_guide(model, tmp_path / "other.pt") is model, "no companion: the model alone"
    explicit = models.with_guide(model, tmp_path / "other.pt", str(tmp_path / "other.pt"), 3.0)
    assert (explicit.weight, explicit.sigma_max) == (3.0, None), "a guide that records nothing: every σ"


def test_the_shipped_model_ships_with_a_guide_of_its_own_architecture():
    from msdm_tutorial import checkpoints, course, models

    path = course.checkpoint("msdm-tiny")
    guided = models.with_guide(checkpoints.load(path), path)
    assert isinstance(guided, AutoguidedDenoiser), "msdm-tiny-guide.pt is missing"
    assert (guided.weight, guided.sigma_max) == (1.5, 3.0)      # data_small/checkpoints/README.md
    assert guided.guide.net.config == guided.main.net.config, "the guide is the same network, trained shorter"
    assert models.recorded_guidance(models.companion_guide(path))["main"] == path.name
