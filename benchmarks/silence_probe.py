#!/usr/bin/env python
"""Where do generated stems get their noise floor? Two probes of a model's rests (issue 12).

    .venv/bin/python benchmarks/silence_probe.py [CKPT]                 # the leak inside the rests of songs
    .venv/bin/python benchmarks/silence_probe.py [CKPT] --learn 300     # can the network learn silence?
    .venv/bin/python benchmarks/silence_probe.py [CKPT] --loudness      # does a rest leak more beside louder notes?
    .venv/bin/python benchmarks/silence_probe.py [CKPT] --groupnorm     # … and is GroupNorm what carries it?
    .venv/bin/python benchmarks/silence_probe.py [CKPT] --learn-rests 300   # learn rests beside notes: global GN vs local

1. **Rests of songs.** 8 unseen toy songs (``ToySongStream`` seed 515151) are noised at σ and denoised
   once. Where a true stem is digitally silent (|x0| < 1e-6), the RMS of the estimate's error, per
   stem, in dB re σ (and, for comparison, the error where the stems sound: "notes"): 0 dB passes
   the noise unchanged; a model that can tell a rest from a note scores far below 0 at small σ. (``quality.silence_leak`` asks the same of chunks where *every* stem is
   silent, which songs never are.)
2. **``--learn N``.** Fine-tunes a copy of the model for N steps on silent chunks only (x0 = 0, batch
   4 × 8192 samples, ln σ uniform on [ln 0.001, ln 0.03], Adam 1e-3), once in bf16 autocast and once
   in fp32, and prints ``quality.silence_leak`` at σ = 0.001 … 0.03 every 100 steps: whether the
   architecture can represent "pass no noise" at all, and whether bf16 training gets in the way.
3. **``--loudness``.** The rests of probe 1 again, with every stem of the songs scaled by a (rests stay
   digitally silent), at σ = 0.01. The right answer inside a rest does not depend on a: it is silence.
   A network whose GroupNorm divides each chunk by statistics that the notes dominate sees the noise
   of a rest shrink as 1/a, and must undo that with a gain it can only guess; its leak then grows with a.
4. **``--groupnorm``.** An intervention that tells GroupNorm apart from everything else that reaches
   across the chunk (attention, the coarse levels' convolutions): 65536-sample chunks whose first 49152
   samples are silent on every stem and whose last 16384 hold a song scaled by a; the error in
   samples 2048–30000 at σ = 0.01, once as the model is, once with every GroupNorm taking its
   statistics from the first half of its input only (silence and noise at every level). If the
   leak's growth with a disappears in the second case, global GroupNorm statistics carry it.
5. **``--learn-rests N``.** Probe 2 on songs: fine-tunes a copy of the model for N steps on fresh
   stream songs (2 × 32768 samples, ln σ uniform on [ln 0.001, ln 0.03], Adam 1e-3, bf16 autocast),
   once as it is (GroupNorm over the whole chunk) and once with the same weights in the
   ``tiny-localnorm`` architecture (GroupNorm over 2048 samples), and prints every 100 steps the rests'
   error of probe 1 and the error on the notes (where x0 is not silent, dB re σ), at σ = 0.003 … 0.03.
   Whether the network can learn to keep rests silent *beside notes*, and which normalisation lets it.

One torch thread; results are printed (the numbers quoted in docs/training_recipe.md come from here).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

import torch

from msdm_tutorial import STEMS, checkpoints, quality
from msdm_tutorial.data.stream import ToySongStream
from msdm_tutorial.denoiser import edm_loss

CHECKPOINT = Path(__file__).resolve().parents[1] / "data_small" / "checkpoints" / "msdm-tiny.pt"
SIGMAS = (0.003, 0.01, 0.03)
LEARN_SIGMAS = (0.001, 0.003, 0.01, 0.03)


@torch.no_grad()
def squared_error(denoiser, x0: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(D(x0 + σn; σ) − x0)² for a fixed noise draw, and where x0 is digitally silent (|x0| < 1e-6)."""
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    return (denoiser(x0 + sigma * noise, sigma).float() - x0).pow(2), x0.abs() < 1e-6


