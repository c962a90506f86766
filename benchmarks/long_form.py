#!/usr/bin/env python
"""Long inputs: seams at chunk joins, SI-SDRi and speed of the chunking designs, in fp32 and bf16.

    .venv/bin/python benchmarks/long_form.py --part quality           # seams + SI-SDRi, 6 unseen 12-s songs
    .venv/bin/python benchmarks/long_form.py --part speed             # s per s of audio, one 60-s song
    .venv/bin/python benchmarks/long_form.py --part all --write       # both; update docs/benchmarks.md
    .venv/bin/python benchmarks/long_form.py --part speed --euler-steps 24 --threads 2   # the recommended setting

The model (``--checkpoint``, default the shipped ``msdm-tiny.pt``) sees 32768 samples (1.49 s) at a
time. ``tasks.separate_long`` (MSDM Dirac, the paper's sampler: Euler 150 steps × R 2, S_churn 20,
unless ``--heun-steps`` or ``--euler-steps``) cuts a song into chunks in one of these designs (``tasks.chunk_passes``):

* **independent**: the paper's non-overlapping chunks, each separated alone;
* **crossfade**: chunks overlapping by O samples, separated alone, crossfaded (sin²) in the overlap;
* **sequential**: chunks overlapping by O, one after another, each holding its overlap with the
  previous one as known (imputation along time: for Dirac the overlap's stems are given);
* **bridge**: chunks A separated alone (one batch), then chunks B that fill the gaps, holding their
  overlap with both neighbours (a second batch).

Every overlapping design costs L / (L − O) times the independent one (O = L/4 → 4/3).

``--part quality`` scores 6 unseen 12-s toy songs (``msdm make-toy-data --seconds 12 --seed 1515``,
seeds disjoint from the training songs', made in a temporary folder unless ``--data``): the
paper's windowed SI-SDRi (``metrics.evaluate``) and the join-error ratio (``metrics.join_error_ratio``:
RMS error within 256 samples of a chunk's start or end ÷ RMS error elsewhere, per stem), every
design in bf16 plus the independent and seamless ones in fp32 as well (the bf16 − fp32 SI-SDRi
difference and the speed ratio come from the same run). ``--part speed`` times one 60-s song
(seed 1515 too), seamless and independent, fp32 and bf16, interleaved.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from msdm_tutorial import cli, metrics, tasks
from msdm_tutorial.data.datasets import list_tracks, load_track
from msdm_tutorial.models import chunk_length, load_model
from msdm_tutorial.options import RECOMMENDED_OVERLAP
from msdm_tutorial.presets import recommended_separation

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, print_section  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

QUALITY = "## Long inputs: seams at chunk joins"
SPEED = "## Long inputs: speed of seamless chunks and of bf16"
DEFAULT_CHECKPOINT = "data_small/checkpoints/msdm-tiny.pt"
DESIGNS = ("independent", "crossfade", "sequential", "bridge")


def make_songs(folder: Path, songs: int, seconds: float, seed: int) -> list[Path]:
    code = cli.main(["make-toy-data", str(folder), "--songs", "0", "--validation-songs", "0", "--test-songs",
                     str(songs), "--seconds", str(seconds), "--seed", str(seed), "--quiet"])
    if code:
        raise SystemExit(f"make-toy-data failed ({code})")
    return list_tracks(folder, "test")


def run(model, refs, cfg, chunk, overlap, design, precision, batch, seed=0) -> dict:
    """Separate every reference's mixture (all songs in one batch); time, SI-SDRi, join ratios."""
    stems = tuple(model.stems)
    y = torch.stack([r.sum(0, keepdim=True) for r in refs])
    t0, c0 = time.perf_counter(), time.process_time()
    x = tasks.separate_long(model, y, cfg, chunk_length=chunk, batch_size=batch, chunking=design, overlap=overlap,
                            precision=precision, generator=torch.Generator().manual_seed(seed))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    audio = sum(r.shape[-1] for r in refs) / model.sample_rate
    res = metrics.evaluate([(f"song{i}", x[i], r) for i, r in enumerate(refs)], model.sample_rate, stems)
    joins = tasks.chunk_joins(y.shape[-1], chunk, overlap, design)
    ratio = metrics.join_error_ratio([(x[i], r, joins) for i, r in enumerate(refs)], stems=stems)
    return {"design": design, "precision": precision, "elapsed_s": elapsed, "s_per_s": elapsed / audio,
            "cpu_s_per_s": cpu / audio,
            "si_sdri": res["summary"]["si_sdri"], "average": res["summary"]["average"], "join_ratio": ratio,
            "runs": tasks.chunk_runs(y.shape[-1], chunk, overlap, design, len(refs), batch)}


