"""One torch thread per process, or torch's default? Time whole notebooks both ways, alone and side by side.

    .venv/bin/python benchmarks/threads.py --write                  # notebooks 06 and 09, default mode
    .venv/bin/python benchmarks/threads.py --notebooks 07_generation --quick

Each notebook runs top to bottom under nbval (as ``make test`` runs it), in a fresh kernel:
* **alone**: one notebook at a time, with ``OMP_NUM_THREADS=1`` and with torch's default (one thread
  per core);
* **side by side**: all the notebooks at once, each with one thread, then each with the default.
Wall times, and the ratio default / 1 thread within each pair, go to docs/benchmarks.md
("Threads"). Run it on an otherwise idle machine: the load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def run_notebook(name: str, threads: int | None, quick: bool, limit: float | None = None) -> float:
    """Wall seconds for one notebook under nbval; ``threads=None`` leaves torch's default.
    Past ``limit`` seconds the run is stopped and reported as ``inf`` (it was at least that slow)."""
    env = {k: v for k, v in os.environ.items() if k not in (*THREAD_VARS, "MSDM_QUICK")}
    if threads is not None:
        env.update({k: str(threads) for k in THREAD_VARS})
    if quick:
        env["MSDM_QUICK"] = "1"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                             "--nbval-current-env", str(ROOT / "notebooks" / f"{name}.ipynb")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)                      # the kernel too
        proc.communicate()
        return float("inf")
    seconds = time.perf_counter() - start
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, "")
    if done.returncode != 0:
        raise SystemExit(f"{name} failed with threads={threads}:\n{done.stdout[-3000:]}")
    return seconds


def side_by_side(names: list[str], threads: int | None, quick: bool, limit: float) -> dict[str, float]:
    with ThreadPoolExecutor(len(names)) as pool:
        futures = {n: pool.submit(run_notebook, n, threads, quick, limit) for n in names}
        return {n: f.result() for n, f in futures.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="+", default=["06_training", "09_separation"])
    parser.add_argument("--quick", action="store_true", help="MSDM_QUICK=1 (the test run's mode)")
    parser.add_argument("--limit-factor", type=float, default=4.0,
                        help="stop a side-by-side run after this many times the slowest run alone (default 4)")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args(argv)

    default = torch.get_num_threads()
    load_before = os.getloadavg()[0]
    alone = {}
    for name in args.notebooks:
        for threads in (1, None):
            alone[name, threads] = run_notebook(name, threads, args.quick)
            print(f"alone  {name:24s} threads={threads or default}: {alone[name, threads]:6.1f} s", flush=True)
    together = {}
    limit = args.limit_factor * max(alone.values())
    if len(args.notebooks) > 1:
        for threads in (1, None):
            together[threads] = side_by_side(args.notebooks, threads, args.quick, limit)
            print(f"side by side, threads={threads or default} each: "
                  + ", ".join(f"{n} {t:.1f} s" for n, t in together[threads].items()), flush=True)
    load_after = os.getloadavg()[0]

    def seconds(t: float) -> str:
        return f"> {limit:.0f} s (stopped)" if t == float("inf") else f"{t:.1f} s"

    def ratio(a: float, b: float) -> str:
        return f"> {limit / b:.1f}" if a == float("inf") else f"{a / b:.2f}"

    def row(name: str) -> list[str]:
        one, dflt = alone[name, 1], alone[name, None]
        cells = [name, f"{one:.1f}", f"{dflt:.1f}", f"{dflt / one:.2f}"]
        if together:
            t1, td = together[1][name], together[None][name]
            cells += [seconds(t1), seconds(td), ratio(td, t1)]
        return cells

    mode = "quick mode (`MSDM_QUICK=1`)" if args.quick else "default mode"
    command = "`.venv/bin/python benchmarks/threads.py" + (" --quick" if args.quick else "") + \
              ("" if args.notebooks == ["06_training", "09_separation"] else " --notebooks " + " ".join(args.notebooks)) + \
              (f" --limit-factor {args.limit_factor:g}" if args.limit_factor != 4.0 else "") + " --write`"
    lines = ["## Threads: one per process, or torch's default", "",
             f"Measured by {command} on {date.today()}: {platform.machine()}, {os.cpu_count()} cores, "
             f"torch {torch.__version__} (default {default} threads); 1-minute load average {load_before:.1f} "
             f"before and {load_after:.1f} after. Each notebook runs top to bottom under nbval in {mode}, in a "
             "fresh kernel; wall seconds, one run each.", "",
             markdown_table(["notebook", "alone, 1 thread", "alone, default", "default / 1 thread",
                             *(["side by side, 1 thread each", "side by side, default each", "default / 1 thread"]
                               if together else [])], [row(name) for name in args.notebooks]),
             ""]
    faster_alone = [n for n in args.notebooks if alone[n, None] < alone[n, 1]]
    lines.append(f"- **Alone:** torch's default was faster for {len(faster_alone)} of {len(args.notebooks)} "
                 "notebooks (ratio < 1 means the default wins).")
    if together:
        span1, spand = max(together[1].values()), max(together[None].values())
        lines.append(f"- **Side by side:** all {len(args.notebooks)} finished in {seconds(span1)} with one "
                     f"thread each and {seconds(spand)} with the default each (ratio {ratio(spand, span1)}). "
                     f"A run still going after {limit:.0f} s ({args.limit_factor:g} × the slowest run alone) "
                     "was stopped: it shows as '> limit'.")
    print("\n".join(lines))
    if args.write:
        print(f"wrote {write_section(lines[0], chr(10).join(lines) + chr(10))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
