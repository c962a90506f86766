#!/usr/bin/env python
"""Make the U-Net parity fixtures from the original package (audio-diffusion-pytorch 0.0.43).

Run it in a separate environment that has the reference installed (it needs only torch, einops
and einops-exts; its other declared dependency is a typing stub):

    python3 -m venv /tmp/adp && /tmp/adp/bin/pip install torch
    /tmp/adp/bin/pip install --no-deps audio-diffusion-pytorch==0.0.43 && /tmp/adp/bin/pip install einops einops-exts
    /tmp/adp/bin/python scripts/make_unet_reference.py            # writes tests/fixtures/unet_reference_*.pt

For each small configuration in ``CONFIGS`` it builds the original ``AudioDiffusionModel``,
perturbs every norm weight/bias and the Fourier frequencies away from their initial values
(initial ones would hide a swapped or missing norm), and stores the original state dict, the
model arguments, inputs at two lengths, per-item and scalar σ, and the original outputs: the
raw network F(c_in·x, c_noise) and the denoiser D(x; σ). ``tests/test_unet.py`` checks our
implementation against these files on every run, without the package.

``--paper`` instead compares ours with the original at the paper's configuration (405M
parameters; fp32 on CPU needs ~4 GB and about a minute) and prints the errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# Small configurations that between them exercise every option of UNet1d we reimplement.
CONFIGS = {
    # The paper's layout in miniature: 4 stems, 1 patch block, attention at the deepest levels
    # and in the bottleneck, skip scale on.
    "micro": dict(in_channels=4, channels=16, patch_factor=4, patch_blocks=1, multipliers=[1, 2, 2, 2],
                  factors=[4, 2, 2], num_blocks=[1, 2, 1], attentions=[False, True, True],
                  attention_heads=2, attention_features=8, attention_multiplier=2, resnet_groups=4,
                  kernel_multiplier_downsample=2, use_skip_scale=True, use_attention_bottleneck=True),
    # The unusual corners: 2 patch blocks, an odd factor (3: output_padding) and factor 1 (plain
    # conv instead of a transposed one), kernel multiplier 4, no skip scale, no bottleneck
    # attention, one stem, attention multiplier 3.
    "corners": dict(in_channels=1, channels=16, patch_factor=2, patch_blocks=2, multipliers=[1, 2, 1],
                    factors=[3, 1], num_blocks=[2, 1], attentions=[True, False], attention_heads=4,
                    attention_features=4, attention_multiplier=3, resnet_groups=2,
                    kernel_multiplier_downsample=4, use_skip_scale=False, use_attention_bottleneck=False),
}

PAPER = dict(in_channels=4, channels=256, patch_factor=16, patch_blocks=1, multipliers=[1, 2, 4, 4, 4, 4, 4],
             factors=[4, 4, 4, 2, 2, 2], num_blocks=[2, 2, 2, 2, 2, 2],
             attentions=[False, False, False, True, True, True], attention_heads=8, attention_features=128,
             attention_multiplier=2, resnet_groups=8, kernel_multiplier_downsample=2, use_skip_scale=True,
             use_attention_bottleneck=True)

# Arguments the paper passes besides the U-Net's (exp/train_msdm.yaml).
DIFFUSION = dict(kernel_sizes_init=[1, 3, 7], use_nearest_upsample=False, diffusion_sigma_data=0.2,
                 diffusion_dynamic_threshold=0.0)


def build_original(kw: dict, seed: int = 0):
    """The original AudioDiffusionModel with norms and Fourier weights perturbed, in eval mode."""
    from audio_diffusion_pytorch import AudioDiffusionModel, LogNormalDistribution

    torch.manual_seed(seed)
    model = AudioDiffusionModel(**kw, **DIFFUSION,
                                diffusion_sigma_distribution=LogNormalDistribution(mean=-3.0, std=1.0))
    perturb(model)
    return model.eval()


@torch.no_grad()
def perturb(model: torch.nn.Module, amount: float = 0.3) -> None:
    """Move every norm gain/bias and the Fourier frequencies away from their initial values."""
    for name, p in model.named_parameters():
        if name.endswith((".g", "groupnorm.weight")):
            p.mul_(1 + amount * torch.randn_like(p))
        elif name.endswith("groupnorm.bias"):
            p.add_(amount * torch.randn_like(p))
        elif name.endswith("to_time.0.0.weights"):
            p.add_(amount * torch.randn_like(p))


def downsampling(kw: dict) -> int:
    n = kw["patch_factor"] ** kw["patch_blocks"]
    for f in kw["factors"]:
        n *= f
    return n


@torch.no_grad()
def reference_cases(model, kw: dict, lengths=(2, 3), batch: int = 2, seed: int = 1) -> list[dict]:
    """Inputs at two lengths, each with a per-item σ and a scalar σ, and the original outputs."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n in lengths:
        x = 0.3 * torch.randn(batch, kw["in_channels"], n * downsampling(kw), generator=g)
        for sigma in (torch.tensor([0.05, 2.0])[:batch], 0.3):
            diffusion = model.diffusion
            if isinstance(sigma, float):
                denoised = diffusion.denoise_fn(x, sigma=sigma)
                sigmas = torch.full((batch,), sigma)
            else:
                denoised = diffusion.denoise_fn(x, sigmas=sigma)
                sigmas = sigma
            _, _, c_in, c_noise = diffusion.get_scale_weights(sigmas)
            net = model.unet(c_in * x, c_noise)
            cases.append({"x": x, "sigma": sigma, "net": net, "denoised": denoised})
    return cases


