"""data_small/ is reproducible: re-running its recorded recipe gives the same data on any x86-64 CPU.

What holds, and why:

* **Labels and metadata** (``meta.json``, ``metadata.yaml``) come from integer RNG draws and exact
  arithmetic: they must match byte for byte, on every machine.
* **Audio** is computed in float64 with numpy's vectorised ``sin``/``exp``. numpy picks those
  kernels by CPU at run time (SSE4.2, AVX2, AVX-512…), and the kernels differ in the last bit of a
  float64. After 16-bit quantisation such a difference is invisible except where a sample lands
  within an ulp of a rounding boundary, which flips it by one step (1/32768). So decoded samples
  must agree within **one 16-bit step**, on a small share of samples: measured at most 0.38 % of
  one file and 0.027 % overall across the AVX-512, AVX2 and baseline paths; allowed 1 % and 0.1 %.
  Any real change to the synthesis (a gain, a seed, a timbre) moves far more samples by far more.
* **On one machine** the same seed gives identical bytes (tests/test_data_toy.py checks that), and
  so does this test when numpy takes the same code path as the machine that made ``data_small``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msdm_tutorial import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data_small"
MAX_STEP_SHARE_PER_FILE = 0.01      # of a file's samples that may differ (by one step)
MAX_STEP_SHARE_OVERALL = 0.001      # of all samples


def _recipe() -> list[list[str]]:
    lines = (DATA / "RECIPE").read_text().splitlines()
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("msdm ")]
    assert len(commands) == 2, "RECIPE should hold the two make-toy-data commands"
    return commands


def _regenerate(argv: list[str], root: Path) -> tuple[Path, Path]:
    """Run one RECIPE command into ``root``; return (shipped folder, regenerated folder)."""
    out = Path(argv[1])
    assert out.parts[0] == "data_small", argv
    target = root / Path(*out.parts[1:])
    assert cli.main([argv[0], str(target), *argv[2:], "--quiet"]) == 0
    return ROOT / out, target


def compare_trees(shipped: Path, regenerated: Path) -> dict:
    """Compare two data folders: the same files, metadata byte for byte, audio within one 16-bit step.

    Returns counts (files, samples, differing samples, byte-identical audio files). Raises
    AssertionError naming the first file that breaks a rule."""
    files = sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file())
    again = sorted(str(p.relative_to(regenerated)) for p in regenerated.rglob("*") if p.is_file())
    assert files == again, f"{shipped}: different file lists ({set(files) ^ set(again)})"
    report = {"files": len(files), "audio_files": 0, "identical_audio_files": 0, "samples": 0, "differing": 0}
    for name in files:
        a_path, b_path = shipped / name, regenerated / name
        if a_path.suffix not in (".flac", ".wav"):
            assert a_path.read_bytes() == b_path.read_bytes(), f"{name}: metadata must match exactly"
            continue
        report["audio_files"] += 1
        if a_path.read_bytes() == b_path.read_bytes():
            report["identical_audio_files"] += 1
        info_a, info_b = sf.info(a_path), sf.info(b_path)
        assert (info_a.samplerate, info_a.channels, info_a.frames, info_a.subtype) == \
               (info_b.samplerate, info_b.channels, info_b.frames, info_b.subtype), f"{name}: format differs"
        a, _ = sf.read(a_path, dtype="int16")
        b, _ = sf.read(b_path, dtype="int16")
        step = np.abs(a.astype(np.int32) - b.astype(np.int32))
        share = float((step > 0).mean())
        assert step.max() <= 1, f"{name}: samples differ by up to {step.max()} 16-bit steps (allowed: 1)"
        assert share <= MAX_STEP_SHARE_PER_FILE, f"{name}: {share:.2%} of samples differ by one step"
        report["samples"] += step.size
        report["differing"] += int((step > 0).sum())
    share = report["differing"] / max(1, report["samples"])
    assert share <= MAX_STEP_SHARE_OVERALL, f"{shipped}: {share:.3%} of all samples differ by one step"
    return report


def test_recipe_regenerates_data_small(tmp_path):
    recorded = (DATA / "RECIPE").read_text()
    for argv in _recipe():
        shipped, regenerated = _regenerate(argv, tmp_path)
        report = compare_trees(shipped, regenerated)
        assert report["audio_files"] > 0, shipped
    assert "libsndfile" in recorded and "numpy" in recorded, "RECIPE should name the versions that made the data"


def test_same_recipe_twice_is_byte_identical(tmp_path):
    """On one machine nothing may vary at all: same seed, same bytes."""
    argv = _recipe()[1]                                              # the small slakh-raw set
    _, first = _regenerate(argv, tmp_path / "a")
    _, second = _regenerate(argv, tmp_path / "b")
    report = compare_trees(first, second)
    assert report["identical_audio_files"] == report["audio_files"] > 0


def test_compare_trees_fails_on_real_changes(tmp_path):
    """The tolerance catches what it must: a two-step change, and one step on many samples."""
    argv = _recipe()[1]
    shipped, _ = _regenerate(argv, tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(shipped, copy)
    stem = next(copy.rglob("S*.flac"))
    audio, sr = sf.read(stem, dtype="int16")
    louder = audio.astype(np.int32)
    louder[::50] += 2                                                 # 2 % of samples, by two steps
    sf.write(stem, np.clip(louder, -32768, 32767).astype(np.int16), sr, subtype="PCM_16")
    with pytest.raises(AssertionError, match="up to 2 16-bit steps"):
        compare_trees(shipped, copy)
    shifted = audio.astype(np.int32)
    shifted[::20] += 1                                                # 5 % of samples, by one step
    sf.write(stem, np.clip(shifted, -32768, 32767).astype(np.int16), sr, subtype="PCM_16")
    with pytest.raises(AssertionError, match="of samples differ by one step"):
        compare_trees(shipped, copy)
    meta = next(copy.rglob("meta.json"))
    sf.write(stem, audio, sr, subtype="PCM_16")
    labels = json.loads(meta.read_text())
    labels["seed"] = labels.get("seed", 0) + 1
    meta.write_text(json.dumps(labels))
    with pytest.raises(AssertionError, match="metadata must match exactly"):
        compare_trees(shipped, copy)


# ------------------------------------------------------------------------------------------------
# The other code paths of numpy, on this machine: NPY_DISABLE_CPU_FEATURES switches dispatch off.

_FEATURES = """
import json
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(json.dumps({"dispatch": list(__cpu_dispatch__), "on": [k for k, v in __cpu_features__.items() if v]}))
"""


def _numpy_features(env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", _FEATURES], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _disable_sets() -> dict[str, list[str]]:
    """Dispatch targets to switch off: the AVX-512 family, and every target (numpy's baseline)."""
    here = _numpy_features(dict(os.environ, NPY_DISABLE_CPU_FEATURES=""))
    enabled = [t for t in here["dispatch"] if t in here["on"]]
    avx512 = [t for t in enabled if t.startswith("AVX512") or t == "X86_V4"]
    return {"avx512-off": avx512, "baseline-only": enabled}


@pytest.mark.parametrize("case", ["avx512-off", "baseline-only"])
def test_recipe_holds_on_other_numpy_code_paths(tmp_path, case):
    """Regenerate data_small in a subprocess with numpy's faster kernels switched off."""
    disabled = _disable_sets()[case]
    if not disabled:
        pytest.skip(f"this CPU has no {case} dispatch targets to switch off")
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(disabled))
    on = _numpy_features(env)["on"]
    assert not set(disabled) & set(on), f"numpy ignored NPY_DISABLE_CPU_FEATURES={disabled}"
    for argv in _recipe():
        out = Path(argv[1])
        target = tmp_path / Path(*out.parts[1:])
        subprocess.run([sys.executable, "-m", "msdm_tutorial.cli", argv[0], str(target), *argv[2:], "--quiet"],
                       env=env, check=True, cwd=ROOT)
        report = compare_trees(ROOT / out, target)
        assert report["audio_files"] > 0


def test_data_small_budget():
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size <= 45e6, f"data_small is {size / 1e6:.1f} MB, over the 45 MB budget (issue 12)"
    songs = sum(p.stat().st_size for p in (DATA / "toy").rglob("*") if p.is_file()) + \
        sum(p.stat().st_size for p in (DATA / "slakh_raw").rglob("*") if p.is_file())
    assert songs <= 13.5e6, f"the toy songs take {songs / 1e6:.1f} MB; keep room for the checkpoints"
    real = sum(p.stat().st_size for p in (DATA / "real").rglob("*") if p.is_file())   # issue 16: 3.3 MB
    assert real <= 3.6e6, f"the rendered real compositions take {real / 1e6:.1f} MB; keep them to a few pieces"
