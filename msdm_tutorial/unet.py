"""The waveform U-Net of MSDM: ``UNet1d`` of audio-diffusion-pytorch 0.0.43, reimplemented.

The network F(x_in, c_noise) that the EDM wrapper (``msdm_tutorial.denoiser``) turns into the
denoiser D(x; σ). Input and output are waveforms ``(batch, stems, samples)``; ``c_noise = ¼ ln σ``
is one number per item. Same parameters and the same function as the original (checked against
the package by ``tests/test_unet.py``), in plain PyTorch.

Data path for the paper configuration (channels C = 256), for T input samples::

    x (B, 4, T)
    patch:    ResnetBlock 4 → C/16 at full rate, then fold 16 samples into channels → (B, C, T/16)
    down i:   Conv(kernel 2f+1, stride f) C·m_i → C·m_{i+1}, n ResnetBlocks, [Transformer]
              factors 4,4,4,2,2,2 → lengths T/64 … T/8192; every block output is a skip
    mid:      ResnetBlock → Attention (no residual) → ResnetBlock               (B, 4C, T/8192)
    up i:     n (+1 at attention levels) ResnetBlocks on cat(x, skip·2^−½), [Transformer],
              ConvTranspose(kernel 2f, stride f)
    unpatch:  x + patch-level skip, unfold channels into 16 samples, ResnetBlock C/16 → 4

Every ResnetBlock is conditioned on σ through a scale and shift of its second half::

    h = Conv3(SiLU(GN(x)))
    h = Conv3(SiLU(GN(h)·(1 + scale) + shift)),   (scale, shift) = Linear(SiLU(mapping))
    out = h + x            (or h + Conv1(x) when the channel count changes)

``mapping`` (width 4C) embeds c_noise with learned Fourier features: frequencies w (C/2 of them),
f = 2π·w·c_noise, [c_noise, sin f, cos f] → Linear → GELU → Linear → GELU → Linear → GELU.

A Transformer block (channels last inside) is  x += Attention(x);  x += FeedForward(x)  with
Attention = LN → q, kv → softmax(q·kᵀ/√d)·v over heads → Linear → LN   (no biases anywhere) and
FeedForward = LN → Linear(C, mC) → GELU → LN → Linear(mC, C).

The paper's model has 405,497,700 parameters (4 stems) and 405,491,100 (one stem, ISDM); its
input length must be a multiple of 16·4·4·4·2·2·2 = 8192 samples (``UNet.pad`` helps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ≥ ``n``:  ⌈n / m⌉ · m  (integers, m ≥ 1)."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    return -(-int(n) // multiple) * multiple


def level_rate(cfg: UNetConfig, i: int) -> int:
    """How many input samples one frame of down level i's output (= up level i's input) spans."""
    return cfg.patch_factor ** cfg.patch_blocks * math.prod(cfg.factors[:i + 1])


def _patch_channels(cfg: UNetConfig) -> list[tuple[int, int]]:
    """(in, out) channels of each patch block's ResnetBlock, before folding; out·p feeds the next."""
    p, blocks = cfg.patch_factor, cfg.patch_blocks
    pre = [cfg.in_channels * p ** i for i in range(blocks)]
    post = [cfg.in_channels * p ** (i + 1) for i in range(blocks - 1)] + [cfg.channels]
    return [(a, b // p) for a, b in zip(pre, post)]


@dataclass(frozen=True)
class UNetConfig:
    """Architecture hyper-parameters, named as in audio-diffusion-pytorch's ``UNet1d``.

    ``multipliers`` has one more entry than ``factors``/``num_blocks``/``attentions``: level i maps
    ``channels·multipliers[i]`` to ``channels·multipliers[i+1]`` channels while shortening the signal
    by ``factors[i]``. Attention uses ``attention_heads`` heads of ``attention_features`` features.
    """

    in_channels: int = 4
    channels: int = 256
    patch_factor: int = 16
    patch_blocks: int = 1
    multipliers: tuple[int, ...] = (1, 2, 4, 4, 4, 4, 4)
    factors: tuple[int, ...] = (4, 4, 4, 2, 2, 2)
    num_blocks: tuple[int, ...] = (2, 2, 2, 2, 2, 2)
    attentions: tuple[bool, ...] = (False, False, False, True, True, True)
    attention_heads: int = 8
    attention_features: int = 128
    attention_multiplier: int = 2
    resnet_groups: int = 8
    kernel_multiplier_downsample: int = 2
    use_skip_scale: bool = True
    use_attention_bottleneck: bool = True
    norm_window: int = 0            # GroupNorm statistics over this many input samples around each frame (0: whole input)

    def __post_init__(self):
        for name in ("multipliers", "factors", "num_blocks", "attentions"):  # lists → tuples (hashable, frozen)
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "attentions", tuple(bool(a) for a in self.attentions))
        n = len(self.factors)
        if not (len(self.multipliers) == n + 1 and len(self.num_blocks) == n and len(self.attentions) == n):
            raise ValueError(f"UNetConfig: need len(multipliers) = len(factors) + 1 = len(num_blocks) + 1 = "
                             f"len(attentions) + 1, got {len(self.multipliers)}, {n}, {len(self.num_blocks)}, "
                             f"{len(self.attentions)}")
        if min(self.factors, default=1) < 1 or self.patch_factor < 1 or self.patch_blocks < 1:
            raise ValueError("UNetConfig: factors, patch_factor and patch_blocks must be >= 1")
        if self.channels % 2 or self.channels % self.patch_factor:
            raise ValueError(f"UNetConfig: channels ({self.channels}) must be even and divisible by "
                             f"patch_factor ({self.patch_factor})")
        if self.kernel_multiplier_downsample % 2:
            raise ValueError("UNetConfig: kernel_multiplier_downsample must be even")
        for a, b in _patch_channels(self):  # GroupNorm with min(patch_factor, a) groups over b channels
            if b % min(self.patch_factor, a):
                raise ValueError(f"UNetConfig: a patch block has {b} channels, not divisible into "
                                 f"min(patch_factor, {a}) = {min(self.patch_factor, a)} GroupNorm groups")
        if self.norm_window < 0:
            raise ValueError(f"UNetConfig: norm_window must be >= 0 (0 = the whole input), got {self.norm_window}")
        for m in self.multipliers:
            if (self.channels * m) % self.resnet_groups:
                raise ValueError(f"UNetConfig: {self.channels * m} channels are not divisible into "
                                 f"resnet_groups = {self.resnet_groups} groups")

    @property
    def downsampling(self) -> int:
        """Total length reduction: patch_factor**patch_blocks · Π factors (8192 for the paper)."""
        return self.patch_factor ** self.patch_blocks * math.prod(self.factors)

    def to_dict(self) -> dict:
        """Plain dict (lists, ints, bools): what checkpoints store. ``norm_window`` only when set, so
        that the paper's architecture keeps the original's hyper-parameters (and older readers)."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not d["norm_window"]:
            del d["norm_window"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"UNetConfig: unknown field(s) {unknown}")
        return cls(**d)

    def replace(self, **changes) -> UNetConfig:
        return replace(self, **changes)


PRESETS: dict[str, UNetConfig] = {
    # The paper's MSDM model (exp/train_msdm.yaml): 4 stems, 405,497,700 parameters.
    "paper": UNetConfig(),
    # The paper's ISDM ("weakly") models: one network per stem, 405,491,100 parameters each.
    "paper-isdm": UNetConfig(in_channels=1),
    # Same shape at a quarter of the width (27M parameters): one GPU, a few hours.
    "small": UNetConfig(channels=64, attention_features=64),
    # ≤ 4M parameters, trains on a laptop CPU on 1–2 s chunks (valid lengths: multiples of 1024,
    # e.g. 32768 samples ≈ 1.5 s at 22050 Hz).
    "tiny": UNetConfig(channels=32, patch_factor=8, multipliers=(1, 2, 4, 4, 4), factors=(4, 4, 4, 2),
                       num_blocks=(1, 1, 2, 2), attentions=(False, False, True, True),
                       attention_heads=4, attention_features=32),
    # One single-stem ISDM model per stem, at half the width of `tiny` (~1M parameters, 2 MB in
    # fp16), so that four of them fit data_small's 30 MB budget beside the MSDM model.
    "tiny-isdm": UNetConfig(in_channels=1, channels=16, patch_factor=8, multipliers=(1, 2, 4, 4, 4),
                            factors=(4, 4, 4, 2), num_blocks=(1, 1, 2, 2), attentions=(False, False, True, True),
                            attention_heads=4, attention_features=16),
    # `tiny` with twice the channels per packed value at the finest levels: 64 channels at the patch
    # level (T/8) and a first level at T/16 instead of T/32; the coarse levels as tiny's (4.5M parameters).
    # Per-sample detail (the noise to remove inside a rest) then has room beside the ungated skip
    # (benchmarks/rest_capacity.py; issue 12's noise floor).
    "tiny-wide": UNetConfig(channels=64, patch_factor=8, multipliers=(1, 1, 2, 2, 2), factors=(2, 4, 4, 4),
                            num_blocks=(1, 1, 2, 2), attentions=(False, False, True, True),
                            attention_heads=4, attention_features=32),
    # One single-stem ISDM model per stem at half the widths of `tiny-wide` (~1.1M parameters, about a
    # quarter of it): the same levels, factors and attention as the MSDM model that ships (and, with one
    # stem packed instead of four, more channels per packed value), for ISDM against MSDM at equal compute
    # (issue 12).
    "tiny-wide-isdm": UNetConfig(in_channels=1, channels=32, patch_factor=8, multipliers=(1, 1, 2, 2, 2),
                                 factors=(2, 4, 4, 4), num_blocks=(1, 1, 2, 2), attentions=(False, False, True, True),
                                 attention_heads=4, attention_features=16),
    # `tiny` with GroupNorm statistics over 2048 samples (93 ms) around each frame instead of the whole
    # chunk: the same weights, so `tiny` checkpoints fine-tune into it (an ablation of issue 12's noise floor).
    "tiny-localnorm": UNetConfig(channels=32, patch_factor=8, multipliers=(1, 2, 4, 4, 4), factors=(4, 4, 4, 2),
                                 num_blocks=(1, 1, 2, 2), attentions=(False, False, True, True),
                                 attention_heads=4, attention_features=32, norm_window=2048),
}
# `tiny-wide` at half its widths, four stems (1.1M parameters, a quarter of it; about 0.4x its forward
# time): the weaker model that guides `tiny-wide` in autoguidance (msdm_tutorial.autoguidance), trained
# shorter on the same data and σ distribution.
PRESETS["tiny-wide-half"] = PRESETS["tiny-wide"].replace(channels=32, attention_features=16)
# `tiny-wide` with 1.5x the channels at its two attention levels (T/256, T/1024) and the bottleneck,
# 6 attention heads instead of 4: room where the U-Net sees the whole chunk, i.e. where one stem can
# learn from the others (issue 12's joint prior between σ 3 and 0.3), for little compute (few frames).
PRESETS["tiny-wide-ctx"] = PRESETS["tiny-wide"].replace(multipliers=(1, 1, 2, 3, 3), attention_heads=6)


def get_config(config: UNetConfig | str | dict) -> UNetConfig:
    """A preset name, a plain dict or a UNetConfig → UNetConfig."""
    if isinstance(config, UNetConfig):
        return config
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown U-Net preset {config!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[config]
    if isinstance(config, dict):
        return UNetConfig.from_dict(config)
    raise TypeError(f"expected a preset name, dict or UNetConfig, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


class TimeEmbedding(nn.Module):
    """c_noise (B,) → mapping (B, 4C): learned Fourier features, then three Linear+GELU layers.

    f = 2π·w·t for C/2 learned frequencies w ~ N(0, 1);  features = [t, sin f, cos f]  (C + 1 values).
    """

    def __init__(self, channels: int, features: int):
        super().__init__()
        self.freqs = nn.Parameter(torch.randn(channels // 2))
        self.proj = nn.Linear(channels + 1, features)
        self.mlp = nn.Sequential(nn.Linear(features, features), nn.GELU(), nn.Linear(features, features), nn.GELU())

    def fourier(self, t: Tensor) -> Tensor:
        f = t[:, None] * self.freqs[None, :] * 2 * math.pi
        return torch.cat([t[:, None], f.sin(), f.cos()], dim=-1)

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(F.gelu(self.proj(self.fourier(t))))


def box_mean(x: Tensor, window: int) -> Tensor:
    """Mean of ``x`` (…, L) over a centred window of ``window`` frames (odd), shrunk at the ends
    (only frames inside count): a difference of cumulative sums, O(L) for any window, in float64
    (float32 on Apple's MPS, which has no float64)."""
    half = window // 2
    length = x.shape[-1]
    c = F.pad(F.pad(x.to(_wide(x)), (half, half)).cumsum(-1), (1, 0))
    sums = c[..., window:window + length] - c[..., :length]
    i = torch.arange(length, device=x.device)
    counts = (torch.clamp(i + half, max=length - 1) - torch.clamp(i - half, min=0) + 1).to(c.dtype)
    return sums / counts


def _wide(x: Tensor) -> torch.dtype:
    return torch.float32 if x.device.type == "mps" else torch.float64


def norm_block(window: int, length: int) -> int:
    """Frames per block of a local GroupNorm: the largest power of 2 ≤ window/16 that divides ``length``."""
    s = 1
    while s * 2 <= window // 16 and length % (s * 2) == 0:
        s *= 2
    return s


def group_norm(h: Tensor, groups: int, window: int = 0, eps: float = 1e-5,
               weight: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
    """GroupNorm: (h − μ)/√(σ² + ε) [· weight + bias per channel], μ and σ² over the channels of each group and

    * ``window = 0`` (the paper) or ≥ L: the whole input, as ``F.group_norm``;
    * ``window = w``: about w frames around each frame. A rest then keeps its own scale instead of
      being divided by statistics that the notes elsewhere in the chunk dominate.

    Local statistics are pooled over blocks of s ≈ w/16 frames (``norm_block``): each block's mean μ_b
    and variance v_b, then a centred ``box_mean`` over k = ⌊w/s⌋ | 1 blocks, μ = box(μ_b) and
    σ² = box(v_b + μ_b²) − μ², in float64 so that a rest 10⁶× quieter than a neighbouring note keeps
    its variance. All frames of a block share its statistics.
    """
    b, c, length = h.shape
    if window <= 0 or window >= length:
        return F.group_norm(h, groups, weight, bias, eps)
    s = norm_block(window, length)
    hg = h.float().view(b, groups, c // groups, length)
    mean_t = hg.mean(2)                                                        # (b, groups, L): per frame
    var_t = (hg - mean_t[:, :, None]).pow(2).mean(2)
    mean_b = mean_t.view(b, groups, -1, s).mean(-1)                            # (b, groups, L/s): per block
    var_b = (var_t.view(b, groups, -1, s) + (mean_t.view(b, groups, -1, s) - mean_b[..., None]).pow(2)).mean(-1)
    k = max(window // s, 1) | 1
    mean = box_mean(mean_b, k)
    var = (box_mean(var_b.to(mean.dtype) + mean_b.to(mean.dtype) ** 2, k) - mean ** 2).clamp_min(0)
    mean = mean.float().repeat_interleave(s, -1)[:, :, None]
    inv = torch.rsqrt(var + eps).float().repeat_interleave(s, -1)[:, :, None]
    out = ((hg - mean) * inv).view(b, c, length)
    return out if weight is None else out * weight[None, :, None] + bias[None, :, None]


def norm_frames(norm_window: int, rate: int) -> int:
    """A ``norm_window`` of input samples in frames at a level that runs ``rate`` times slower (odd; 0 = whole input)."""
    return max(norm_window // rate, 1) | 1 if norm_window > 0 else 0


class ResnetBlock(nn.Module):
    """h = Conv3(SiLU(GN(x)));  h = Conv3(SiLU(GN(h)·(1+scale) + shift));  return h + skip(x).

    ``window`` (frames): GN statistics over a sliding window instead of the whole input (``group_norm``)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, mapping_features: int, window: int = 0):
        super().__init__()
        self.window = window
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(mapping_features, 2 * out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor, mapping: Tensor) -> Tensor:
        n1 = self.norm1
        h = self.conv1(F.silu(group_norm(x, n1.num_groups, self.window, n1.eps, n1.weight, n1.bias)))
        scale, shift = self.film(F.silu(mapping))[:, :, None].chunk(2, dim=1)
        h = self.conv2(F.silu(modulated_group_norm(h, self.norm2, scale, shift, self.window)))
        return h + self.skip(x)


def modulated_group_norm(h: Tensor, norm: nn.GroupNorm, scale: Tensor, shift: Tensor, window: int = 0) -> Tensor:
    """GN(h)·(1 + scale) + shift, with GN's own affine (γ, β) folded into the modulation:
    (ĥ·γ + β)(1 + s) + t = ĥ·[γ(1 + s)] + [β(1 + s) + t], where the brackets are small (B, C, 1)
    tensors, so the full-size h is normalised, multiplied and shifted once each."""
    a = norm.weight[None, :, None] * (1 + scale)  # (B, C, 1)
    b = norm.bias[None, :, None] * (1 + scale) + shift
    return group_norm(h, norm.num_groups, window, norm.eps) * a + b


class Attention(nn.Module):
    """Multi-head self-attention on (B, L, C) tokens: LN → q, kv → softmax(q·kᵀ/√d)·v → Linear → LN.

    No biases; LayerNorms without bias. ``scaled_dot_product_attention`` (fused, no L×L matrix in
    memory) accumulates the softmax in fp32 under bf16 too, like the original's explicit
    ``softmax(dtype=float32)``.
    """

    def __init__(self, features: int, heads: int, head_features: int):
        super().__init__()
        self.heads = heads
        mid = heads * head_features
        self.norm = nn.LayerNorm(features, bias=False)
        self.q = nn.Linear(features, mid, bias=False)
        self.kv = nn.Linear(features, 2 * mid, bias=False)
        self.out = nn.Linear(mid, features, bias=False)
        self.out_norm = nn.LayerNorm(features, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        q, k, v = self.q(h), *self.kv(h).chunk(2, dim=-1)
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q, k, v))  # (B, heads, L, d)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.out_norm(self.out(o.transpose(1, 2).flatten(2)))


class FeedForward(nn.Module):
    """LN → Linear(C, mC) → GELU → LN → Linear(mC, C) on (B, L, C) tokens, no biases (the original's
    1×1 convolutions over (B, C, L) are the same maps)."""

    def __init__(self, channels: int, multiplier: int):
        super().__init__()
        mid = channels * multiplier
        self.norm1 = nn.LayerNorm(channels, bias=False)
        self.fc1 = nn.Linear(channels, mid, bias=False)
        self.norm2 = nn.LayerNorm(mid, bias=False)
        self.fc2 = nn.Linear(mid, channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.norm2(F.gelu(self.fc1(self.norm1(x)))))


class Transformer(nn.Module):
    """x ← x + Attention(x);  x ← x + FeedForward(x), on (B, C, L) in and out."""

    def __init__(self, channels: int, heads: int, head_features: int, multiplier: int):
        super().__init__()
        self.attention = Attention(channels, heads, head_features)
        self.feed_forward = FeedForward(channels, multiplier)

    def forward(self, x: Tensor) -> Tensor:
        t = x.transpose(1, 2)
        t = t + self.attention(t)
        t = t + self.feed_forward(t)
        return t.transpose(1, 2)


def patch(x: Tensor, p: int) -> Tensor:
    """(B, c, L·p) → (B, c·p, L): channel c·p + j holds samples j, j+p, j+2p, … of channel c."""
    b, c, n = x.shape
    return x.view(b, c, n // p, p).transpose(2, 3).reshape(b, c * p, n // p)


def unpatch(x: Tensor, p: int) -> Tensor:
    """Inverse of :func:`patch`: (B, c·p, L) → (B, c, L·p)."""
    b, cp, n = x.shape
    return x.view(b, cp // p, p, n).transpose(2, 3).reshape(b, cp // p, n * p)


class DownLevel(nn.Module):
    """Strided conv (kernel k·f+1, stride f) → n ResnetBlocks → [Transformer]; every block output is a skip."""

    def __init__(self, cfg: UNetConfig, i: int, mapping_features: int):
        super().__init__()
        c_in, c_out, f, km = cfg.channels * cfg.multipliers[i], cfg.channels * cfg.multipliers[i + 1], \
            cfg.factors[i], cfg.kernel_multiplier_downsample
        self.down = nn.Conv1d(c_in, c_out, f * km + 1, stride=f, padding=f * km // 2)
        window = norm_frames(cfg.norm_window, level_rate(cfg, i))
        self.resnets = nn.ModuleList(ResnetBlock(c_out, c_out, cfg.resnet_groups, mapping_features, window)
                                     for _ in range(cfg.num_blocks[i]))
        self.transformer = Transformer(c_out, cfg.attention_heads, cfg.attention_features,
                                       cfg.attention_multiplier) if cfg.attentions[i] else None

    def forward(self, x: Tensor, mapping: Tensor) -> tuple[Tensor, list[Tensor]]:
        x = self.down(x)
        skips = []
        for resnet in self.resnets:
            x = resnet(x, mapping)
            skips.append(x)
        if self.transformer is not None:
            x = self.transformer(x)
            skips.append(x)
        return x, skips


class UpLevel(nn.Module):
    """n (+1 with attention) ResnetBlocks on cat(x, skip·2^−½) → [Transformer] → ConvTranspose(2f, stride f)."""

    def __init__(self, cfg: UNetConfig, i: int, mapping_features: int):
        super().__init__()
        c_in, c_out, f = cfg.channels * cfg.multipliers[i + 1], cfg.channels * cfg.multipliers[i], cfg.factors[i]
        n = cfg.num_blocks[i] + (1 if cfg.attentions[i] else 0)
        self.skip_scale = 2 ** -0.5 if cfg.use_skip_scale else 1.0
        window = norm_frames(cfg.norm_window, level_rate(cfg, i))
        self.resnets = nn.ModuleList(ResnetBlock(2 * c_in, c_in, cfg.resnet_groups, mapping_features, window)
                                     for _ in range(n))
        self.transformer = Transformer(c_in, cfg.attention_heads, cfg.attention_features,
                                       cfg.attention_multiplier) if cfg.attentions[i] else None
        if f == 1:
            self.up = nn.Conv1d(c_in, c_out, 3, padding=1)
        else:
            self.up = nn.ConvTranspose1d(c_in, c_out, 2 * f, stride=f, padding=f // 2 + f % 2,
                                         output_padding=f % 2)

    def forward(self, x: Tensor, skips: list[Tensor], mapping: Tensor) -> Tensor:
        for resnet in self.resnets:
            x = resnet(torch.cat([x, skips.pop() * self.skip_scale], dim=1), mapping)
        if self.transformer is not None:
            x = self.transformer(x)
        return self.up(x)


class Bottleneck(nn.Module):
    """ResnetBlock → Attention (replaces x: no residual) → ResnetBlock."""

    def __init__(self, cfg: UNetConfig, mapping_features: int):
        super().__init__()
        c = cfg.channels * cfg.multipliers[-1]
        window = norm_frames(cfg.norm_window, cfg.downsampling)
        self.resnet1 = ResnetBlock(c, c, cfg.resnet_groups, mapping_features, window)
        self.attention = Attention(c, cfg.attention_heads, cfg.attention_features) \
            if cfg.use_attention_bottleneck else None
        self.resnet2 = ResnetBlock(c, c, cfg.resnet_groups, mapping_features, window)

    def forward(self, x: Tensor, mapping: Tensor) -> Tensor:
        x = self.resnet1(x, mapping)
        if self.attention is not None:
            x = self.attention(x.transpose(1, 2)).transpose(1, 2)
        return self.resnet2(x, mapping)


# ---------------------------------------------------------------------------------------------
# The U-Net
# ---------------------------------------------------------------------------------------------


class UNet(nn.Module):
    """F(x, c_noise): (B, in_channels, T), (B,) → (B, in_channels, T), T a multiple of ``downsampling``."""

    def __init__(self, config: UNetConfig | str | dict = "paper"):
        super().__init__()
        cfg = self.config = get_config(config)
        mapping_features = 4 * cfg.channels
        self.time = TimeEmbedding(cfg.channels, mapping_features)
        p = cfg.patch_factor
        windows = [norm_frames(cfg.norm_window, p ** j) for j in range(cfg.patch_blocks)]
        self.patch = nn.ModuleList(ResnetBlock(a, b, min(p, a), mapping_features, w)
                                   for (a, b), w in zip(_patch_channels(cfg), windows))
        self.downs = nn.ModuleList(DownLevel(cfg, i, mapping_features) for i in range(len(cfg.factors)))
        self.mid = Bottleneck(cfg, mapping_features)
        self.ups = nn.ModuleList(UpLevel(cfg, i, mapping_features) for i in reversed(range(len(cfg.factors))))
        # Mirror of the patch blocks: unfold, then a ResnetBlock (b·p → a channels at the finer rate).
        self.unpatch = nn.ModuleList(ResnetBlock(b, a, min(p, a), mapping_features, w)
                                     for (a, b), w in reversed(list(zip(_patch_channels(cfg), windows))))

    @property
    def downsampling(self) -> int:
        return self.config.downsampling

    def valid_length(self, length: int) -> int:
        """The smallest valid input length ≥ ``length`` (a multiple of ``downsampling``)."""
        return round_up(max(length, 1), self.downsampling)

    def pad(self, x: Tensor) -> Tensor:
        """Zero-pad the last axis to ``valid_length``; crop the output back with ``y[..., :T]``."""
        return F.pad(x, (0, self.valid_length(x.shape[-1]) - x.shape[-1]))

    def check_input(self, x: Tensor, c_noise: Tensor) -> None:
        cfg = self.config
        if x.ndim != 3 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"U-Net input must have shape (batch, {cfg.in_channels}, samples), "
                             f"got {tuple(x.shape)}")
        if x.shape[-1] % self.downsampling or x.shape[-1] == 0:
            m = self.downsampling
            raise ValueError(f"input length {x.shape[-1]} is not a multiple of {m} (the U-Net's total "
                             f"downsampling); pad to {self.valid_length(x.shape[-1])} with UNet.pad(x)")
        if c_noise.shape != (x.shape[0],):
            raise ValueError(f"c_noise must have shape ({x.shape[0]},), got {tuple(c_noise.shape)}")

    def forward(self, x: Tensor, c_noise: Tensor | float) -> Tensor:
        c_noise = torch.as_tensor(c_noise, dtype=x.dtype, device=x.device)
        if c_noise.ndim == 0:
            c_noise = c_noise.expand(x.shape[0])
        self.check_input(x, c_noise)
        p = self.config.patch_factor
        mapping = self.time(c_noise)
        for block in self.patch:
            x = patch(block(x, mapping), p)
        skips = [x]
        for level in self.downs:
            x, level_skips = level(x, mapping)
            skips.append(level_skips)
        x = self.mid(x, mapping)
        for level in self.ups:
            x = level(x, skips.pop(), mapping)
        x = x + skips.pop()
        for block in self.unpatch:
            x = block(unpatch(x, p), mapping)
        return x


def build(config: UNetConfig | str | dict = "paper", device=None) -> UNet:
    """``build("tiny")`` / ``build(UNetConfig(...))``; ``device="meta"`` builds without memory."""
    with torch.device(device or "cpu"):
        return UNet(config)


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def receptive_field(config: UNetConfig | str | dict) -> int:
    """Input samples that can reach one output sample through the convolutions of the deepest path
    (patch → every down level → bottleneck → every up level → unpatch). Skip connections reach a
    few samples further (their windows sit slightly off-centre), GroupNorm statistics mix the
    whole signal, and attention makes the deepest levels global; so this is the convolutional
    context each sample gets, not a hard limit.

    Walk the path tracking (rf, jump): a conv with kernel k at input spacing j adds (k−1)·j; a
    stride s multiplies j by s (folding p samples into channels is a kernel-p, stride-p conv); a
    transposed conv (kernel 2f, stride f) sees 2 input positions, then divides j by f.
    """
    cfg = get_config(config)
    rf, jump = 1, 1

    def conv(k, j):
        nonlocal rf
        rf += (k - 1) * j

    p = cfg.patch_factor
    for _ in range(cfg.patch_blocks):
        conv(3, jump), conv(3, jump)  # ResnetBlock at the finer rate
        conv(p, jump)  # fold p samples into channels
        jump *= p
    for i, f in enumerate(cfg.factors):
        conv(f * cfg.kernel_multiplier_downsample + 1, jump)
        jump *= f
        for _ in range(2 * cfg.num_blocks[i]):
            conv(3, jump)
    for _ in range(4):  # bottleneck: two ResnetBlocks
        conv(3, jump)
    for i in reversed(range(len(cfg.factors))):
        f = cfg.factors[i]
        for _ in range(2 * (cfg.num_blocks[i] + (1 if cfg.attentions[i] else 0))):
            conv(3, jump)
        if f == 1:
            conv(3, jump)
        else:
            conv(2, jump)
            jump //= f
    for _ in range(cfg.patch_blocks):
        jump //= p
        conv(3, jump), conv(3, jump)
    return rf


def describe(config: UNetConfig | str | dict, length: int, batch: int = 1) -> list[dict]:
    """One row per stage of a forward pass on ``length`` samples, run on the meta device (shapes
    without memory or compute, so the 405M-parameter model is instant): ``stage``, output
    ``channels`` and ``length``, ``parameters`` of the stage and attention ``tokens`` (0: none)."""
    cfg = get_config(config)
    net = build(cfg, device="meta")
    lengths = level_lengths(cfg, length)
    p = cfg.patch_factor
    rows = []

    def add(stage, module, tokens=0, fold=1):
        def hook(_, __, output):
            out = output[0] if isinstance(output, tuple) else output
            rows.append({"stage": stage, "channels": out.shape[1] * fold, "length": out.shape[2] // fold,
                         "parameters": num_parameters(module), "tokens": tokens})
        return module.register_forward_hook(hook)

    hooks = [add(f"patch {j}", block, fold=p) for j, block in enumerate(net.patch)]
    for i, level in enumerate(net.downs):
        hooks.append(add(f"down {i}", level, tokens=lengths[i + 1] if cfg.attentions[i] else 0))
    hooks.append(add("mid", net.mid, tokens=lengths[-1] if cfg.use_attention_bottleneck else 0))
    for level, i in zip(net.ups, reversed(range(len(cfg.factors)))):
        hooks.append(add(f"up {i}", level, tokens=lengths[i + 1] if cfg.attentions[i] else 0))
    hooks += [add(f"unpatch {j}", block) for j, block in enumerate(net.unpatch)]
    try:
        net(torch.empty(batch, cfg.in_channels, length, device="meta"), torch.zeros(batch, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return [{"stage": "input", "channels": cfg.in_channels, "length": length, "parameters": 0, "tokens": 0},
            {"stage": "time embedding", "channels": 4 * cfg.channels, "length": 1,
             "parameters": num_parameters(net.time), "tokens": 0}] + rows


def level_lengths(config: UNetConfig | str | dict, length: int) -> list[int]:
    """Signal length after the patch blocks and after each down level (the last is the bottleneck's)."""
    cfg = get_config(config)
    n = length // cfg.patch_factor ** cfg.patch_blocks
    out = [n]
    for f in cfg.factors:
        n //= f
        out.append(n)
    return out
