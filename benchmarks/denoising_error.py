"""How much does a model know at each noise level? The cheap probe behind the training ablations (issue 12).

    .venv/bin/python benchmarks/denoising_error.py --write CKPT [CKPT …] [--label NAME …]

For every checkpoint: the relative denoising error e(σ) = E‖D(x0 + σn; σ) − x0‖² / E‖x0‖², averaged
over the four stems (``msdm_tutorial.quality.denoising_error``), on 48 chunks of unseen toy songs
(``ToySongStream`` with seed 424242, which no training run here uses, at each model's own sample
rate: 32768 samples are 1.5 s at 22050 Hz and 3 s at 11025 Hz), at σ from 0.03 to 10.
1 = no better than predicting silence. Generation starts at σ = 20, separation at σ = 1, so a model
that generates music must be well below 1 at σ ≥ 1. Also the edge ratio (error within 256 samples of
the chunk ends ÷ error elsewhere) and the edge bias: RMS of D's estimate in the first 64 samples ÷ in
the middle, at σ = 10 (a model that learnt "every chunk starts with an onset" scores ≫ 1). And the
leak on silence (``quality.silence_leak``, mean over stems, dB re σ) at the small σ where sampling
ends: what a model lets through there stays in its samples as a noise floor where the stems rest
(``benchmarks/regeneration.py``).

``--per-stem`` also prints, per stem and σ, the relative error e_k(σ) and the best gain
g_k(σ) = ⟨x0_k, D_k⟩ / ‖D_k‖² (``quality.denoising_error``): 1 for an MMSE denoiser, > 1 where the model's
estimate of a stem is too quiet for what it knows (biased towards silence), < 1 where it passes noise on.

``--context`` also prints, per stem at σ 0.3, 1 and 3, the relative error in its own song and with the
other three stems taken from another song (``quality.context_use``): how much of what the model knows
about a stem it takes from the others (the joint density MSDM learns). Equal for the Wiener filter.

Calibration row: the Wiener filter (``quality.WienerDenoiser``), the best *linear* denoiser, which
knows each stem's average spectrum and nothing else. Sampling from it gives coloured noise, so a model
must beat it at σ ≳ 0.3 to generate notes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402

from msdm_tutorial import SAMPLE_RATE, STEMS, checkpoints, quality  # noqa: E402
from msdm_tutorial.models import model_rate  # noqa: E402
from msdm_tutorial.data.stream import ToySongStream  # noqa: E402

SIGMAS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
CONTEXT_SIGMAS = (0.3, 1.0, 3.0)         # quality.context_use: a stem in its own song and in a foreign one
LEAK_SIGMAS = (0.003, 0.01, 0.03)        # quality.silence_leak: noise let through on silent stems
EVAL_SEED = 424242
CHUNKS = 48


def leak(denoiser, x0: torch.Tensor) -> dict[float, float]:
    """Mean over stems of quality.silence_leak (dB re σ) on silent chunks shaped like 8 of ``x0``'s."""
    per = quality.silence_leak(denoiser, (8, *x0.shape[1:]), LEAK_SIGMAS, generator=torch.Generator().manual_seed(2))
    return {s: sum(v) / len(v) for s, v in per.items()}


@torch.no_grad()
def edge_bias(denoiser, x0: torch.Tensor, sigma: float = 10.0) -> float:
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    d = denoiser(x0 + sigma * noise, sigma)
    return float(d[..., :64].pow(2).mean().sqrt() / d[..., 2048:-2048].pow(2).mean().sqrt())


def per_stem_table(rows) -> str:
    """Per stem and σ: 'relative error / best gain' of every row (the model's own stems)."""
    table = []
    for label, err, _, _ in rows:
        stems = STEMS if len(next(iter(err.values()))["relative"]) == len(STEMS) else ("own stem",)
        for k, stem in enumerate(stems):
            table.append([label, stem, *(f"{v['relative'][k]:.3f} / {v['best_gain'][k]:.2f}" for v in err.values())])
    return ("Per stem: relative error e_k(σ) / best gain g_k(σ) (1 = MMSE-consistent; > 1 = too quiet)\n\n"
            + markdown_table(["model", "stem", *(f"σ {s:g}" for s in SIGMAS)], table))


