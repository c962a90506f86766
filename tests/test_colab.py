"""The Colab branch of every notebook's set-up cell, executed in a simulated Colab.

Colab is a Python that already has torch (its own CUDA build) and the scientific stack, with a
``google.colab`` module loaded. The simulation:

* a **fresh venv** (``--without-pip``) whose only packages are this project's environment, exposed
  read-only through a ``.pth`` file pointing at a folder of symlinks: torch, numpy, pip, setuptools…
  everything except msdm-tutorial itself. pip can see those packages but refuses to uninstall
  them ("outside environment"), so nothing here can touch the project's own ``.venv``;
* a **fake ``google.colab``** package whose ``output.enable_custom_widget_manager`` leaves a mark;
* the cell exactly as the committed ``00_tour.ipynb`` has it, with two strings replaced: the public
  URL by this repository (``file://``, so ``git clone --depth 1`` works offline) and ``/content`` by a
  temporary folder. The cell clones; the clone's ``course.start()`` (``course.colab_install``) installs
  it, so a simulation that changes the install step clones first and edits the clone's ``course.py``;
* pip offline (``--no-index``, no config files) with a **honeypot**: a ``torch 99`` wheel in
  ``--find-links``. A cell that lets pip choose torch installs it, and the checks see it.

After the cell, the rest of notebook 00 runs in the same process, and a new process checks that
torch is still the environment's (same version, same files) and that the venv gained exactly one
package, msdm-tutorial, installed editable from the clone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_tour.ipynb"
#: The install step (in the clone's msdm_tutorial/course.py) and its torch pin.
INSTALLER = Path("msdm_tutorial") / "course.py"
TORCH_PIN = 'f"torch=={version(\'torch\')}"'


def _repository_url() -> str:
    """The public URL, from the script that writes the set-up cell (pyproject's project.urls)."""
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.repository_url()


def _code_cells() -> list[str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _simulated_cell(content: Path) -> str:
    cell = _code_cells()[0]
    for needle in (_repository_url(), "/content/msdm-tutorial", "course.start()"):
        assert needle in cell, f"the set-up cell no longer contains {needle!r}; update this simulation"
    assert TORCH_PIN in (ROOT / INSTALLER).read_text(), f"{INSTALLER} no longer pins torch; update this simulation"
    return cell.replace(_repository_url(), f"file://{ROOT}").replace("/content/msdm-tutorial", str(content))


def _honeypot_wheel(folder: Path) -> None:
    """A tiny 'torch 99' wheel: installed only if the cell lets pip pick or upgrade torch."""
    folder.mkdir()
    info = "torch-99.0.0.dist-info"
    files = {
        "torch/__init__.py": '__version__ = "99.0.0"\n',
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: torch\nVersion: 99.0.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: msdm-tutorial-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(folder / "torch-99.0.0-py3-none-any.whl", "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
        whl.writestr(f"{info}/RECORD", "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n")


def _preinstalled(folder: Path) -> None:
    """Symlinks to this environment's packages, minus msdm-tutorial (Colab does not have it)."""
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("msdm_tutorial", "__editable__", "msdm-tutorial", "audio_diffusion")) or name.endswith(".pth"):
            continue
        (folder / entry.name).symlink_to(entry)


DRIVER = r"""
import json, os, sys
import google.colab                         # Colab has it loaded before any cell runs
cells = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
exec(compile(cells[0], "setup-cell", "exec"), namespace)
after_setup = {"cwd": os.getcwd(), "device": str(namespace["device"])}
for i, cell in enumerate(cells[1:], 1):     # the rest of the notebook, as Colab would run it
    exec(compile(cell, f"cell-{i}", "exec"), namespace)
import msdm_tutorial
print("RESULT " + json.dumps({**after_setup, "package": msdm_tutorial.__file__, "cells": len(cells)}))
"""

CHECK = r"""
import json, torch, msdm_tutorial
print("RESULT " + json.dumps({"torch": torch.__version__, "torch_file": torch.__file__,
                              "package": msdm_tutorial.__file__}))
"""


def _result(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stdout[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


def simulate_colab(tmp_path: Path, edit=None) -> dict:
    """Run notebook 00 as Colab would; with ``edit``, the course is cloned first and the clone's install
    step (``INSTALLER``) passed through ``edit`` (the cell then finds the clone). Returns what the
    checks need: the driver's and a fresh process's view, and the venv's own packages."""
    content = tmp_path / "content" / "msdm-tutorial"
    venv, fake, farm, wheels = tmp_path / "venv", tmp_path / "fake", tmp_path / "preinstalled", tmp_path / "wheels"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    _preinstalled(farm)
    (purelib / "colab_preinstalled.pth").write_text(f"{farm}\n")
    (fake / "google" / "colab").mkdir(parents=True)     # a namespace package: google.protobuf still imports
    (fake / "google" / "colab" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "output.py").write_text(
        f"def enable_custom_widget_manager():\n    open({str(tmp_path / 'widgets-on')!r}, 'w').close()\n")
    _honeypot_wheel(wheels)
    if edit is not None:
        subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(content)], check=True)
        (content / INSTALLER).write_text(edit((content / INSTALLER).read_text()))
    cells = [_simulated_cell(content), *_code_cells()[1:]]
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(fake), PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels),
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", MSDM_QUICK="1",
               PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    run = subprocess.run([python, str(tmp_path / "driver.py"), str(tmp_path / "cells.json")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    check = subprocess.run([python, "-c", CHECK], cwd=tmp_path, env={**env, "PYTHONPATH": ""},
                           capture_output=True, text=True)
    own = sorted(p.name.split("-")[0].lower() for p in purelib.glob("*.dist-info"))
    return {"returncode": run.returncode, "output": (run.stdout + run.stderr)[-3000:],
            "driver": _result(run.stdout) if run.returncode == 0 else None,
            "fresh": _result(check.stdout) if check.returncode == 0 else {"torch": None, "torch_file": "", "package": ""},
            "fresh_output": (check.stdout + check.stderr)[-2000:], "venv_packages": own,
            "content": content, "widgets_on": (tmp_path / "widgets-on").exists()}


def check_colab_install(sim: dict) -> None:
    """What the set-up cell must do on Colab: clone, install only the course, keep torch as it is."""
    content = sim["content"]
    assert (content / ".git").is_dir() and (content / "notebooks").is_dir(), "the cell should clone the course"
    assert sim["venv_packages"] == ["msdm_tutorial"], \
        f"the cell installed {sim['venv_packages']}; only msdm-tutorial may be installed (torch stays Colab's)"
    assert sim["fresh"]["torch"] == torch.__version__, f"torch changed: {sim['fresh']['torch']} {sim['fresh_output']}"
    assert Path(sim["fresh"]["torch_file"]).resolve() == Path(torch.__file__).resolve(), "torch was reinstalled"
    assert sim["returncode"] == 0, f"notebook 00 failed in the simulated Colab:\n{sim['output']}"
    for view in ("driver", "fresh"):
        assert Path(sim[view]["package"]).resolve().is_relative_to(content.resolve()), \
            f"msdm_tutorial imported from {sim[view]['package']}, not from the clone"
    assert Path(sim["driver"]["cwd"]) == content / "notebooks", "the notebooks expect to run in notebooks/"
    assert sim["driver"]["device"] in ("cpu", "cuda"), sim["driver"]
    assert sim["widgets_on"], "the cell should enable Colab's widget manager"


def _can_simulate() -> str | None:
    if shutil.which("git") is None:
        return "git is not installed"
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        return "the repository is not a git checkout with a commit to clone"
    return None


pytestmark = pytest.mark.skipif(_can_simulate() is not None, reason=str(_can_simulate()))


def test_colab_setup_cell_installs_the_course_and_keeps_torch(tmp_path):
    sim = simulate_colab(tmp_path)
    check_colab_install(sim)
    assert sim["driver"]["cells"] == len(_code_cells()) > 3, "the whole notebook ran after the set-up cell"


def test_simulation_catches_a_cell_that_reinstalls_torch(tmp_path):
    """The same checks fail when the install step lets pip upgrade torch instead of pinning Colab's."""
    sim = simulate_colab(tmp_path, edit=lambda source: source.replace(TORCH_PIN, '"--upgrade", "torch"'))
    with pytest.raises(AssertionError, match="torch"):
        check_colab_install(sim)
    assert sim["fresh"]["torch"] == "99.0.0", "the honeypot torch should have been installed"