def rests_and_notes(denoiser, x0: torch.Tensor, sigma: float) -> tuple[list[float], float]:
    """One denoiser call: per stem, the RMS of D(x0 + σn; σ) − x0 where x0 is silent (NaN when a stem
    never rests), and over all stems where x0 sounds; both in dB re σ."""
    err, rests = squared_error(denoiser, x0, sigma)
    per_stem = [10 * math.log10(float(err[:, k][rests[:, k]].mean()) / sigma ** 2) if rests[:, k].any()
                else float("nan") for k in range(x0.shape[1])]
    return per_stem, 10 * math.log10(float(err[~rests].mean()) / sigma ** 2)


def leak_in_rests(denoiser, x0: torch.Tensor, sigma: float) -> list[float]:
    """Per stem: RMS of D(x0 + σn; σ) − x0 where x0 is silent, in dB re σ (NaN when a stem never rests)."""
    return rests_and_notes(denoiser, x0, sigma)[0]


LOUDNESS = (0.25, 0.5, 1.0, 2.0)


def leak_against_loudness(denoiser, x0: torch.Tensor, sigma: float = 0.01) -> None:
    """Print the rests' error (dB re σ) per stem with the songs scaled by each a in ``LOUDNESS``."""
    print(f"  rests at σ {sigma:g}, songs scaled by a (a = 1: as in the data)")
    for a in LOUDNESS:
        print(f"  a {a:g}: " + ", ".join(f"{v:.1f}" for v in leak_in_rests(denoiser, a * x0, sigma)), flush=True)


