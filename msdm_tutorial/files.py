"""Atomic writes: a result appears whole, under its final name, or not at all.

Every writer in the project goes through here. The pattern is always the same: write a temporary
sibling (same folder, so the rename stays on one file system), flush it to disk, then
``os.replace`` it onto the target. A crash or an error in between leaves the old file (if any)
untouched and removes the temporary one.

    with atomic_path("out/bass.wav") as tmp:     # for libraries that want a file name
        soundfile.write(tmp, audio, 22050)
    with atomic_open("log.jsonl", "w") as f:     # for plain file objects
        f.write(text)
    write_text_atomic("config.json", text)
    with atomic_dir("out/Track00001") as tmp:    # a new folder, complete or absent
        ...
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path: Path, tag: str = "tmp") -> Path:
    """``DIR/.NAME.tmp-PID``: hidden, beside ``path``, unique per process; keeps NAME's suffix last
    (so libraries that infer a format from the name still see ``.wav`` or ``.pt``)."""
    return path.with_name(f".{path.stem}.{tag}-{os.getpid()}{path.suffix}")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success fsync it and rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """``open()`` for writing, atomically: the file object writes a temporary sibling of ``path``."""
    if not any(c in mode for c in "wx"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not a write mode")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (newlines as given). Returns ``Path(path)``."""
    with atomic_open(path, "w", newline="") as f:
        f.write(text)
    return Path(path)


@contextmanager
def atomic_dir(path, replace: bool = False):
    """Yield a temporary folder beside ``path``; on success rename it to ``path``.

    Without ``replace``, ``path`` must not exist yet (a folder of results is never merged into or
    overwritten). With ``replace``, an existing folder ``path`` is first renamed to a backup sibling,
    the new folder renamed in and the backup removed, so ``path`` is always either the complete old
    folder or the complete new one (for ``--overwrite``). On failure the temporary folder and
    everything in it is removed, and ``path`` is untouched."""
    path = Path(path)
    if path.exists() and not (replace and path.is_dir()):
        raise FileExistsError(f"{path}: already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            backup = temporary_sibling(path, "old")
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup)
        else:
            os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_replace_dir(path):
    """:func:`atomic_dir` with ``replace=True``: the new folder takes the place of an existing one."""
    return atomic_dir(path, replace=True)


__all__ = ["atomic_path", "atomic_open", "atomic_dir", "atomic_replace_dir", "write_text_atomic",
           "temporary_sibling"]
