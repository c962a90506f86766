"""The waveform U-Net: presets, shapes, errors, and parity with audio-diffusion-pytorch 0.0.43.

Parity runs on every test run against committed fixtures (tests/fixtures/unet_reference_*.pt,
made by scripts/make_unet_reference.py from the original package). When the package itself is
importable, the same checks also run live (the paper configuration, through a Lightning
checkpoint, is in tests/test_checkpoints.py under ``MSDM_SLOW_TESTS=1``).
"""

from pathlib import Path

import pytest
import torch
from torch import nn

from msdm_tutorial import paper_checkpoints, unet
from msdm_tutorial.denoiser import EDMDenoiser

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCES = sorted(FIXTURES.glob("unet_reference_*.pt"))


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def micro_config(**changes):
    cfg = dict(in_channels=4, channels=16, patch_factor=4, patch_blocks=1, multipliers=(1, 2, 2),
               factors=(2, 2), num_blocks=(1, 1), attentions=(False, True), attention_heads=2,
               attention_features=8, resnet_groups=4)
    cfg.update(changes)
    return unet.UNetConfig(**cfg)


# ---------------------------------------------------------------------------------------------
# Presets


def test_paper_parameter_counts():
    assert unet.num_parameters(unet.build("paper", device="meta")) == 405_497_700
    assert unet.num_parameters(unet.build("paper-isdm", device="meta")) == 405_491_100


def test_presets_are_consistent():
    assert unet.PRESETS["paper"].downsampling == 16 * 4 * 4 * 4 * 2 * 2 * 2 == 8192
    tiny = unet.PRESETS["tiny"]
    assert unet.num_parameters(unet.build("tiny", device="meta")) <= 4_000_000
    assert 32768 % tiny.downsampling == 0 and 22050 * 2 >= 32768  # 1.5 s chunks are valid
    # tiny-wide-ctx is an ablation of one factor: tiny-wide with wider attention levels and 6 heads
    ctx = unet.PRESETS["tiny-wide-ctx"]
    assert ctx.replace(multipliers=(1, 1, 2, 2, 2), attention_heads=4) == unet.PRESETS["tiny-wide"]
    assert ctx.channels * ctx.multipliers[-1] == ctx.attention_heads * ctx.attention_features
    for name, cfg in unet.PRESETS.items():
        assert unet.get_config(name) is cfg
        assert unet.UNetConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_preset_and_bad_config():
    with pytest.raises(ValueError, match="unknown U-Net preset 'huge'"):
        unet.get_config("huge")
    with pytest.raises(ValueError, match="len"):
        unet.UNetConfig(factors=(4, 4))
    with pytest.raises(ValueError, match="unknown field"):
        unet.UNetConfig.from_dict({"chanels": 3})
    with pytest.raises(ValueError, match="2 channels, not divisible into min.patch_factor, 4. = 4 GroupNorm groups"):
        unet.UNetConfig(channels=32, patch_factor=16)


# ---------------------------------------------------------------------------------------------
# Shapes and errors


def test_forward_shape_and_scalar_c_noise():
    torch.manual_seed(0)
    net = unet.UNet(micro_config()).eval()
    x = torch.randn(2, 4, 64)
    with torch.no_grad():
        y = net(x, torch.tensor([0.1, -1.0]))
        y_scalar = net(x, -1.0)
        y_vec = net(x, torch.tensor([-1.0, -1.0]))
    assert y.shape == x.shape
    assert torch.allclose(y_scalar, y_vec)


def test_wrong_length_and_channels_raise_clear_errors():
    net = unet.UNet(micro_config())
    with pytest.raises(ValueError, match=r"input length 100 is not a multiple of 16 .* pad to 112"):
        net(torch.randn(1, 4, 100), 0.0)
    with pytest.raises(ValueError, match=r"shape \(batch, 4, samples\), got \(1, 2, 64\)"):
        net(torch.randn(1, 2, 64), 0.0)
    with pytest.raises(ValueError, match=r"c_noise must have shape \(2,\)"):
        net(torch.randn(2, 4, 64), torch.zeros(3))


def test_round_up():
    assert [unet.round_up(n, 8) for n in (1, 8, 9, 16, 0)] == [8, 8, 16, 16, 0]
    with pytest.raises(ValueError):
        unet.round_up(5, 0)


def test_pad_and_valid_length():
    net = unet.build("paper", device="meta")
    assert net.valid_length(1) == 8192 and net.valid_length(8192) == 8192 and net.valid_length(8193) == 16384
    x = torch.ones(1, 4, 10000)
    padded = net.pad(x)
    assert padded.shape[-1] == 16384 and padded[..., :10000].eq(1).all() and padded[..., 10000:].eq(0).all()


