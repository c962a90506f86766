"""The course notebooks: .py sources and .ipynb twins in sync, no stored outputs, python3 kernel,
the canonical set-up cell, and one repository URL (pyproject) used by the set-up cell and README."""

import importlib.util
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest

from msdm_tutorial import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_notebooks)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


def test_every_pair_is_in_sync_and_output_free():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_notebooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "notebooks out of sync (run `make sync-notebooks`):\n" + result.stdout


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_setup_cell(py):
    nb = jupytext.read(py)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.strip() == sync_notebooks.setup_cell_source()
    assert "course.start()" in first.source, "the set-up cell must finish with the course's common start"
    assert "torch==" in inspect.getsource(course.colab_install), \
        "the Colab install (course.start on Colab) must pin Colab's own torch so it is never reinstalled"


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.name)
def test_exactly_one_setup_cell(py):
    """On Colab a second set-up cell installs the course twice: each notebook has one, its first code cell."""
    for nb in (jupytext.read(py), nbformat.read(py.with_suffix(".ipynb"), as_version=4)):
        setups = [i for i, c in enumerate(nb.cells) if sync_notebooks.is_setup_cell(c)]
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        assert setups == [first_code], f"{py.name}: set-up cells at {setups}, the first code cell is {first_code}"


def test_a_second_setup_cell_fails_the_check_and_sync_removes_it(tmp_path):
    """A copy of the set-up cell above the title (as 07/08/09/11 once had) and a stale copy
    further down both fail ``--check``; syncing keeps the one below the title and nothing else changes."""
    src = NOTEBOOKS[0]
    py = tmp_path / src.name
    py.write_text(src.read_text())
    (tmp_path / src.with_suffix(".ipynb").name).write_bytes(src.with_suffix(".ipynb").read_bytes())
    assert sync_notebooks.sync(py, check=True) == []
    original = jupytext.read(py)
    stale = sync_notebooks.setup_cell_source().replace("import subprocess", "import os, subprocess")
    for where, source in ((0, sync_notebooks.setup_cell_source()), (len(original.cells) - 1, stale)):
        nb = jupytext.read(src)
        nb.cells.insert(where, nbformat.v4.new_code_cell(source))
        jupytext.write(nb, py, fmt="py:percent")
        problems = sync_notebooks.sync(py, check=True)
        assert any("2 set-up cells" in p for p in problems), problems
        assert sync_notebooks.sync(py, check=False) == []
        assert sync_notebooks.sync(py, check=True) == []
        assert sync_notebooks.normalised(jupytext.read(py)) == sync_notebooks.normalised(original)


def markdown_links(py):
    """Relative link targets (no scheme) in the markdown cells of a notebook."""
    import re

    return [target for cell in jupytext.read(py).cells if cell.cell_type == "markdown"
            for target in re.findall(r"\]\(([^)\s]+)\)", cell.source) if "://" not in target]


def test_the_tour_links_every_notebook():
    tour = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    linked = {t.split("#")[0] for t in markdown_links(tour)}
    missing = [p.with_suffix(".ipynb").name for p in NOTEBOOKS[1:] if p.with_suffix(".ipynb").name not in linked]
    assert not missing, f"00's table of notebooks does not link {missing}"


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.name)
def test_relative_links_resolve(py):
    broken = [t for t in markdown_links(py) if not (py.parent / t.split("#")[0]).exists()]
    assert not broken, f"{py.name}: links to missing files {broken}"


def test_check_detects_a_stale_pair(tmp_path, monkeypatch):
    """The sync check itself must fail on a drifted .ipynb or stored outputs."""
    src = NOTEBOOKS[0]
    py, ipynb = tmp_path / src.name, tmp_path / src.with_suffix(".ipynb").name
    py.write_text(src.read_text())
    ipynb.write_bytes(src.with_suffix(".ipynb").read_bytes())
    assert sync_notebooks.sync(py, check=True) == []
    nb = nbformat.read(ipynb, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, ipynb)
    assert any("stored outputs" in p for p in sync_notebooks.sync(py, check=True))
    py.write_text(py.read_text() + "\n# %%\nprint('new cell')\n")
    assert any("cells differ" in p for p in sync_notebooks.sync(py, check=True))


def test_repository_url_lives_in_pyproject_and_readme_uses_it():
    with open(ROOT / "pyproject.toml", "rb") as f:
        url = tomllib.load(f)["project"]["urls"]["Repository"]
    assert url in sync_notebooks.setup_cell_source()
    readme = (ROOT / "README.md").read_text()
    assert url in readme
    owner_repo = url.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{owner_repo}" in readme
