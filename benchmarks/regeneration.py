#!/usr/bin/env python
"""From which noise level does a model lose the music? Regenerate real songs from noised copies (issue 12).

    .venv/bin/python benchmarks/regeneration.py --write [CKPT …] [--label NAME …]

Generation starts from pure noise at σ = 20 and must invent everything. This probe starts lower: it
takes unseen real toy songs x0, noises them to a start level σ_s, x = x0 + σ_s·n, and runs the
generation sampler from σ_s down to 0 (the paper's generation settings on a 40-step Karras grid from
σ_s, with the paper's churn per step). What survives σ_s was in the song; what the model adds below
σ_s is its own. So the curve "distance to real stems against σ_s" shows the noise level where the
model stops knowing music: a model that generates well stays near the real-vs-real distance up to
σ = 20; one that knows only the stems' spectra drifts to its coloured noise once σ_s buries the notes.

Per start level and stem: the Fréchet distance ratio (``quality.distance_ratio``: 16 regenerated clips
against 32 real ones, over the mean of 3 disjoint real sets of 16; 1 = as real songs) and the tonality
of the pitched stems (``quality.flatness_db``; real stems about −20 to −45 dB, white noise −2.5 dB).
A second table shows where the distance comes from: each stem's mean power per octave band (dB) in
the real clips, regenerated from the lowest and the highest σ_s (0.03, and 20: generation), and its *floor*: the RMS
(dBFS) of its quietest frames (10th percentile of 1024-sample frames; "silent" below −120 dBFS). Real
toy stems rest in digital silence, and log-mel frames weigh a rest at −40 dBFS as far from one at −80
dBFS as a note is from a rest, so a noise floor alone moves the distance ratio (white noise added to
the real clips at −60 dBFS scores 2.3–6.8, at −50 dBFS 9.2–30, at −40 dBFS 24–76: ``--floor-check``).

Calibration rows: the Wiener filter (``quality.WienerDenoiser``, the best linear denoiser: it knows
each stem's spectrum and nothing else), fitted on 256 other unseen songs. All songs come from
``ToySongStream`` seeds that no training run here uses; one torch thread, seed 0.

Only the section "## Regeneration from noised songs (training ablations)" of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, quality, samplers, tasks  # noqa: E402
from msdm_tutorial.models import model_rate  # noqa: E402
from msdm_tutorial.data.stream import ToySongStream  # noqa: E402

SECTION = "## Regeneration from noised songs (training ablations)"
CHECKPOINT = Path(__file__).resolve().parents[1] / "data_small" / "checkpoints" / "msdm-tiny.pt"
START_SIGMAS = (0.03, 0.1, 0.3, 1.0, 3.0, 20.0)
STEPS, CLIPS, REFERENCE, REAL_SETS, LENGTH = 40, 16, 32, 3, 32768
SEED = 515151                               # ToySongStream seed for every real clip here
PITCHED = ("bass", "guitar", "piano")
BANDS = (0, 100, 200, 400, 800, 1600, 3200, 6400, None)   # octave bands (Hz); None = Nyquist


def floor_dbfs(x: torch.Tensor, quantile: float = 0.1) -> str:
    """The RMS (dBFS) of the quietest frames of clips (N, T): ``quantile`` of the 1024-sample frames' RMS."""
    rms = x.reshape(-1, x.shape[-1]).unfold(-1, 1024, 512).pow(2).mean(-1).sqrt().flatten()
    db = 20 * float(torch.log10(torch.quantile(rms, quantile) + 1e-12))
    return "silent" if db < -120 else f"{db:.0f}"


def band_powers(x: torch.Tensor, rate: int) -> list[float]:
    """Mean power (dB) of clips (N, T) in each of ``BANDS``, from a Hann-windowed STFT."""
    spec = torch.stft(x.reshape(-1, x.shape[-1]), 1024, 256, window=torch.hann_window(1024),
                      return_complex=True).abs().pow(2).mean((0, 2))
    freqs = torch.linspace(0, rate / 2, spec.shape[0])
    edges = [b if b is not None else rate / 2 + 1 for b in BANDS]
    return [10 * float(torch.log10(spec[(freqs >= lo) & (freqs < hi)].mean() + 1e-20))
            for lo, hi in zip(edges, edges[1:])]


@torch.no_grad()
def regenerate(denoiser, x0: torch.Tensor, sigma_start: float, seed: int = 0) -> torch.Tensor:
    """x0 + σ_s·n, then the generation sampler from σ_s to 0 (paper settings, ``STEPS`` steps)."""
    config = tasks.GenerationConfig.paper().with_steps(STEPS).replace(sigma_max=sigma_start)
    g = torch.Generator().manual_seed(seed)
    x = x0 + sigma_start * torch.randn(x0.shape, generator=g)
    return samplers.euler(samplers.score_derivative(denoiser), x, config.sigmas(), generator=g,
                          **config.sampler_kwargs())


def distance_scales(reference: torch.Tensor, real_sets: list[torch.Tensor], rate: int) -> list:
    """One ``quality.DistanceScale`` per stem, built once for every set that is scored against it."""
    return [quality.DistanceScale(reference[:, k], [r[:, k] for r in real_sets], rate) for k in range(len(STEMS))]


def scores(x: torch.Tensor, scales: list) -> dict:
    """Per stem: distance ratio, and flatness in dB for the pitched stems."""
    out = {}
    for k, stem in enumerate(STEMS):
        out[stem] = {"ratio": scales[k](x[:, k])}
        if stem in PITCHED:
            out[stem]["flatness"] = quality.flatness_db(x[:, k])
    return out


