#!/usr/bin/env python
"""Keep the course notebooks in shape: the jupytext ``.py`` is the source of truth.

For every ``notebooks/NN_topic.py`` this
  1. owns the single set-up cell (Colab + device), whose repository URL comes from pyproject's
     ``project.urls.Repository``: the notebook's first code cell is the canonical set-up cell, and
     every other copy of a set-up cell (a stale one, one pasted above the title) is removed;
  2. sets the ``python3`` kernelspec;
  3. writes the paired ``.ipynb`` without outputs.
``--check`` only reports what is out of sync (exit 1), which is what the tests use: among others, a
second set-up cell anywhere in a notebook.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def repository_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"]


def setup_cell_source() -> str:
    """The canonical set-up cell. On Colab it only fetches the course: ``course.start`` (shipped in the
    clone) installs it beside Colab's own torch, moves to notebooks/ and switches on the widgets."""
    return f'''# Set-up: works locally and on Colab. On Colab it clones the course and installs it,
# keeping Colab's own torch; everywhere it picks the GPU when there is one.
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run("test -d /content/msdm-tutorial || git clone --depth 1 {repository_url()} /content/msdm-tutorial", shell=True, check=True)
    sys.path.insert(0, "/content/msdm-tutorial")

from msdm_tutorial import course

device, gen = course.start()  # on Colab: pip install -e the clone (torch pinned), cd notebooks/, widgets on'''


#: What makes a code cell a set-up cell, current or stale: its first comment or its Colab test.
SETUP_MARKERS = ("# Set-up: works locally and on Colab", '"google.colab" in sys.modules')


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and any(marker in cell.source for marker in SETUP_MARKERS)


def setup_index(cells) -> int | None:
    """The set-up cell to keep: the last one before any other code cell (a copy pasted above the title
    loses to the one below it), or None when a code cell comes before every set-up cell."""
    keep = None
    for i, cell in enumerate(cells):
        if is_setup_cell(cell):
            keep = i
        elif cell.cell_type == "code":
            break
    return keep


def setup_problems(nb, name: str) -> list[str]:
    """What is wrong with ``nb``'s set-up cell: missing, repeated, not first among the code cells, or
    not canonical."""
    where = [i for i, c in enumerate(nb.cells) if is_setup_cell(c)]
    if not where:
        return [f"{name}: has no set-up cell"]
    problems = []
    if len(where) > 1:
        problems.append(f"{name}: has {len(where)} set-up cells (cells {where}); it must have exactly one")
    if setup_index(nb.cells) is None:
        problems.append(f"{name}: a code cell comes before the set-up cell; it must be the first code cell")
    if any(nb.cells[i].source.strip() != setup_cell_source() for i in where):
        problems.append(f"{name}: the set-up cell is not the canonical one")
    return problems


def fix_setup(nb) -> None:
    """Keep one set-up cell (``setup_index``; a new one before the first code cell when there is none
    in place), make it the canonical one, and remove every other copy. Nothing else changes."""
    keep = setup_index(nb.cells)
    if keep is None:
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first_code, nbformat.v4.new_code_cell())
        keep = first_code
    nb.cells[keep].source = setup_cell_source()
    nb.cells = [c for i, c in enumerate(nb.cells) if i == keep or not is_setup_cell(c)]


def normalised(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def sync(py: Path, check: bool) -> list[str]:
    problems = []
    nb = jupytext.read(py)
    if not any(c.cell_type == "code" for c in nb.cells):
        return [f"{py.name}: has no code cell"]
    found = setup_problems(nb, py.name)
    if found:
        if check:
            problems += found
        fix_setup(nb)
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        if check:
            problems.append(f"{py.name}: kernelspec is not python3")
        nb.metadata["kernelspec"] = KERNELSPEC
    ipynb = py.with_suffix(".ipynb")
    if check:
        if not ipynb.exists():
            return problems + [f"{ipynb.name}: missing (run make sync-notebooks)"]
        paired = nbformat.read(ipynb, as_version=4)
        if normalised(paired) != normalised(jupytext.read(py)):
            problems.append(f"{ipynb.name}: cells differ from {py.name} (run make sync-notebooks)")
        if paired.metadata.get("kernelspec", {}).get("name") != "python3":
            problems.append(f"{ipynb.name}: kernelspec is not python3")
        for i, cell in enumerate(paired.cells):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                problems.append(f"{ipynb.name}: cell {i} has stored outputs (commit notebooks without outputs)")
        return problems
    jupytext.write(nb, py, fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # stable ids: re-syncing an unchanged notebook changes no byte
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    jupytext.write(nb, ipynb, fmt="ipynb")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    args = parser.parse_args(argv)
    problems = []
    for py in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")):
        problems += sync(py, args.check)
    for ipynb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if not ipynb.with_suffix(".py").exists():
            problems.append(f"{ipynb.name}: has no paired .py source")
    for p in problems:
        print(p)
    return 1 if (args.check and problems) else 0


if __name__ == "__main__":
    sys.exit(main())
