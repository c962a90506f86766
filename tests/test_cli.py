import json
import subprocess
import sys

from msdm_tutorial import cli


def test_help_lists_commands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "msdm" in out and "info" in out


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "msdm_tutorial.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: msdm" in r.stdout


def test_info_writes_json(tmp_path):
    out = tmp_path / "info.json"
    assert cli.main(["info", "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["stems"] == ["bass", "drums", "guitar", "piano"] and info["sample_rate"] == 22050


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    missing_dir = tmp_path / "no" / "such" / "dir" / "info.json"
    assert cli.main(["info", "--json", str(missing_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("msdm info: error:") and "info.json" in err[0]
    assert not missing_dir.exists()


# ------------------------------------------------------------------------------------------------
# Every numeric option of every command checks its range (one line, exit 2, nothing written)

import argparse  # noqa: E402
import math  # noqa: E402

import pytest  # noqa: E402


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _numeric_options() -> list[tuple[str, str, cli.Number]]:
    found = []
    for command, sub in _subparsers().items():
        for action in sub._actions:
            if isinstance(action.type, cli.Number):
                found.append((command, action.option_strings[0], action.type))
    return found


def _required(command: str, tmp) -> list[str]:
    """Enough arguments for the command to reach its options (none of them is ever read)."""
    return {"make-toy-data": [f"{tmp}/o"], "prepare-slakh": [f"{tmp}/raw", f"{tmp}/o"],
            "convert-checkpoint": [f"{tmp}/c.ckpt", f"{tmp}/o.pt"],
            "train": ["--preset", "tiny", "--data", f"{tmp}/d", "--out", f"{tmp}/o"],
            "generate": ["--checkpoint", f"{tmp}/c.pt", "--out", f"{tmp}/o"],
            "impute": ["--checkpoint", f"{tmp}/c.pt", "--track", f"{tmp}/t", "--keep", "bass", "--out", f"{tmp}/o"],
            "separate": ["--checkpoint", f"{tmp}/c.pt", f"{tmp}/m.wav", "--out", f"{tmp}/o"],
            "evaluate": ["--checkpoint", f"{tmp}/c.pt", "--data", f"{tmp}/d"]}.get(command, [])


def _bad_values(rule: cli.Number) -> list[str]:
    bad = ["abc", "nan", "inf"] if rule.kind is float else ["abc", "1.5"]
    if rule.low is not None:
        bad.append(str(rule.low) if rule.low_open else str(rule.low - 1 if rule.kind is int else rule.low - 0.5))
    if rule.high is not None:
        bad.append(str(rule.high) if rule.high_open else str(rule.high + 1 if rule.kind is int else rule.high + 0.5))
    return bad


def test_every_numeric_option_has_a_range():
    """No plain type=int/float is left: each number is parsed by cli.Number with its rule."""
    plain = [(command, a.option_strings or [a.dest]) for command, sub in _subparsers().items()
             for a in sub._actions if a.type in (int, float)]
    assert not plain, f"numeric options without a range check: {plain}"
    options = {(c, o) for c, o, _ in _numeric_options()}
    for must in [("train", "--steps"), ("train", "--batch-size"), ("train", "--lr"), ("generate", "--seconds"),
                 ("separate", "--churn"), ("evaluate", "--limit"), ("prepare-slakh", "--workers"),
                 ("make-toy-data", "--songs"), ("impute", "--chunk-seconds"), ("convert-checkpoint", "--check-length")]:
        assert must in options, must


@pytest.mark.parametrize("command,option,rule", _numeric_options(), ids=lambda v: v if isinstance(v, str) else "")
def test_out_of_range_numbers_get_one_line_and_exit_2(command, option, rule, tmp_path, capsys):
    for value in _bad_values(rule):
        assert cli.main([command, *_required(command, tmp_path), f"{option}={value}"]) == 2, (option, value)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith(f"msdm {command}: error: argument {option}") and value in err[0], err[0]
    assert not any(tmp_path.iterdir()), "a bad option must not write anything"


def test_number_rule_accepts_its_range():
    assert cli.integer(1)("3") == 3 and cli.real(0, low_open=True)("0.25") == 0.25
    assert cli.real(0, 1)("1") == 1.0 and math.isclose(cli.real()("-3"), -3.0)
    with pytest.raises(argparse.ArgumentTypeError, match="must be > 0"):
        cli.real(0, low_open=True)("0")
