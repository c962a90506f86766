"""The README's layout section lists the library as it is: every module, and nothing that is gone."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "msdm_tutorial"


def layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def listed_modules() -> set[str]:
    """``name.py`` entries of the block, with their folder (``data/x.py``) from the indentation."""
    listed, folder = set(), ""
    for line in layout_block().splitlines():
        folder_match = re.match(r"^  (\w+)/(\s|$)", line)
        if folder_match:
            folder = folder_match.group(1) + "/"
            continue
        module = re.match(r"^( +)(\w+\.py)\s", line)
        if module:
            listed.add((folder if len(module.group(1)) > 2 else "") + module.group(2))
    return listed


def library_modules() -> set[str]:
    found = {p.relative_to(LIBRARY).as_posix() for p in LIBRARY.rglob("*.py")}
    return {m for m in found if not m.endswith("__init__.py") and not m.endswith("__main__.py")
            and not m.startswith("cli/")}


def test_every_module_is_listed_and_every_listed_module_exists():
    listed, actual = listed_modules(), library_modules()
    assert actual - listed == set(), f"modules missing from the README layout: {sorted(actual - listed)}"
    assert listed - actual == set(), f"README layout lists modules that do not exist: {sorted(listed - actual)}"


def test_the_cli_package_is_listed_with_its_command_families():
    block = layout_block()
    assert re.search(r"^  cli/\s", block, re.M), "the layout must show the cli/ package"
    families = sorted(p.stem for p in (LIBRARY / "cli").glob("*.py") if not p.stem.startswith("__"))
    cli_text = block.split("  cli/", 1)[1].split("\n  _", 1)[0].split("\n  data/", 1)[0]
    missing = [f for f in families if f not in cli_text]
    assert not missing, f"cli/ modules not named in the README layout: {missing}"