def make_fixtures() -> None:
    import audio_diffusion_pytorch

    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, kw in CONFIGS.items():
        model = build_original(kw)
        payload = {
            "package": f"audio-diffusion-pytorch {getattr(audio_diffusion_pytorch, '__version__', '0.0.43')}",
            "torch": str(torch.__version__),
            "hparams": {**kw, **DIFFUSION},
            "state_dict": model.state_dict(),  # unet.* and diffusion.net.* (the same tensors)
            "cases": reference_cases(model, kw),
        }
        path = FIXTURES / f"unet_reference_{name}.pt"
        torch.save(payload, path)
        params = sum(p.numel() for p in model.unet.parameters())
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e3:.0f} kB, {params:,} parameters)")


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


@torch.no_grad()
def paper_parity(length: int = 16384) -> None:
    """Load the original paper-config weights into ours and compare F and D."""
    sys.path.insert(0, str(ROOT))
    from msdm_tutorial import paper_checkpoints, unet
    from msdm_tutorial.denoiser import EDMDenoiser

    model = build_original(PAPER)
    ours = unet.build(unet.UNetConfig(**PAPER))
    ours.load_state_dict(paper_checkpoints.convert_original_state_dict(model.state_dict()))
    ours.eval()
    d = EDMDenoiser(ours, sigma_data=0.2)
    print(f"parameters: original {sum(p.numel() for p in model.unet.parameters()):,}, "
          f"ours {unet.num_parameters(ours):,}")
    for case in reference_cases(model, PAPER, lengths=(length // 8192, 2 * length // 8192), batch=2):
        sigma = case["sigma"]
        sig = sigma if isinstance(sigma, torch.Tensor) else torch.full((2,), sigma)
        net = ours(case["x"] / (sig ** 2 + 0.04).sqrt()[:, None, None], 0.25 * sig.log())
        den = d(case["x"], sigma)
        print(f"T={case['x'].shape[-1]:6d} sigma={'per-item' if isinstance(sigma, torch.Tensor) else 'scalar':8s} "
              f"F rel err {relative_error(net, case['net']):.2e}  D rel err {relative_error(den, case['denoised']):.2e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="compare at the paper configuration instead")
    parser.add_argument("--length", type=int, default=16384, help="input length for --paper (multiple of 8192)")
    args = parser.parse_args(argv)
    if args.paper:
        paper_parity(args.length)
    else:
        make_fixtures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