def test_patch_folds_samples_into_channels():
    x = torch.arange(2 * 8, dtype=torch.float32).view(1, 2, 8)
    p = unet.patch(x, 4)
    assert p.shape == (1, 8, 2)
    assert p[0, 0 * 4 + 1].tolist() == [1.0, 5.0]  # channel c·p + j holds samples j, j+p of channel c
    assert p[0, 1 * 4 + 3].tolist() == [11.0, 15.0]
    assert torch.equal(unet.unpatch(p, 4), x)


def test_time_embedding_fourier_features():
    emb = unet.TimeEmbedding(channels=8, features=32)
    t = torch.tensor([0.0, 0.5])
    f = emb.fourier(t)
    assert f.shape == (2, 9)
    assert torch.equal(f[:, 0], t)
    assert torch.allclose(f[1, 1:5], torch.sin(2 * torch.pi * 0.5 * emb.freqs))
    assert emb(t).shape == (2, 32)


def test_describe_paper_on_meta_device():
    rows = {r["stage"]: r for r in unet.describe("paper", 262144)}
    assert sum(r["parameters"] for r in rows.values()) == 405_497_700
    assert (rows["patch 0"]["channels"], rows["patch 0"]["length"]) == (256, 16384)
    assert (rows["down 5"]["channels"], rows["down 5"]["length"]) == (1024, 32)
    assert (rows["mid"]["length"], rows["mid"]["tokens"]) == (32, 32)
    assert [rows[f"down {i}"]["tokens"] for i in range(6)] == [0, 0, 0, 128, 64, 32]
    assert (rows["unpatch 0"]["channels"], rows["unpatch 0"]["length"]) == (4, 262144)
    assert unet.level_lengths("paper", 262144) == [16384, 4096, 1024, 256, 128, 64, 32]