@torch.no_grad()
def leak_beside_songs(denoiser, songs: torch.Tensor, groupnorm_from_silence: bool, sigma: float = 0.01) -> None:
    """Probe 4: the error in a silent stretch beside songs scaled by a, optionally with every GroupNorm's
    statistics taken from the (silent) first half of its input."""
    import torch.nn.functional as F

    x0 = torch.zeros(songs.shape[0], songs.shape[1], 65536)
    x0[..., -songs.shape[-1]:] = songs
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    torch_group_norm = F.group_norm

    def group_norm_from_first_half(h, groups, weight=None, bias=None, eps=1e-5):
        b, c, length = h.shape
        hg = h.float().view(b, groups, c // groups, length)
        ref = hg[..., : length // 2]
        mean, var = ref.mean((2, 3), keepdim=True), ref.var((2, 3), unbiased=False, keepdim=True)
        out = ((hg - mean) * torch.rsqrt(var + eps)).view(b, c, length)
        return out if weight is None else out * weight[None, :, None] + bias[None, :, None]

    label = "GroupNorm statistics from the silent half" if groupnorm_from_silence else "GroupNorm as trained"
    print(f"  silent stretch beside songs scaled by a, σ {sigma:g}, {label}")
    F.group_norm = group_norm_from_first_half if groupnorm_from_silence else torch_group_norm
    try:
        for a in (0.0, *LOUDNESS, 4.0):
            err = denoiser(a * x0 + sigma * noise, sigma).float() - a * x0
            e = err[..., 2048:30000]
            print(f"  a {a:g}: " + ", ".join(f"{20 * math.log10(float(e[:, k].pow(2).mean().sqrt()) / sigma):.1f}"
                                            for k in range(e.shape[1])), flush=True)
    finally:
        F.group_norm = torch_group_norm


def error_in_rests_and_notes(denoiser, x0: torch.Tensor, sigma: float) -> tuple[float, float]:
    """Mean over stems of the rests' error (probe 1), and the error where x0 sounds, both dB re σ."""
    per_stem, notes = rests_and_notes(denoiser, x0, sigma)
    resting = [v for v in per_stem if not math.isnan(v)]
    return sum(resting) / len(resting), notes


def train_at_small_sigma(net, batch, steps: int, report, sigma_max: float = 3e-2, every: int = 100,
                         autocast: bool = True) -> None:
    """Train ``net`` (in place, unclamped) for ``steps`` steps on ``batch(step)`` with ln σ uniform on
    [ln 0.001, ln sigma_max] (Adam 1e-3, seed 0); call ``report(step, loss)`` every ``every`` steps."""
    net.train()
    net.clamp = False
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        x0 = batch(step)
        sigma = torch.exp(torch.empty(x0.shape[0]).uniform_(math.log(1e-3), math.log(sigma_max), generator=g))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = edm_loss(net, x0, sigma, torch.randn(x0.shape, generator=g), net.sigma_data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            report(step, loss.item())


def learn_rests(model, steps: int, probe: torch.Tensor, local: bool) -> None:
    """Probe 5: fine-tune a copy on songs at small σ; print the rests' and notes' error every 100 steps."""
    from msdm_tutorial import unet

    net = copy.deepcopy(model)
    if local:
        cfg = unet.get_config("tiny-localnorm").replace(in_channels=len(model.stems))
        if net.net.config.replace(norm_window=cfg.norm_window) != cfg:
            raise SystemExit("--learn-rests compares against tiny-localnorm: the checkpoint must be a tiny model")
        local_net = unet.build(cfg)
        local_net.load_state_dict(net.net.state_dict())
        net.net = local_net
    stream = ToySongStream(32768, stems=list(model.stems), seed=616161)
    name = "local GroupNorm (2048 samples)" if local else "GroupNorm over the chunk (as trained)"

    def report(step: int, loss: float | None = None) -> None:
        net.eval()
        cells = []
        for sigma in SIGMAS:
            rests, notes = error_in_rests_and_notes(net, probe, sigma)
            cells.append(f"σ {sigma:g}: rests {rests:.1f}, notes {notes:.1f}")
        net.train()
        head = f"{name}, step {step}" + (f" (loss {loss:.4f})" if loss is not None else "")
        print(f"  {head}: " + "; ".join(cells) + " dB re σ", flush=True)

    report(0)
    train_at_small_sigma(net, lambda step: torch.stack([stream[2 * step], stream[2 * step + 1]]), steps, report)


def learn_silence(model, steps: int, autocast: bool) -> None:
    """Fine-tune a copy of ``model`` on silent chunks and print its silence leak every 100 steps."""
    net = copy.deepcopy(model)
    name = "bf16" if autocast else "fp32"

    def leak() -> str:
        net.eval()
        per = quality.silence_leak(net, (4, len(STEMS), 8192), LEARN_SIGMAS, generator=torch.Generator().manual_seed(1))
        net.train()
        return ", ".join(f"σ {s:g}: {sum(v) / len(v):.1f} dB" for s, v in per.items())

    print(f"{name} step 0: {leak()}", flush=True)
    train_at_small_sigma(net, lambda step: torch.zeros(4, len(STEMS), 8192), steps,
                         lambda step, loss: print(f"{name} step {step}: loss {loss:.4f}; {leak()}", flush=True),
                         autocast=autocast)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path, default=CHECKPOINT)
    parser.add_argument("--learn", type=int, default=0, metavar="N", help="also fine-tune on silence for N steps")
    parser.add_argument("--loudness", action="store_true", help="also the rests' error with the songs scaled")
    parser.add_argument("--learn-rests", type=int, default=0, metavar="N",
                        help="also fine-tune on songs at small σ for N steps, global against local GroupNorm")
    parser.add_argument("--groupnorm", action="store_true",
                        help="also a silent stretch beside scaled songs, with GroupNorm as trained and from silence")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint).eval()
    stems = list(model.stems)
    stream = ToySongStream(32768, stems=stems, seed=515151)
    x0 = torch.stack([stream[i] for i in range(8)])
    print(f"{args.checkpoint}: error inside the rests of 8 songs per stem, and on their notes, dB re σ")
    for sigma in SIGMAS:
        per_stem, notes = rests_and_notes(model, x0, sigma)
        rests = ", ".join(f"{s} {v:.1f}" for s, v in zip(stems, per_stem))
        print(f"  σ {sigma:g}: rests {rests}; notes {notes:.1f}", flush=True)
    if args.loudness:
        leak_against_loudness(model, x0)
    if args.groupnorm:
        songs = torch.stack([ToySongStream(16384, stems=stems, seed=515151)[i] for i in range(8)])
        for from_silence in (False, True):
            leak_beside_songs(model, songs, from_silence)
    if args.learn_rests:
        print("rests beside notes: error inside the rests and on the notes of probe 1's songs")
        for local in (False, True):
            learn_rests(model, args.learn_rests, x0, local)
    if args.learn:
        for autocast in (True, False):
            learn_silence(model, args.learn, autocast)
    return 0


if __name__ == "__main__":
    sys.exit(main())
