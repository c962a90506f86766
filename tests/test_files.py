"""msdm_tutorial.files: results appear whole or not at all."""

import pytest

from msdm_tutorial.files import atomic_dir, atomic_open, atomic_path, atomic_replace_dir, write_text_atomic


def test_atomic_open_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"


def test_atomic_path_keeps_the_suffix_and_cleans_up(tmp_path):
    target = tmp_path / "sub" / "x.wav"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".wav" and tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"other")
            raise ValueError("bad")
    assert target.read_bytes() == b"data" and len(list(target.parent.iterdir())) == 1


def test_atomic_open_refuses_read_modes(tmp_path):
    with pytest.raises(ValueError, match="not a write mode"):
        with atomic_open(tmp_path / "a", "r"):
            pass


def test_atomic_dir_never_overwrites_and_removes_failures(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OSError):
        with atomic_dir(out) as tmp:
            (tmp / "f").write_text("1")
            raise OSError("disk full")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(out) as tmp:
        (tmp / "f").write_text("1")
    assert (out / "f").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_dir(out):
            pass


def test_atomic_replace_dir_swaps_whole_folders(tmp_path):
    target = tmp_path / "data"
    with atomic_replace_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError):
        with atomic_replace_dir(target) as tmp:
            (tmp / "b.txt").write_text("half")
            raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_replace_dir(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "no temporary or backup folder is left"
