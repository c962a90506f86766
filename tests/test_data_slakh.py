"""msdm prepare-slakh: official raw layout -> MSDM layout, resumable, with clear errors."""

import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from msdm_tutorial import cli
from msdm_tutorial.course import data_small
from msdm_tutorial.data import load_track, read_audio
from msdm_tutorial.data import slakh as slakh_mod
from msdm_tutorial.data.audio import resample
from msdm_tutorial.data.slakh import prepare_slakh

RAW = data_small() / "slakh_raw"
CLASSES = {"Bass": "bass", "Drums": "drums", "Guitar": "guitar", "Piano": "piano"}


@pytest.fixture
def raw(tmp_path):
    dst = tmp_path / "raw"
    shutil.copytree(RAW, dst)
    return dst


def tracks_of(root):
    return sorted(p for p in root.glob("*/Track*") if p.is_dir())


def snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def test_raw_data_small_has_the_official_layout():
    tracks = tracks_of(RAW)
    assert len(tracks) == 2
    multi = False
    for t in tracks:
        meta = yaml.safe_load((t / "metadata.yaml").read_text())
        assert (t / "mix.flac").is_file()
        classes = []
        for sid, info in meta["stems"].items():
            assert {"inst_class", "program_num", "is_drum", "audio_rendered"} <= info.keys()
            assert (t / "stems" / f"{sid}.flac").is_file() == info["audio_rendered"]
            if info["audio_rendered"]:
                assert sf.info(str(t / "stems" / f"{sid}.flac")).samplerate == 44100
                classes.append(info["inst_class"])
        multi |= any(classes.count(c) > 1 for c in CLASSES)
        assert any(c not in CLASSES for c in classes), "an extra class (not one of the four) is present"
    assert multi, "some class has several stems"