def real_clips(rate: int):
    """The clips to regenerate, the reference and the real sets: disjoint unseen toy songs."""
    stream = ToySongStream(LENGTH, sample_rate=rate, seed=SEED)
    songs = torch.stack([stream[i] for i in range(CLIPS + REFERENCE + REAL_SETS * CLIPS)])
    return songs[:CLIPS], songs[CLIPS:CLIPS + REFERENCE], list(songs[CLIPS + REFERENCE:].split(CLIPS))


def floor_check() -> int:
    """How far a noise floor alone moves the distance ratio: real clips + white noise at a level."""
    x0, reference, real_sets = real_clips(22050)
    scales = distance_scales(reference, real_sets, 22050)
    for dbfs in (-80, -70, -60, -50, -40, -30):
        x = x0 + 10 ** (dbfs / 20) * torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
        ratios = [scale(x[:, k]) for k, scale in enumerate(scales)]
        print(f"white noise at {dbfs} dBFS added: " + ", ".join(f"{k} {v:.1f}" for k, v in zip(STEMS, ratios)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", type=Path, default=[CHECKPOINT])
    parser.add_argument("--label", action="append", default=[], help="a name per checkpoint, in order")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    parser.add_argument("--start-sigmas", type=float, nargs="+", default=list(START_SIGMAS), metavar="σ",
                        help=f"start levels σ_s (default: {' '.join(f'{v:g}' for v in START_SIGMAS)})")
    parser.add_argument("--floor-check", action="store_true",
                        help="print the distance ratio of real clips + white noise at −80 … −30 dBFS")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.floor_check:
        return floor_check()
    labels = args.label + [p.name for p in args.checkpoints[len(args.label):]]
    models = [(checkpoints.load(p).eval(), label) for p, label in zip(args.checkpoints, labels)]
    rates = {model_rate(m) for m, _ in models}
    if len(rates) != 1:
        raise SystemExit(f"regeneration.py: the checkpoints have different sample rates {sorted(rates)}; "
                         "run them apart")
    rate = rates.pop()
    x0, reference, real_sets = real_clips(rate)
    fit = ToySongStream(LENGTH, sample_rate=rate, seed=SEED + 1)
    wiener = quality.WienerDenoiser.fit(torch.stack([fit[i] for i in range(256)]))
    scales = distance_scales(reference, real_sets, rate)
    real = scores(x0, scales)
    print("real clips themselves:", real, flush=True)
    table, bands = [], [["real clips", stem, floor_dbfs(x0[:, k]), *(f"{v:.0f}" for v in band_powers(x0[:, k], rate))]
                        for k, stem in enumerate(STEMS)]
    for denoiser, label in [(wiener, "Wiener filter (calibration)"), *models]:
        for sigma in args.start_sigmas:
            t0 = time.perf_counter()
            x = regenerate(denoiser, x0, sigma)
            s = scores(x, scales)
            if sigma in (min(args.start_sigmas), max(args.start_sigmas)):
                bands += [[f"{label}, σ_s {sigma:g}", stem, floor_dbfs(x[:, k]),
                           *(f"{v:.0f}" for v in band_powers(x[:, k], rate))]
                          for k, stem in enumerate(STEMS)]
            print(f"{label} σ_s {sigma:g}: " + ", ".join(f"{k} {v['ratio']:.1f}" for k, v in s.items())
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
            table.append([label, f"{sigma:g}", *(f"{s[k]['ratio']:.1f}" for k in STEMS),
                          *(f"{s[k]['flatness']:.1f}" for k in PITCHED)])
    table.insert(0, ["the real clips (σ_s = 0)", "0", *(f"{real[k]['ratio']:.1f}" for k in STEMS),
                     *(f"{real[k]['flatness']:.1f}" for k in PITCHED)])
    sigmas = "" if args.start_sigmas == list(START_SIGMAS) else \
        " --start-sigmas " + " ".join(f"{v:g}" for v in args.start_sigmas)
    command = (".venv/bin/python benchmarks/regeneration.py --write " + " ".join(map(str, args.checkpoints))
               + "".join(f" --label '{label}'" for _, label in models) + sigmas)
    text = "\n".join([
        SECTION, "",
        f"Measured on {date.today()} ({platform.machine()}, {os.cpu_count()} cores, one thread):", "",
        "```", command, "```", "",
        f"{CLIPS} unseen toy songs (stream seed {SEED}) noised to σ_s and regenerated by the generation sampler from "
        f"σ_s (the paper's settings on {STEPS} steps: Euler, S_churn γ per step as the paper's), against {REFERENCE} "
        f"real clips over {REAL_SETS} disjoint real sets of {CLIPS}. Distance ratio per stem (1 = as real songs; "
        "white noise 55–200 on `Generation quality`'s scale); flatness in dB for the pitched stems (lower = more "
        "tonal; white noise ≈ −2.5 dB).", "",
        markdown_table(["denoiser", "σ_s", *(f"ratio, {k}" for k in STEMS), *(f"flatness dB, {k}" for k in PITCHED)],
                       table, align="lr" + "r" * (len(STEMS) + len(PITCHED))), "",
        "Where the distance comes from: the floor (10th percentile of 1024-sample frame RMS, dBFS) and the mean "
        "power per band (dB; Hann STFT, 1024 points), per stem.", "",
        markdown_table(["clips", "stem", "floor (dBFS)", *(f"{lo}–{hi if hi else 'Nyquist'} Hz"
                                                          for lo, hi in zip(BANDS, BANDS[1:]))],
                       sorted(bands, key=lambda r: STEMS.index(r[1])), align="llr" + "r" * (len(BANDS) - 1)), "",
    ])
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
