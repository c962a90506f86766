"""What every ``msdm`` command shares: its one error type, its ``--json`` writer, its notes on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..files import atomic_open


class CommandError(Exception):
    """A user-facing error: the message names the input and the problem."""


def write_json(path: str | None, payload: dict) -> None:
    """``--json FILE``: write machine-readable results atomically (temp file + rename)."""
    if not path:
        return
    folder = Path(path).absolute().parent
    if not folder.is_dir():   # a results file never creates folders
        raise ValueError(f"{path}: the folder {folder} does not exist")
    with atomic_open(path, "w") as f:
        json.dump(payload, f, indent=2)


def note(command: str, message: str) -> None:
    """A one-line remark on stderr (e.g. a stereo input downmixed to mono)."""
    print(f"msdm {command}: note: {message}", file=sys.stderr)