def quality(args, model, cfg, chunk, overlap, header, section=QUALITY) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        tracks = list_tracks(args.data, "test") if args.data else make_songs(Path(tmp) / "toy12", 6, 12, 1515)
        refs = [load_track(t, tuple(model.stems), sample_rate=model.sample_rate) for t in tracks]
    rows = []
    for design in args.designs:
        rows.append(run(model, refs, cfg, chunk, overlap, design, "bf16", args.batch))
        print(_row(rows[-1]), flush=True)
    seamless = tasks.SEAMLESS
    for design in ("independent", seamless) if args.fp32 else ():
        rows.append(run(model, refs, cfg, chunk, overlap, design, "fp32", args.batch))
        print(_row(rows[-1]), flush=True)
    stems = tuple(model.stems)
    lines = [section, "", header, "",
             f"- Songs: {len(refs)} unseen toy songs of {refs[0].shape[-1] / model.sample_rate:.0f} s "
             f"({'`' + str(args.data) + '`' if args.data else 'msdm make-toy-data --seconds 12 --seed 1515, seeds disjoint from the training songs'}), "
             f"separated all in one batch; chunks of {chunk} samples, overlap O = {overlap} samples.",
             "- Join ratio: RMS error within 256 samples of a chunk's start or end ÷ RMS error elsewhere "
             "(1 = no seam), pooled over the songs. SI-SDRi: the paper's protocol (4-s windows, 2-s hop).",
             f"- `seamless` (the default of `separate_long`, `msdm separate`, `msdm evaluate`) is `{seamless}`.", "",
             markdown_table(["design", "precision", "batches", *(f"join ratio {s}" for s in stems),
                             *(f"SI-SDRi {s}" for s in stems), "SI-SDRi avg (dB)", "s per s of audio"],
                            ([r["design"], r["precision"], r["runs"], *(f"{r['join_ratio'][s]:.2f}" for s in stems),
                              *(f"{r['si_sdri'][s]:.2f}" for s in stems), f"{r['average']:.2f}", f"{r['s_per_s']:.2f}"]
                             for r in rows), align="ll" + "r" * (2 * len(stems) + 3))]
    by = {(r["design"], r["precision"]): r for r in rows}
    lines.append("")
    for design in ("independent", seamless) if args.fp32 else ():
        b, f = by[(design, "bf16")], by[(design, "fp32")]
        per_stem = ", ".join(f"{b['si_sdri'][s] - f['si_sdri'][s]:+.2f}" for s in stems)
        lines.append(f"- {design}: bf16 − fp32 SI-SDRi = {b['average'] - f['average']:+.3f} dB "
                     f"(per stem {per_stem}); "
                     f"bf16 is {f['elapsed_s'] / b['elapsed_s']:.2f}× as fast as fp32.")
    return "\n".join(lines) + "\n"


def speed(args, model, cfg, chunk, overlap, header, section=SPEED) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        track = make_songs(Path(tmp) / "toy60", 1, args.speed_seconds, 1515)[0]
        ref = load_track(track, tuple(model.stems), sample_rate=model.sample_rate)
    results = {}
    for repeat in range(args.repeats):        # interleaved, so that a busy spell hits every setting
        for design in ("independent", "seamless"):
            for precision in ("fp32", "bf16"):
                r = run(model, [ref], cfg, chunk, overlap, design, precision, args.batch)
                old = results.get((design, precision))
                results[(design, precision)] = r if old is None or r["elapsed_s"] < old["elapsed_s"] else old
                print(_row(r), flush=True)
    base = results[("independent", "fp32")]["s_per_s"]
    lines = [section, "", header, "",
             f"- One toy song of {ref.shape[-1] / model.sample_rate:.0f} s (seed 1515), chunks of {chunk} samples, "
             f"overlap {overlap}, batches of {args.batch} chunks; fastest of {args.repeats} interleaved run(s).", "",
             "- s per s: wall time per second of audio; CPU s per s: the process's CPU time per second of audio "
             "(all its threads; with one thread it is the compute, and a busy machine inflates it less).", "",
             markdown_table(["chunking", "precision", "s per s of audio", "CPU s per s", "relative to independent fp32",
                             "SI-SDRi avg (dB)"],
                            ([f"seamless ({tasks.SEAMLESS})" if design == "seamless" else design, precision,
                              f"{r['s_per_s']:.2f}", f"{r['cpu_s_per_s']:.2f}", f"{r['s_per_s'] / base:.2f}",
                              f"{r['average']:.2f}"]
                             for (design, precision), r in results.items()), align="llrrrr")]
    return "\n".join(lines) + "\n"


