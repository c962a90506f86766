"""Folders of stems: what ``msdm generate / impute / separate`` and the lab's Save button write.

A result folder holds ``{stem}.wav`` per stem and ``mix.wav``, their sum. It appears all or
nothing (:mod:`msdm_tutorial.files`): a new folder is written under a temporary name and renamed;
an existing one receives complete files by ``os.replace`` (other files in it are left alone).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from torch import Tensor

from .files import atomic_dir, temporary_sibling


def check_output_folder(out) -> Path:
    """OUT may be a new or an existing folder, not a file (checked before any work is done)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    return out


def stem_files(stems, audio: Tensor, prefix: str = "") -> dict[str, Tensor]:
    """{"bass.wav": (1, T), …, "mix.wav": Σ stems} for one (K, T) item."""
    files = {f"{prefix}{s}.wav": audio[k:k + 1] for k, s in enumerate(stems)}
    files[f"{prefix}mix.wav"] = audio.sum(0, keepdim=True)
    return files


def _write_all(folder: Path, files: dict[str, Tensor], sample_rate: int) -> None:
    from .data.audio import save_audio

    for rel, audio in files.items():
        save_audio(folder / rel, audio.detach().float().cpu(), sample_rate)


def _move_into(out: Path, files: dict[str, Tensor], sample_rate: int) -> None:
    """Write ``files`` into a staging folder beside the existing ``out``, then replace them into it."""
    staging = temporary_sibling(out, "staging")
    staging.mkdir()
    try:
        _write_all(staging, files, sample_rate)
        for rel in files:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, out / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_stem_folder(out, files: dict[str, Tensor], sample_rate: int) -> list[Path]:
    """Write ``files`` (relative name → (C, T) audio) under OUT, all or nothing; returns their paths.

    On failure nothing is left: no temporary folder, and no folder that was created for OUT."""
    out = check_output_folder(out)
    parent = out.absolute().parent
    new_ancestor = next((a for a in reversed([parent, *parent.parents]) if not a.exists()), None)
    done = False
    try:
        if out.exists():
            _move_into(out, files, sample_rate)
        else:
            with atomic_dir(out) as tmp:
                _write_all(tmp, files, sample_rate)
        done = True
    finally:
        if not done and new_ancestor is not None:  # folders made for OUT go too
            shutil.rmtree(new_ancestor, ignore_errors=True)
    return [out / rel for rel in files]


__all__ = ["check_output_folder", "stem_files", "write_stem_folder"]
