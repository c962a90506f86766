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