def test_receptive_field_matches_gradient_support(monkeypatch):
    """Without norms (their statistics span the whole signal) and attention, one output sample
    depends on a window of input samples at least ``receptive_field`` wide (the deepest path),
    and skip connections widen it by less than one downsampling period."""
    import torch.nn.functional as F

    monkeypatch.setattr(F, "group_norm", lambda x, *args, **kwargs: x)
    cfg = micro_config(attentions=(False, False), use_attention_bottleneck=False, factors=(2, 3),
                       kernel_multiplier_downsample=4)
    torch.manual_seed(0)
    net = unet.UNet(cfg)
    n = cfg.downsampling * 40
    x = torch.randn(1, 4, n, requires_grad=True)
    y = net(x, 0.0)
    y[0, 0, n // 2].backward()
    support = x.grad[0].abs().sum(0).nonzero().flatten()
    width = (support.max() - support.min() + 1).item()
    rf = unet.receptive_field(cfg)
    assert rf <= width < rf + cfg.downsampling, (width, rf)


# ---------------------------------------------------------------------------------------------
# Parity with the original (committed fixtures)


def _load_reference(path):
    ref = torch.load(path, weights_only=True)
    fields = unet.UNetConfig.__dataclass_fields__
    cfg = unet.UNetConfig(**{k: v for k, v in ref["hparams"].items() if k in fields})
    return ref, cfg


def _denoiser_from_original_state(state, cfg, sigma_data=0.2):
    net = unet.UNet(cfg)
    net.load_state_dict(paper_checkpoints.convert_original_state_dict(state))
    return EDMDenoiser(net, sigma_data=sigma_data).eval()


@pytest.mark.parametrize("path", REFERENCES, ids=[p.stem for p in REFERENCES])
def test_parity_with_reference_fixture(path):
    ref, cfg = _load_reference(path)
    d = _denoiser_from_original_state(ref["state_dict"], cfg)
    assert unet.num_parameters(d.net) == sum(v.numel() for k, v in ref["state_dict"].items() if k.startswith("unet."))
    lengths, kinds = set(), set()
    for case in ref["cases"]:
        x, sigma = case["x"], case["sigma"]
        s = sigma if isinstance(sigma, torch.Tensor) else torch.full((x.shape[0],), sigma)
        with torch.no_grad():
            out = d(x, sigma)
            f = d.net(x / (s ** 2 + 0.04).sqrt()[:, None, None], 0.25 * s.log())
        assert rel_err(f, case["net"]) < 1e-5, f"network output differs at T={x.shape[-1]}"
        assert rel_err(out, case["denoised"]) < 1e-5, f"denoiser output differs at T={x.shape[-1]}"
        lengths.add(x.shape[-1])
        kinds.add(isinstance(sigma, torch.Tensor))
    assert len(lengths) == 2 and kinds == {True, False}


def test_fixtures_exist_and_perturbed():
    assert {p.stem for p in REFERENCES} >= {"unet_reference_micro", "unet_reference_corners"}
    ref, _ = _load_reference(REFERENCES[0])
    gains = [v for k, v in ref["state_dict"].items() if k.startswith("unet.") and k.endswith((".g", "groupnorm.weight"))]
    assert gains and all(not torch.allclose(g, torch.ones_like(g)) for g in gains)


def test_infer_config_from_shapes():
    paper = unet.build("paper", device="meta").state_dict()
    assert paper_checkpoints.infer_config(paper) == unet.PRESETS["paper"]
    tiny = unet.build("tiny", device="meta").state_dict()
    assert paper_checkpoints.infer_config(tiny, hints={"attention_heads": 4}) == unet.PRESETS["tiny"]
    for path in REFERENCES:
        ref, cfg = _load_reference(path)
        state = paper_checkpoints.convert_original_state_dict(ref["state_dict"])
        assert paper_checkpoints.infer_config(state, hints=ref["hparams"]) == cfg


# ---------------------------------------------------------------------------------------------
# Parity with the original package itself, when it is installed


@pytest.mark.parametrize("name", ["micro", "corners", "tiny"])
def test_live_parity_small(name, unet_reference_script):
    mk = unet_reference_script
    kw = mk.CONFIGS[name] if name in mk.CONFIGS else unet.PRESETS[name].to_dict()
    model = mk.build_original(kw, seed=123)
    d = _denoiser_from_original_state(model.state_dict(), unet.UNetConfig(**kw))
    for case in mk.reference_cases(model, kw):
        with torch.no_grad():
            assert rel_err(d(case["x"], case["sigma"]), case["denoised"]) < 1e-5


# ---------------------------------------------------------------------------------------------
# Local GroupNorm statistics (norm_window): the noise-floor ablation of issue 12


def test_group_norm_whole_input_is_torch_group_norm():
    h = torch.randn(2, 16, 512)
    for window in (0, 512, 10_000):
        torch.testing.assert_close(unet.group_norm(h, 4, window), nn.functional.group_norm(h, 4), rtol=0, atol=0)


def test_local_group_norm_matches_block_statistics():
    torch.manual_seed(0)
    h = torch.randn(2, 16, 1024) * torch.linspace(0.01, 3, 1024)   # loudness changes along time
    window = 255
    s = unet.norm_block(window, 1024)
    k = (window // s) | 1
    assert (s, k) == (8, 31)
    out = unet.group_norm(h, 4, window).view(2, 4, 4, 1024)
    hg = h.view(2, 4, 4, 1024)
    for t in (0, 10, 500, 1023):   # the k blocks centred on t's block, cut at the ends
        lo, hi = max(t // s - k // 2, 0) * s, min(t // s + k // 2 + 1, 1024 // s) * s
        seg = hg[..., lo:hi]
        want = (hg[..., t] - seg.mean((2, 3))[..., None]) / torch.sqrt(seg.var((2, 3), unbiased=False)[..., None] + 1e-5)
        torch.testing.assert_close(out[..., t], want, rtol=1e-5, atol=1e-5)


def test_local_group_norm_keeps_a_rest_at_its_own_scale():
    """Global statistics divide a quiet stretch by the loud one's; local ones give it unit variance."""
    torch.manual_seed(0)
    h = torch.randn(1, 4, 8192)
    h[..., :4096] *= 1e-2                                  # a 'rest' beside 'notes' 100× louder
    rest = slice(256, 3840)
    assert unet.group_norm(h, 2, 0)[..., rest].std() < 0.05
    assert 0.9 < unet.group_norm(h, 2, 511)[..., rest].std() < 1.1
    # float64 pooling: a rest 10⁴× quieter than a constant offset keeps its variance
    quiet = 0.5 + 1e-2 * torch.randn(1, 4, 8192)
    assert 0.9 < unet.group_norm(quiet, 2, 511).std() < 1.1


def test_localnorm_preset_shares_tiny_weights_and_its_output_depends_on_the_window():
    tiny, local = unet.build("tiny"), unet.build("tiny-localnorm")
    assert unet.PRESETS["tiny-localnorm"].replace(norm_window=0) == unet.PRESETS["tiny"]
    local.load_state_dict(tiny.state_dict())               # same weights, strict
    x = torch.randn(1, 4, 8192)
    x[..., :4096] *= 1e-3
    with torch.no_grad():
        a, b = tiny(x, 0.0), local(x, 0.0)
    assert a.shape == b.shape and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="norm_window must be >= 0"):
        unet.UNetConfig(norm_window=-1)
