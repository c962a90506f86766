#!/usr/bin/env python
"""Data speed: toy-song synthesis (× real time, one core) and training-loader chunks per second.

    .venv/bin/python benchmarks/data_speed.py            # print the results
    .venv/bin/python benchmarks/data_speed.py --write    # also update docs/benchmarks.md

The loader is measured on data_small/toy (FLAC, 32768-sample chunks, the tiny models' length) and
on a temporary set of 30 s WAV songs with the paper's 262144-sample chunks, with 0 and 2
DataLoader workers, batch size 8. Only the section "## Data loading speed" of
docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # synthesis on one core

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from msdm_tutorial.course import data_small  # noqa: E402
from msdm_tutorial.data import TrainChunks, synthesize_song  # noqa: E402
from msdm_tutorial.data.toyset import write_toy_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, print_section  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
SECTION = "## Data loading speed"


def synthesis_speed(songs: int, seconds: float) -> float:
    synthesize_song(10_000, 1.0)  # warm-up
    t = time.perf_counter()
    for i in range(songs):
        synthesize_song(i, seconds, 22050)
    return songs * seconds / (time.perf_counter() - t)


def loader_speed(root, chunk: int, workers: int, batches: int, batch_size: int = 8) -> float:
    ds = TrainChunks(root, "train", chunk_length=chunk, seed=0)
    loader = DataLoader(ds, batch_size=batch_size, sampler=ds.global_indices(0), num_workers=workers,
                        persistent_workers=workers > 0)          # endless, across epochs, as in training
    it = iter(loader)
    next(it)  # start the workers before timing
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - t)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=20, help="songs to synthesise (8 s each)")
    parser.add_argument("--batches", type=int, default=60, help="batches per loader measurement")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    rows = []
    speed = synthesis_speed(args.songs, 8.0)
    print(f"synthesis: {speed:.0f}x real time ({args.songs} songs x 8 s, 22050 Hz, one core)")
    with tempfile.TemporaryDirectory() as tmp:
        long = Path(tmp) / "long"
        write_toy_dataset(long, songs=4, validation_songs=0, test_songs=0, seconds=30.0, seed=0, fmt="wav")
        for name, root, chunk in (("data_small/toy (FLAC)", data_small() / "toy", 32768),
                                  ("30 s toy songs (WAV)", long, 262144)):
            for workers in (0, 2):
                cps = loader_speed(root, chunk, workers, args.batches)
                rows.append((name, chunk, workers, cps))
                print(f"loader: {name}, chunk {chunk}, {workers} workers: {cps:.0f} chunks/s "
                      f"({cps * chunk / 22050:.0f} s of 4-stem audio per s)")

    table = [f"{SECTION}", "",
             f"Measured by `.venv/bin/python benchmarks/data_speed.py --write` on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, torch {torch.__version__}.", "",
             f"- Toy-song synthesis (`msdm_tutorial.data.synthesize_song`, one core): **{speed:.0f}× real time** "
             f"({args.songs} songs × 8 s at 22050 Hz, four stems each).",
             "- Training loader (`TrainChunks` + `DataLoader`, batch 8, random chunks with shift, seek reads):", "",
             markdown_table(["data", "chunk (samples)", "workers", "chunks/s", "audio s/s"],
                            ([name, chunk, workers, f"{cps:.0f}", f"{cps * chunk / 22050:.0f}"]
                             for name, chunk, workers, cps in rows))]
    print_section(SECTION, "\n".join(table) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
