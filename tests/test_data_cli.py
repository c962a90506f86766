"""The data commands: help, outputs, and one-line errors with exit status 2."""

import json

import pytest

from msdm_tutorial import cli
from msdm_tutorial.data import list_tracks


@pytest.mark.parametrize("command", ["make-toy-data", "prepare-slakh"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0 and command in capsys.readouterr().out


def test_make_toy_data_both_layouts(tmp_path):
    assert cli.main(["make-toy-data", str(tmp_path / "m"), "--songs", "2", "--validation-songs", "1",
                     "--test-songs", "0", "--seconds", "1.5", "--quiet", "--json", str(tmp_path / "m.json")]) == 0
    assert len(list_tracks(tmp_path / "m", "train")) == 2 and not (tmp_path / "m" / "test").exists()
    assert json.loads((tmp_path / "m.json").read_text())["sample_rate"] == 22050
    assert cli.main(["make-toy-data", str(tmp_path / "r"), "--layout", "slakh-raw", "--songs", "1",
                     "--validation-songs", "0", "--test-songs", "0", "--seconds", "1", "--quiet"]) == 0
    t = tmp_path / "r" / "train" / "Track00001"
    assert (t / "metadata.yaml").is_file() and (t / "mix.flac").is_file() and list((t / "stems").glob("S*.flac"))
    assert cli.main(["prepare-slakh", str(tmp_path / "r"), str(tmp_path / "p"), "--quiet"]) == 0
    assert list_tracks(tmp_path / "p", "train")


def test_make_toy_data_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    assert cli.main(["make-toy-data", str(tmp_path / "x"), "--songs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "x: folder is not empty" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["x"], "no temporary folder left behind"
    assert cli.main(["make-toy-data", str(tmp_path / "x"), "--songs", "1", "--validation-songs", "0",
                     "--test-songs", "0", "--seconds", "1", "--overwrite", "--quiet"]) == 0
    assert not (tmp_path / "x" / "keep.txt").exists()


@pytest.mark.parametrize("args,msg", [(["--seconds", "0"], "argument --seconds: 0: must be > 0"),
                                      (["--songs", "0", "--validation-songs", "0", "--test-songs", "0"], "not all 0")])
def test_make_toy_data_bad_arguments(tmp_path, capsys, args, msg):
    assert cli.main(["make-toy-data", str(tmp_path / "o"), "--quiet", *args]) == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
