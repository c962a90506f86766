"""Shared by the benchmark scripts: replace one ``## Section`` of docs/benchmarks.md, atomically; their
result tables are :func:`msdm_tutorial.plotting.markdown_table` (re-exported here)."""

from __future__ import annotations

import re
from pathlib import Path

from msdm_tutorial.files import write_text_atomic
from msdm_tutorial.plotting import markdown_table, score_cells  # noqa: F401  (re-exported for the scripts)

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(section: str, text: str, doc: Path = DOC) -> Path:
    """Put ``text`` (which starts with the ``section`` heading) in place of that section of ``doc``,
    or append it; the other sections stay byte for byte. Written to a temp file, then renamed."""
    old = doc.read_text() if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    return write_text_atomic(doc, new)


def print_section(section: str, text: str, write: bool) -> None:
    """Print a benchmark's section; with ``write`` (the scripts' ``--write``), also put it in docs/benchmarks.md."""
    print()
    print(text)
    if write:
        print(f"updated {write_section(section, text)}")