def test_prepare_gives_class_sums(raw, tmp_path):
    out = tmp_path / "msdm"
    summary = prepare_slakh(raw, out, progress=False)
    assert summary["written"] == 2 and not summary["failed"] and not summary["skipped"]
    for t in tracks_of(raw):
        meta = yaml.safe_load((t / "metadata.yaml").read_text())
        prepared = out / t.parent.name / t.name
        for cls, stem in CLASSES.items():
            files = [t / "stems" / f"{sid}.flac" for sid, i in meta["stems"].items()
                     if i["inst_class"] == cls and i["audio_rendered"]]
            if not files:
                assert not (prepared / f"{stem}.wav").exists()
                continue
            by_hand = sum(torch.from_numpy(sf.read(str(f), dtype="float32")[0]) for f in files)
            ref = resample(by_hand[None], 44100, 22050)[0]
            got, sr = read_audio(prepared / f"{stem}.wav")[:2]
            assert sr == 22050 and got.shape[-1] == ref.shape[-1]
            assert (got[0] - ref).abs().max() < 1e-4, f"{t.name}/{stem}: differs from the hand-made sum"
            # independent of torchaudio: an ideal (FFT) decimation agrees below 9 kHz
            n_out = ref.shape[-1]
            ideal = np.fft.rfft(by_hand.numpy())[: n_out // 2 + 1] * 0.5
            mine = np.fft.rfft(got[0].numpy())
            band = slice(1, int(9000 / 11025 * (n_out // 2)))
            err = np.linalg.norm(mine[band] - ideal[band]) / np.linalg.norm(ideal[band])
            assert err < 0.01, f"{t.name}/{stem}: relative in-band error {err:.4f}"
        assert load_track(prepared).shape[0] == 4


def test_prepare_is_resumable_after_an_interruption(raw, tmp_path, monkeypatch):
    out = tmp_path / "msdm"
    real = slakh_mod.save_audio
    count = {"n": 0}

    def dies_on_the_6th_file(path, *a, **k):
        count["n"] += 1
        if count["n"] == 6:
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(slakh_mod, "save_audio", dies_on_the_6th_file)
    with pytest.raises(KeyboardInterrupt):
        prepare_slakh(raw, out, progress=False)
    monkeypatch.setattr(slakh_mod, "save_audio", real)
    finished = [p for p in out.rglob("Track*") if p.is_dir()]
    assert len(finished) == 1, "the interrupted track must not appear under its final name"
    # a kill -9 leaves its temporary folder behind: the next run removes it
    stale = finished[0].parent.parent / "test" / ".Track99999.tmp-12345"
    stale.mkdir(parents=True)
    (stale / "bass.wav").write_bytes(b"half")
    before = snapshot(finished[0])
    summary = prepare_slakh(raw, out, progress=False)
    assert summary["written"] == 1 and summary["already_done"] == 1 and summary["stale_temp_folders_removed"] == 1
    assert snapshot(finished[0]) == before, "a finished track is not redone"
    assert not list(out.rglob(".*tmp*"))
    clean = tmp_path / "clean"
    prepare_slakh(raw, clean, progress=False)
    assert {k: v[1] for k, v in snapshot(out).items()} == {k: v[1] for k, v in snapshot(clean).items()}


def test_track_without_the_four_classes_is_skipped_and_counted(raw, tmp_path):
    t = tracks_of(raw)[0]
    meta = yaml.safe_load((t / "metadata.yaml").read_text())
    for info in meta["stems"].values():
        info["inst_class"] = "Synth Pad"
    (t / "metadata.yaml").write_text(yaml.safe_dump(meta))
    summary = prepare_slakh(raw, tmp_path / "msdm", progress=False)
    assert summary["written"] == 1 and summary["skipped"] == [[t.name, "none of the classes Bass, Drums, Guitar, Piano"]]
    assert not (tmp_path / "msdm" / t.parent.name / t.name).exists()


@pytest.mark.parametrize("damage,message", [
    (lambda t: (t / "metadata.yaml").unlink(), r"metadata\.yaml: missing"),
    (lambda t: (t / "stems" / "S00.flac").write_bytes(b"fLaC garbage"), r"S00\.flac: not a readable audio file"),
    (lambda t: (t / "stems" / "S00.flac").unlink(), r"S00\.flac: missing"),
])
def test_bad_track_fails_with_the_file_named_and_nothing_half_written(raw, tmp_path, capsys, damage, message):
    bad = tracks_of(raw)[0]
    damage(bad)
    out = tmp_path / "msdm"
    assert cli.main(["prepare-slakh", str(raw), str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "msdm prepare-slakh: error:" in err

    assert re.search(message, err), err
    assert not (out / bad.parent.name / bad.name).exists()
    assert not list(out.rglob(".*tmp*"))
    good = [t for t in tracks_of(raw) if t != bad][0]
    assert (out / good.parent.name / good.name).is_dir(), "the other tracks are still converted"


def test_nan_stem_fails(raw, tmp_path, capsys):
    t = tracks_of(raw)[0]
    data, sr = sf.read(str(t / "stems" / "S00.flac"), dtype="float32")
    data[5] = np.nan
    (t / "stems" / "S00.flac").unlink()
    sf.write(str(t / "stems" / "S00.wav"), data, sr, subtype="FLOAT")
    os.rename(t / "stems" / "S00.wav", t / "stems" / "S00.flac")  # a float WAV named .flac still reads
    assert cli.main(["prepare-slakh", str(raw), str(tmp_path / "o"), "--quiet", "--workers", "1"]) == 2
    assert "S00.flac: contains 1 NaN" in capsys.readouterr().err


def test_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["prepare-slakh", str(tmp_path / "empty"), str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "empty: no Slakh tracks found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_parallel_workers_give_the_same_result(raw, tmp_path):
    a = prepare_slakh(raw, tmp_path / "a", workers=1, progress=False)
    b = prepare_slakh(raw, tmp_path / "b", workers=2, progress=False)
    assert a["written"] == b["written"] == 2
    assert {k: v[1] for k, v in snapshot(tmp_path / "a").items()} == {k: v[1] for k, v in snapshot(tmp_path / "b").items()}
