#!/usr/bin/env python
"""Do generated stems spike at their ends? ``tasks.generate`` with and without its margin (issue 12).

    .venv/bin/python benchmarks/generation_edges.py --write

The network's estimate is worst near the ends of its input (it sees zeros beyond them), and generated
stems used to peak at their first or last samples, up to the ±1 clamp. ``tasks.generate`` now
generates ``margin`` samples beyond each end and drops them (``tasks.generation_margin``: an eighth of
a chunk, 4096 samples for the tiny model); an outpainted song is likewise the middle of a longer
outpainted one. This script generates 8 songs of one chunk with the shipped model at the paper's
settings (Euler 150 steps, S_churn 20, σ_max 20), seed 1, for margins 0, 2048 and the default, and
4 outpainted songs of 2.5 chunks for margins 0 and the default, one torch thread, and reports per row:

* stems whose largest |x| lies within 64 samples of either end (by chance: 128/32768 = 0.4 % of stems);
* stems that reach the ±1 clamp within 64 samples of an end;
* the RMS within 64 samples of the ends ÷ the RMS of the middle, per stem (1 = no edge effect).

Only the section "## Generation: the ends of generated stems" of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section  # noqa: E402

from msdm_tutorial import STEMS, checkpoints, tasks  # noqa: E402
from msdm_tutorial.models import chunk_length  # noqa: E402

SECTION = "## Generation: the ends of generated stems"
CHECKPOINT = Path(__file__).resolve().parents[1] / "data_small" / "checkpoints" / "msdm-tiny.pt"
SONGS, EDGE = 8, 64
LONG_SONGS, LONG_CHUNKS = 4, 2.5        # outpainted songs: how many, and how many chunks long


def edge_stats(x: torch.Tensor) -> dict:
    """Peaks at the ends, clamped ends and the edge/middle RMS ratio of stems (B, K, T)."""
    t = x.shape[-1]
    peak = x.abs().argmax(-1)
    ends = torch.cat([x[..., :EDGE], x[..., -EDGE:]], -1)
    middle = x[..., t // 8:-t // 8]
    return {"peaks_at_ends": int(((peak < EDGE) | (peak >= t - EDGE)).sum()),
            "clamped_ends": int((ends.abs() >= 0.99).any(-1).sum()),
            "rms_ratio": (ends.pow(2).mean((0, 2)).sqrt() / middle.pow(2).mean((0, 2)).sqrt()).tolist()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = checkpoints.load(args.checkpoint).eval()
    length = chunk_length(model)
    default = tasks.generation_margin(model, length)
    long_length = int(LONG_CHUNKS * length)
    runs = [(f"one chunk, margin {m}", SONGS, length, m) for m in (0, 2048, default)]
    runs += [(f"outpainted {LONG_CHUNKS:g} chunks, margin {m}", LONG_SONGS, long_length, m) for m in (0, default)]
    rows = []
    for label, songs, samples, margin in runs:
        t0 = time.perf_counter()
        with torch.no_grad():
            x = tasks.generate(model, (songs, len(STEMS), samples), tasks.GenerationConfig.paper(),
                               generator=torch.Generator().manual_seed(1), margin=margin, chunk_length=length)
        s = edge_stats(x)
        print(f"  {label}: {s} ({time.perf_counter() - t0:.0f} s)", flush=True)
        label += " (default)" if margin == default else ""
        rows.append([label, f"{s['peaks_at_ends']} / {x.shape[0] * x.shape[1]}", s["clamped_ends"],
                     *(f"{v:.2f}" for v in s["rms_ratio"])])
    text = "\n".join([
        SECTION, "",
        f"Measured by `.venv/bin/python benchmarks/generation_edges.py --write` on {platform.machine()}, "
        f"{os.cpu_count()} cores, one thread: the shipped `{args.checkpoint.name}`, {SONGS} songs of one chunk "
        f"({length} samples) and {LONG_SONGS} outpainted songs of {long_length} samples, "
        "the paper's generation settings (Euler 150 steps, S_churn 20, σ_max 20), seed 1; `margin` samples are "
        f"generated beyond each end and dropped (`tasks.generation_margin`). Ends: the first and last {EDGE} samples.", "",
        markdown_table(["songs, margin (samples)", "stems peaking at an end", "stems at ±1 at an end",
                        *(f"end/middle RMS, {s}" for s in STEMS)], rows, align="lrr" + "r" * len(STEMS)), "",
    ])
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
