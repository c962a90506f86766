#!/usr/bin/env python
"""How long each notebook takes in its default mode, and the run-time line of each header.

    .venv/bin/python benchmarks/notebook_times.py                      # measure and print
    .venv/bin/python benchmarks/notebook_times.py --write --headers    # also update docs/benchmarks.md
                                                                       # and every notebook's header

Each notebook runs alone, one after another, the way the test command runs it (``pytest
--nbval-lax`` on the paired ``.ipynb``) but in its *default* mode (``MSDM_QUICK`` unset) and at
torch's default thread count, which is what the README recommends on a machine to yourself. The
clock is the wall time of that pytest process, start-up included. The promise the course makes is
≤ 120 s per notebook on a 2-core CPU; the script exits 1 when a notebook fails or breaks it.

Measure on an idle machine: other processes on the two cores slow every row (the load average is
recorded beside the table). ``--headers`` rewrites, in each ``notebooks/NN_*.py``, the sentence
``N s in default mode on an idle 2-core CPU`` (after *Run time:*) with the measured N (and then the
paired ``.ipynb`` must be re-synced: ``scripts/sync_notebooks.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from _report import markdown_table, print_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Notebook run times"
BUDGET_S = 120
HEADER = re.compile(r"\b\d+ s in default mode on an idle 2-core CPU")


def header_sentence(seconds: float) -> str:
    return f"{round(seconds)} s in default mode on an idle 2-core CPU"


def time_notebook(notebook: Path) -> tuple[float, bool]:
    """Wall seconds of ``pytest --nbval-lax NOTEBOOK`` in default mode, and whether it passed."""
    env = {k: v for k, v in os.environ.items() if k not in ("MSDM_QUICK", "OMP_NUM_THREADS")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode == 0


def rewrite_header(source: Path, seconds: float) -> bool:
    """Put the measured time in the notebook's header sentence; False when the sentence is missing."""
    text = source.read_text()
    new, count = HEADER.subn(header_sentence(seconds), text, count=1)
    if count:
        source.write_text(new)
    return bool(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook .ipynb files (default: all of notebooks/)")
    parser.add_argument("--write", action="store_true", help="update the section of docs/benchmarks.md")
    parser.add_argument("--headers", action="store_true", help="rewrite the run-time sentence of each header")
    args = parser.parse_args()
    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    load = os.getloadavg()[0]
    rows, failed = [], []
    for nb in notebooks:
        seconds, ok = time_notebook(nb)
        print(f"{nb.name}: {seconds:.0f} s{'' if ok else '  FAILED'}", flush=True)
        rows.append((nb, seconds, ok))
        if not ok or seconds > BUDGET_S:
            failed.append(nb.name)
        if args.headers and ok and not rewrite_header(nb.with_suffix(".py"), seconds):
            print(f"note: {nb.with_suffix('.py').name}: no run-time sentence to rewrite", file=sys.stderr)
    lines = [SECTION, "",
             "Each notebook alone in its default mode (`MSDM_QUICK` unset), torch's default threads, wall time of "
             "`pytest --nbval-lax NOTEBOOK` including start-up. The course promises ≤ "
             f"{BUDGET_S} s each on a 2-core CPU.", "",
             "```", ".venv/bin/python benchmarks/notebook_times.py --write --headers", "```", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
             f"{load:.2f} at the start.", "",
             markdown_table(["notebook", "seconds", "passed"],
                            [*([nb.stem, f"{s:.0f}", "yes" if ok else "no"] for nb, s, ok in rows),
                             ["**total**", f"**{sum(s for _, s, _ in rows):.0f}**", ""]], align="lrl")]
    print_section(SECTION, "\n".join(lines) + "\n", args.write)
    if failed:
        print(f"over {BUDGET_S} s or failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
