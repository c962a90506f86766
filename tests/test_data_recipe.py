"""data_small/ is reproducible: re-running its recorded recipe gives byte-identical files."""

import hashlib
import shlex
from pathlib import Path

import numpy as np
import soundfile as sf

from msdm_tutorial import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data_small"


def _recipe() -> list[list[str]]:
    lines = (DATA / "RECIPE").read_text().splitlines()
    return [shlex.split(line)[1:] for line in lines if line.startswith("msdm ")]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_recipe_regenerates_data_small_byte_for_byte(tmp_path):
    commands = _recipe()
    assert len(commands) == 2, "RECIPE should hold the two make-toy-data commands"
    recorded = (DATA / "RECIPE").read_text()
    assert f"libsndfile {sf.__libsndfile_version__}" in recorded, (
        "this libsndfile differs from the one that made data_small; FLAC bytes may differ")
    for argv in commands:
        out = Path(argv[1])
        assert out.parts[0] == "data_small", argv
        target = tmp_path / Path(*out.parts[1:])
        assert cli.main([argv[0], str(target), *argv[2:], "--quiet"]) == 0
        shipped, regenerated = _hashes(ROOT / out), _hashes(target)
        assert shipped.keys() == regenerated.keys(), f"{out}: different file lists"
        differing = [name for name in shipped if shipped[name] != regenerated[name]]
        assert not differing, (f"{out}: {len(differing)} file(s) differ, e.g. {differing[:3]} "
                               f"(made with the numpy named in RECIPE; this is numpy {np.__version__})")


def test_data_small_budget():
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size <= 30e6, f"data_small is {size / 1e6:.1f} MB, over the 30 MB budget"
    songs = sum(p.stat().st_size for sub in ("toy", "slakh_raw") for p in (DATA / sub).rglob("*") if p.is_file())
    assert songs <= 13.5e6, f"the songs take {songs / 1e6:.1f} MB; keep room for the checkpoints"