def _row(r) -> str:
    ratios = " ".join(f"{v:.2f}" for v in r["join_ratio"].values())
    return (f"{r['design']:<12} {r['precision']}: {r['elapsed_s']:7.1f} s ({r['s_per_s']:.2f} s/s, CPU "
            f"{r['cpu_s_per_s']:.2f} s/s), SI-SDRi avg "
            f"{r['average']:.3f} dB, join ratios {ratios}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("quality", "speed", "all"), default="all")
    parser.add_argument("--checkpoint", default=str(ROOT / DEFAULT_CHECKPOINT))
    parser.add_argument("--data", help="use DATA/test (MSDM layout) instead of six fresh 12-s songs")
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS),
                        help="quality: the designs to run in bf16 (default all)")
    parser.add_argument("--no-fp32", dest="fp32", action="store_false",
                        help="quality: skip the fp32 runs of independent and seamless chunks")
    parser.add_argument("--heun-steps", type=int, help="EDM Heun with N steps instead of the paper's sampler")
    parser.add_argument("--euler-steps", type=int,
                        help="the paper's Euler × R 2 on N steps instead of 150 (24: the recommended setting)")
    parser.add_argument("--recommended", action="store_true",
                        help="the course's recommended setting (options.RECOMMENDED_SEPARATION: sampler, steps, σ grid, "
                             "overlap) instead of the paper's sampler")
    parser.add_argument("--sigma-min", type=float, help="the bottom of the σ grid (default: the setting's)")
    parser.add_argument("--overlap", type=float, help="overlap, fraction of a chunk (default 0.25; with --recommended "
                                                      "its overlap)")
    parser.add_argument("--batch", type=int, default=64, help="chunks per batch (default 64)")
    parser.add_argument("--speed-seconds", type=float, default=60.0, help="length of the timed song (default 60)")
    parser.add_argument("--repeats", type=int, default=1, help="speed: interleaved runs per setting (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, "cpu")
    cfg = tasks.SeparationConfig.paper_dirac()
    if args.heun_steps and args.euler_steps:
        parser.error("--heun-steps and --euler-steps exclude each other")
    if args.heun_steps:
        cfg = cfg.with_steps(args.heun_steps).with_heun()
    if args.euler_steps:
        cfg = cfg.with_steps(args.euler_steps)
    if args.recommended:
        if args.heun_steps or args.euler_steps:
            parser.error("--recommended sets the sampler and its steps")
        cfg = recommended_separation()
    if args.sigma_min is not None:
        cfg = cfg.replace(sigma_min=args.sigma_min)
    if args.overlap is None:
        args.overlap = RECOMMENDED_OVERLAP if args.recommended else tasks.DEFAULT_OVERLAP
    chunk = chunk_length(model)
    overlap = round(args.overlap * chunk)
    command = "benchmarks/long_form.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    load = os.getloadavg()[0]
    header = (f"Measured by `.venv/bin/python {command.strip()}` on {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s), load average {load:.1f} "
              f"at the start{' (other jobs shared the CPU)' if load > 0.5 else ''}. Model `{os.path.relpath(args.checkpoint, ROOT)}`; MSDM Dirac, "
              f"{cfg.sampler} {cfg.num_steps} steps × R {cfg.num_resamples} ({cfg.nfe} NFE per chunk), S_churn {cfg.s_churn:g}, "
              f"σ from {cfg.sigma_max:g} to {cfg.sigma_min:g}{' (the recommended setting)' if args.recommended else ''}; "
              f"bf16 = bfloat16 autocast of the network (`precision=\"bf16\"`), fp32 = float32.")
    texts = []
    if args.part in ("quality", "all"):
        section = f"{QUALITY}, " + ("recommended setting" if args.recommended else
                                     f"Heun {args.heun_steps}" if args.heun_steps else
                                     f"Euler {args.euler_steps} × R 2" if args.euler_steps else "paper sampler")
        texts.append((section, quality(args, model, cfg, chunk, overlap, header, section)))
    if args.part in ("speed", "all"):
        section = SPEED + (", recommended setting" if args.recommended else "")
        texts.append((section, speed(args, model, cfg, chunk, overlap, header, section)))
    for section, text in texts:
        print_section(section, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
