#!/usr/bin/env python
"""MIDI rendering speed (× real time, one core) and the shipped models on rendered real compositions.

    .venv/bin/python benchmarks/render_speed.py                      # print the results
    .venv/bin/python benchmarks/render_speed.py --jobs 2 --write     # also update docs/benchmarks.md

Speed (this process pinned to one CPU, one thread): the four MIDI files of ``data_small/real/midi``
rendered by ``msdm_tutorial.data.midi.render_midi`` (every instrument alone with midirenderer at
48 kHz, then downmix and resampling to 22050 Hz), by midirenderer alone (the whole file in one
call), by ``msdm render-midi`` end to end (with FLAC writing), and toy songs by
``make-toy-data``'s two renderers. Best of five runs each; the load average is recorded beside them,
as other processes on the machine slow every row.

Quality: ``msdm evaluate`` (the paper's protocol, seed 0, one thread per run) of the shipped tiny
models on three sets, so that you can tell what hurts: the toy test songs the models were made for
(``data_small/toy``), four toy songs of the same composer played by the GM SoundFont (a change of
timbre only; made here in a temporary folder with ``make-toy-data --renderer soundfont``), and the
rendered real compositions of ``data_small/real`` (a change of timbre *and* of music). The equal
split y/4 scores 0 dB by definition. Only the section "## MIDI rendering and real compositions" of
docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section, score_cells  # noqa: E402

SECTION = "## MIDI rendering and real compositions"
CKPTS = "data_small/checkpoints"
STEMS = ("bass", "drums", "guitar", "piano")
MIDI_DIR = ROOT / "data_small" / "real" / "midi"


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def speed() -> list[tuple[str, float]]:
    import midirenderer
    import torch

    from msdm_tutorial import cli
    from msdm_tutorial.data import midi as M
    from msdm_tutorial.data import synthesize_song

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    font = M.read_soundfont()
    files = sorted(MIDI_DIR.glob("*.mid"))
    songs = [M.read_midi(f) for f in files]
    audio_s = sum(float(pm.get_end_time()) + M.TAIL_SECONDS for pm in songs)
    midi_s = sum(float(pm.get_end_time()) for pm in songs)
    M.render_midi(files[0], font)                                           # warm-up (imports, kernels)
    rows = []
    t = best_of(lambda: [M.render_midi(f, font) for f in files])
    rows.append(("`render_midi`: each instrument alone at 48 kHz, downmix, resample to 22050 Hz", audio_s / t))
    blobs = [f.read_bytes() for f in files]
    t = best_of(lambda: [midirenderer.render_wave_from(font, b) for b in blobs])
    rows.append(("midirenderer alone: the whole file in one call, 48 kHz stereo WAV bytes", midi_s / t))

    def cli_run():
        with tempfile.TemporaryDirectory() as tmp:
            assert cli.main(["render-midi", str(MIDI_DIR), tmp, "--format", "flac", "--quiet"]) == 0
    t = best_of(cli_run)
    rows.append(("`msdm render-midi … --format flac` end to end (4 files, FLAC writing included)", audio_s / t))
    seconds = 10.0
    t = best_of(lambda: [M.synthesize_song_soundfont(i, seconds) for i in range(4)])
    rows.append(("toy song, `--renderer soundfont` (same score, GM instruments)", 4 * seconds / t))
    t = best_of(lambda: [synthesize_song(i, seconds) for i in range(4)])
    rows.append(("toy song, `--renderer numpy` (the default oscillators)", 4 * seconds / t))
    return rows


MSDM = ["--checkpoint", f"{CKPTS}/msdm-tiny.pt"]
ISDM = ["--isdm", ",".join(f"{s}={CKPTS}/isdm-tiny-{s}.pt" for s in STEMS)]
PAPER = ["--chunking", "independent", "--precision", "fp32", "--sigma-max", "1", "--sigma-min", "1e-4"]   # the paper's protocol and grid, pinned
HEUN24 = [*PAPER, "--sampler", "heun", "--steps", "24", "--churn", "3.2"]
EULER24 = [*PAPER, "--sampler", "euler", "--steps", "24", "--churn", "3.2"]
SETS = {"toy": "data_small/toy", "toy, GM SoundFont": "{sf_toy}", "real compositions": "data_small/real"}
ROWS = [  # (data set, model, sampler, options)
    *[(name, "MSDM Dirac", "Heun 24 steps, S_churn 3.2", MSDM + HEUN24) for name in SETS],
    ("real compositions", "MSDM Dirac", "Euler 24 steps × R 2, S_churn 3.2", MSDM + EULER24),
    ("real compositions", "ISDM ×4 Dirac", "Euler 24 steps × R 2, S_churn 3.2", ISDM + EULER24),
]


def shown(options, data) -> str:
    return "msdm evaluate " + " ".join(shlex.quote(o) for o in options) + f" --data {data} --json r.json"


def run_row(row, tmp: Path, sf_toy: str) -> dict:
    name, model, sampler, options = row
    data = SETS[name].format(sf_toy=sf_toy)
    out = tmp / f"{abs(hash((name, model, sampler)))}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "msdm_tutorial.cli", "evaluate", *options, "--data", data, "--quiet",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{shown(options, data)} failed: {proc.stderr.strip().splitlines()[-1]}")
    result = json.loads(out.read_text())
    print(f"  {name} | {model} | {sampler}: {result['summary']['average']:.2f} dB ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    return {"set": name, "model": model, "sampler": sampler, "options": options, "data": data,
            "nfe": result["run"]["config"]["nfe"], "summary": result["summary"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="evaluations at a time (one thread each)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--speed-only", action="store_true", help="skip the separation quality runs")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = speed()
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for what, x in rows:
        print(f"  {x:8.1f}x real time  {what}", flush=True)
    results = []
    sf_cmd = ("msdm make-toy-data TMP --renderer soundfont --songs 0 --validation-songs 0 --test-songs 4 "
              "--seconds 10 --seed 16 --format flac")
    if not args.speed_only:
        with tempfile.TemporaryDirectory() as tmp:
            sf_toy = str(Path(tmp) / "sf_toy")
            subprocess.run([sys.executable, "-m", "msdm_tutorial.cli", *shlex.split(sf_cmd.replace("TMP", sf_toy))[1:],
                            "--quiet"], cwd=ROOT, check=True)
            with ThreadPoolExecutor(max(1, args.jobs)) as pool:
                results = list(pool.map(lambda r: run_row(r, Path(tmp), sf_toy), ROWS))

    import midirenderer  # noqa: F401
    from importlib.metadata import version

    lines = [SECTION, "",
             f"Measured by `.venv/bin/python benchmarks/render_speed.py --jobs {args.jobs} --write` on "
             f"{platform.machine()}, {os.cpu_count()} cores (midirenderer {version('midirenderer')}, "
             f"pretty_midi {version('pretty_midi')}, SoundFont TimGM6mb.sf2).", "",
             "**Rendering speed**, one core (the process pinned to one CPU), best of 5; seconds of audio per second "
             f"(1-minute load average {load_before:.1f} before, {load_after:.1f} after: other processes shared the "
             "machine, so an idle one is faster):", "",
             markdown_table(["what", "× real time"], ([what, f"{x:.0f}"] for what, x in rows))]
    lines += ["", "The input is the four MIDI files of `data_small/real/midi` (4 × 10 s, 3–4 instruments each; "
              "the rendered tracks add a 1 s tail).", ""]
    if results:
        lines += ["**Separation** of the rendered sets by the shipped tiny models (paper protocol: 4 s windows, "
                  "2 s hop, windows with ≤ 1 active stem skipped; seed 0). SI-SDRi in dB; the equal split y/4 "
                  "scores 0 dB.", "",
                  markdown_table(["data", "tracks", "windows", "model", "sampler", "NFE", *STEMS, "average"],
                                 ([r["set"], r["summary"]["num_tracks"], r["summary"]["num_windows"], r["model"],
                                   r["sampler"], r["nfe"], *score_cells(r["summary"], STEMS)] for r in results),
                                 align="lrrllr" + "r" * (len(STEMS) + 1))]
        by = {(r["set"], r["model"], r["sampler"]): r["summary"]["average"] for r in results}
        h = "Heun 24 steps, S_churn 3.2"
        toy, sft, real = (by[(n, "MSDM Dirac", h)] for n in SETS)
        lines += ["",
                  f"- MSDM Dirac, Heun 24: {toy:.2f} dB on the toy songs, {sft:.2f} dB on the same composer played "
                  f"by GM instruments ({sft - toy:+.2f} dB: timbre alone), {real:.2f} dB on the real compositions "
                  f"({real - toy:+.2f} dB against the toy songs).",
                  f"- On the real compositions, ISDM (four single-stem models, Euler 24 × R 2) averages "
                  f"{by[('real compositions', 'ISDM ×4 Dirac', 'Euler 24 steps × R 2, S_churn 3.2')]:.2f} dB and MSDM "
                  f"with the same sampler {by[('real compositions', 'MSDM Dirac', 'Euler 24 steps × R 2, S_churn 3.2')]:.2f} dB.",
                  f"- The sampled toy set: `{sf_cmd}` (TMP: a temporary folder).",
                  "- Commands (seed 0):", "",
                  *[f"      {shown(r['options'], r['data'] if r['set'] != 'toy, GM SoundFont' else 'TMP')}"
                    for r in results], ""]
    print_section(SECTION, "\n".join(lines), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