def context_table(denoisers) -> str:
    """Per stem and σ: 'e in its own song → e with the other stems from another song' (quality.context_use)."""
    table = []
    for label, denoiser, x0 in denoisers:
        use = {s: quality.context_use(denoiser, x0, s, generator=torch.Generator().manual_seed(3))
               for s in CONTEXT_SIGMAS}
        for k, stem in enumerate(STEMS):
            table.append([label, stem, *(f"{u['own'][k]:.3f} → {u['foreign'][k]:.3f}" for u in use.values())])
    return ("Per stem: relative error in its own song → with the other stems from another song (equal for a "
            "denoiser that treats stems independently)\n\n"
            + markdown_table(["model", "stem", *(f"σ {s:g}" for s in CONTEXT_SIGMAS)], table))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--label", action="append", default=[], help="a name per checkpoint, in order")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    parser.add_argument("--per-stem", action="store_true",
                        help="also print each stem's relative error and best gain per σ (printed, not written)")
    parser.add_argument("--context", action="store_true",
                        help="also print each stem's relative error in its own song and with the other stems "
                             "from another song (quality.context_use; printed, not written)")
    args = parser.parse_args(argv)
    labels = args.label + [p.name for p in args.checkpoints[len(args.label):]]
    rows, joint = [], []                           # joint: (label, denoiser, chunks) for --context
    models = [(checkpoints.load(path).eval(), label) for path, label in zip(args.checkpoints, labels)]
    clips = {}                                     # sample rate → unseen chunks, all stems, made once
    for rate in sorted({model_rate(m) for m, _ in models} | {SAMPLE_RATE}):
        clips[rate] = torch.stack([ToySongStream(32768, sample_rate=rate, seed=EVAL_SEED)[i] for i in range(CHUNKS)])
        # calibration: the best linear denoiser, fitted on 256 other unseen songs (it knows only the spectra)
        fit_stream = ToySongStream(32768, sample_rate=rate, seed=EVAL_SEED + 1)
        wiener = quality.WienerDenoiser.fit(torch.stack([fit_stream[i] for i in range(256)]))
        err = quality.denoising_error(wiener, clips[rate], SIGMAS, generator=torch.Generator().manual_seed(0))
        at = "" if rate == SAMPLE_RATE else f", {rate} Hz"
        rows.append((f"Wiener filter (linear; knows each stem's average spectrum only{at})", err,
                     edge_bias(wiener, clips[rate]), leak(wiener, clips[rate])))
        joint.append((f"Wiener filter{at}", wiener, clips[rate]))
    for denoiser, label in models:
        x0 = clips[model_rate(denoiser)]
        mine = x0[:, [STEMS.index(s) for s in denoiser.stems]]     # an ISDM model sees its own stem
        err = quality.denoising_error(denoiser, mine, SIGMAS, generator=torch.Generator().manual_seed(0))
        rows.append((label, err, edge_bias(denoiser, mine), leak(denoiser, mine)))
        if len(denoiser.stems) == len(STEMS):
            joint.append((label, denoiser, mine))
        print(label, {s: round(sum(v["relative"]) / len(v["relative"]), 3) for s, v in err.items()}, flush=True)

    lines = ["## Denoising error by noise level (training ablations)", "",
             "Measured by", "", "```", ".venv/bin/python benchmarks/denoising_error.py --write "
             + " ".join(map(str, args.checkpoints)) + "".join(f" --label '{label}'" for label in labels), "```", "",
             f"on {date.today()}: "
             f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}. {CHUNKS} chunks of "
             f"32768 samples from unseen toy songs (stream seed {EVAL_SEED}). Relative error e(σ), mean over "
             "stems (1 = no better than silence); edge ratio at σ = 0.1; edge bias at σ = 10 (1 = none); leak on "
             "silent stems (dB re σ, mean over stems; lower = quieter rests).", "",
             markdown_table(["model", *(f"e({s:g})" for s in SIGMAS), "edge ratio", "edge bias",
                             *(f"leak({s:g}) dB" for s in LEAK_SIGMAS)],
                            ([label, *(f"{sum(v['relative']) / len(v['relative']):.3f}" for v in err.values()),
                              f"{err[0.1]['edge_ratio']:.2f}", f"{bias:.2f}", *(f"{v:.1f}" for v in lk.values())]
                             for label, err, bias, lk in rows))]
    print_section(lines[0], "\n".join(lines) + "\n", args.write)
    if args.per_stem:
        print(per_stem_table(rows))
    if args.context:
        print(context_table(joint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
