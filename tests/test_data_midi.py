"""msdm render-midi and the soundfont toy renderer (msdm_tutorial/data/midi.py, issue 16).

A hand-made MIDI file (bass, piano, drums and a string part that is none of the four classes) is
rendered with the bundled GM SoundFont; the pitches are read back from the audio by
autocorrelation, which is accurate to about 1 % on these samples (a semitone is 5.9 %), so a
note played one semitone off fails the 3 % check.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

pretty_midi = pytest.importorskip("pretty_midi")
pytest.importorskip("midirenderer")

from msdm_tutorial import STEMS, cli  # noqa: E402
from msdm_tutorial.data import load_track  # noqa: E402
from msdm_tutorial.data import midi as M  # noqa: E402

SR = 22050
NOTES = {"bass": (33, False, [40, 45, 36, 43]),        # E2 A2 C2 G2, Electric Bass (finger)
         "piano": (0, False, [60, 67, 57, 72]),        # C4 G4 A3 C5, Acoustic Grand Piano
         "drums": (0, True, [36, 38, 36, 42])}          # kick, snare, kick, hat
STRINGS_AT = 4.0                                          # a String Ensemble note, alone, at 4-5 s


def hz(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def f0(x: np.ndarray, sr: int) -> float:
    return M.estimate_f0(x, sr)


@pytest.fixture(scope="module")
def hand_midi(tmp_path_factory):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    for name, (program, drum, pitches) in NOTES.items():
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=name)
        for i, p in enumerate(pitches):
            inst.notes.append(pretty_midi.Note(velocity=100, pitch=p, start=float(i), end=i + 0.9))
        pm.instruments.append(inst)
    strings = pretty_midi.Instrument(program=48, name="strings")
    strings.notes.append(pretty_midi.Note(velocity=110, pitch=64, start=STRINGS_AT, end=STRINGS_AT + 1.0))
    pm.instruments.append(strings)
    path = tmp_path_factory.mktemp("midi") / "hand.mid"
    pm.write(str(path))
    return path


def test_classes_follow_slakh():
    assert [M.stem_of(p, False) for p in (0, 7, 8, 23, 24, 31, 32, 39, 40, 127)] == \
        ["piano", "piano", None, None, "guitar", "guitar", "bass", "bass", None, None]
    assert M.stem_of(33, True) == "drums" and M.inst_class(33, True) == "Drums"
    assert [M.inst_class(p, False) for p in (0, 25, 33, 48)] == ["Piano", "Guitar", "Bass", "Ensemble"]
    assert M.default_soundfont().name == "TimGM6mb.sf2" and M.default_soundfont().is_file()


def test_hand_made_midi_renders_the_right_pitches(hand_midi, tmp_path, capsys):
    assert cli.main(["render-midi", str(hand_midi), str(tmp_path / "out"), "--quiet"]) == 0
    track = tmp_path / "out" / "train" / "Track00001"
    files = sorted(p.name for p in track.iterdir())
    assert files == ["bass.wav", "drums.wav", "meta.json", "piano.wav"], "no guitar in the song: no guitar file"
    assert all(sf.info(track / f).samplerate == SR for f in files if f.endswith(".wav"))
    x = load_track(track).numpy()
    assert np.abs(x[STEMS.index("guitar")]).max() == 0
    for stem in ("bass", "piano"):
        for i, p in enumerate(NOTES[stem][2]):
            seg = x[STEMS.index(stem), int((i + 0.15) * SR): int((i + 0.75) * SR)]
            est = f0(seg, SR)
            assert abs(est / hz(p) - 1) < 0.03, f"{stem} note {p}: {est:.1f} Hz, expected {hz(p):.1f} Hz"
            assert abs(est / hz(p + 1) - 1) > 0.03, "the check must tell neighbouring semitones apart"
    drums = x[STEMS.index("drums")]
    for i in range(4):                                    # a hit at every onset, quiet before the first
        assert np.abs(drums[int(i * SR): int((i + 0.1) * SR)]).max() > 0.05, f"no drum hit at {i} s"
    meta = json.loads((track / "meta.json").read_text())
    assert meta["present"] == {"bass": True, "drums": True, "guitar": False, "piano": True}
    assert [i["stem"] for i in meta["instruments"]] == ["bass", "piano", "drums", None]


def test_other_classes_go_to_the_mix_only(hand_midi):
    song = M.render_midi(hand_midi, sample_rate=SR)
    mix = song["mix"]()
    rest = mix - song["stems"].sum(0).numpy()
    during = rest[int((STRINGS_AT + 0.1) * SR): int((STRINGS_AT + 0.9) * SR)]
    before = rest[int(0.1 * SR): int(3.0 * SR)]
    assert np.sqrt(np.mean(during ** 2)) > 100 * max(np.sqrt(np.mean(before ** 2)), 1e-7), \
        "the string part must be in the mix and in no stem"
    assert np.abs(mix).max() <= 10 ** (M.TARGET_PEAK_DB / 20) * 1.02


def test_slakh_raw_then_prepare_gives_the_msdm_stems(hand_midi, tmp_path):
    assert cli.main(["render-midi", str(hand_midi), str(tmp_path / "msdm"), "--quiet"]) == 0
    assert cli.main(["render-midi", str(hand_midi), str(tmp_path / "raw"), "--layout", "slakh-raw", "--quiet"]) == 0
    raw = tmp_path / "raw" / "train" / "Track00001"
    names = sorted(str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file())
    assert names == ["MIDI/S00.mid", "MIDI/S01.mid", "MIDI/S02.mid", "MIDI/S03.mid", "all_src.mid", "meta.json",
                     "metadata.yaml", "mix.flac", "stems/S00.flac", "stems/S01.flac", "stems/S02.flac",
                     "stems/S03.flac"], names
    meta = yaml.safe_load((raw / "metadata.yaml").read_text())
    assert [meta["stems"][f"S{i:02d}"]["inst_class"] for i in range(4)] == ["Bass", "Piano", "Drums", "Ensemble"]
    assert sf.info(raw / "mix.flac").samplerate == 44100
    assert pretty_midi.PrettyMIDI(str(raw / "MIDI" / "S00.mid")).instruments[0].program == 33
    assert cli.main(["prepare-slakh", str(tmp_path / "raw"), str(tmp_path / "prep"), "--quiet", "--workers", "1"]) == 0
    a = load_track(tmp_path / "msdm" / "train" / "Track00001")
    b = load_track(tmp_path / "prep" / "train" / "Track00001")
    assert a.shape == b.shape
    for k, stem in enumerate(STEMS):
        if a[k].abs().max() == 0:
            assert b[k].abs().max() == 0, stem
            continue
        snr = 10 * torch.log10(a[k].pow(2).sum() / (a[k] - b[k]).pow(2).sum())
        # measured about 65 dB (48 kHz -> 44.1 kHz -> 22.05 kHz plus 16-bit FLAC, against one resampling)
        assert snr > 50, f"{stem}: the two routes differ ({snr:.1f} dB)"
        assert (a[k] - b[k]).abs().max() < 2e-3, stem
    # a shuffled pairing (bass against piano) is nowhere near
    assert 10 * torch.log10(a[0].pow(2).sum() / (a[0] - b[3]).pow(2).sum()) < 10


def _one_line(capsys, start: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(start), err[0]
    return err[0]


def test_unparsable_midi_one_line_exit_2_nothing_written(tmp_path, capsys):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd this is not really a MIDI file")
    out = tmp_path / "out"
    assert cli.main(["render-midi", str(bad), str(out), "--quiet"]) == 2
    line = _one_line(capsys, "msdm render-midi: error:")
    assert "broken.mid" in line and "not a readable MIDI file" in line
    assert not out.exists(), "nothing half-written"


def test_midi_without_the_four_classes_is_skipped(hand_midi, tmp_path, capsys):
    pm = pretty_midi.PrettyMIDI()
    organ = pretty_midi.Instrument(program=19, name="organ")
    organ.notes.append(pretty_midi.Note(100, 60, 0.0, 1.0))
    pm.instruments.append(organ)
    pm.write(str(tmp_path / "organ.mid"))
    out = tmp_path / "out"
    assert cli.main(["render-midi", str(tmp_path / "organ.mid"), str(out), "--quiet"]) == 2
    line = _one_line(capsys, "msdm render-midi: skipped:")
    assert "organ.mid" in line and "Bass, Drums, Guitar or Piano" in line
    assert not out.exists()
    # beside a good file: the good one is rendered, the organ skipped, exit 0
    assert cli.main(["render-midi", str(tmp_path / "organ.mid"), str(hand_midi), str(out), "--quiet"]) == 0
    _one_line(capsys, "msdm render-midi: skipped:")
    assert sorted(p.name for p in (out / "train").iterdir()) == ["Track00002"]


@pytest.mark.parametrize("case", ["missing", "not-sf2"])
def test_bad_soundfont_one_line_exit_2(hand_midi, tmp_path, capsys, case):
    sf2 = tmp_path / "font.sf2"
    if case == "not-sf2":
        sf2.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    out = tmp_path / "out"
    assert cli.main(["render-midi", str(hand_midi), str(out), "--soundfont", str(sf2), "--quiet"]) == 2
    line = _one_line(capsys, "msdm render-midi: error:")
    assert "font.sf2" in line and ("no such SoundFont" in line if case == "missing" else "not a SoundFont" in line)
    assert not out.exists()


def test_missing_input_path(tmp_path, capsys):
    assert cli.main(["render-midi", str(tmp_path / "nope.mid"), str(tmp_path / "out")]) == 2
    assert "nope.mid: no such file or folder" in _one_line(capsys, "msdm render-midi: error:")
    (tmp_path / "empty").mkdir()
    assert cli.main(["render-midi", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "no MIDI files" in _one_line(capsys, "msdm render-midi: error:")
    assert not (tmp_path / "out").exists()


def test_resumable_and_stale_temp_folders_go(hand_midi, tmp_path, capsys):
    out = tmp_path / "out"
    folder = hand_midi.parent
    assert cli.main(["render-midi", str(folder), str(out), "--quiet", "--split", "test", "--format", "flac"]) == 0
    track = out / "test" / "Track00001"
    stamp = {p.name: p.stat().st_mtime_ns for p in track.iterdir()}
    assert "bass.flac" in stamp
    stale = out / "test" / ".Track00002.tmp-999"
    stale.mkdir()
    (stale / "bass.flac").write_bytes(b"half")
    summary_file = tmp_path / "s.json"
    assert cli.main(["render-midi", str(folder), str(out), "--quiet", "--split", "test", "--format", "flac",
                     "--json", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["already_done"] == 1 and summary["written"] == 0 and summary["stale_temp_folders_removed"] == 1
    assert {p.name: p.stat().st_mtime_ns for p in track.iterdir()} == stamp, "a finished track is not redone"
    assert not stale.exists()
    # the same OUT for another MIDI file: refused for that file, the track is kept
    other = tmp_path / "other.mid"
    pretty_midi.PrettyMIDI(str(hand_midi)).write(str(other))
    assert cli.main(["render-midi", str(other), str(out), "--quiet", "--split", "test"]) == 2
    assert "already holds a render of" in _one_line(capsys, "msdm render-midi: error:")
    assert {p.name: p.stat().st_mtime_ns for p in track.iterdir()} == stamp


def test_random_programs_stay_within_the_class(hand_midi):
    pm = pretty_midi.PrettyMIDI(str(hand_midi))
    draws = [M.assign_programs(pm, "random", seed) for seed in range(20)]
    assert all(d[0] in range(32, 40) and d[1] in range(0, 8) and d[2] == 0 and d[3] == 48 for d in draws)
    assert len({tuple(d) for d in draws}) > 5, "the seed must change the programs"
    assert M.assign_programs(pm, "keep") == [33, 0, 0, 48]


def test_make_toy_data_soundfont(tmp_path):
    from msdm_tutorial.data import synthesize_song

    args = ["--songs", "2", "--validation-songs", "0", "--test-songs", "0", "--seconds", "2", "--seed", "5", "--quiet"]
    assert cli.main(["make-toy-data", str(tmp_path / "a"), "--renderer", "soundfont", *args]) == 0
    assert cli.main(["make-toy-data", str(tmp_path / "b"), "--renderer", "soundfont", *args]) == 0
    tracks = sorted((tmp_path / "a" / "train").iterdir())
    assert len(tracks) == 2
    for track in tracks:
        meta = json.loads((track / "meta.json").read_text())
        _, numpy_meta = synthesize_song(meta["seed"], 2.0, SR)
        assert meta["renderer"] == "soundfont"
        for key in ("tempo_bpm", "key", "chords", "bar_starts"):        # the same composer, the same labels
            assert meta[key] == numpy_meta[key], key
        for s in STEMS:
            assert meta["stems"][s]["notes"] == numpy_meta["stems"][s]["notes"], s
            prog = meta["stems"][s]["timbre"]["program"]
            assert prog in ({"drums": range(0, 1)}.get(s) or M.CLASS_PROGRAMS[s]), (s, prog)
        x = load_track(track)
        for k, s in enumerate(STEMS):
            if meta["stems"][s]["present"]:
                assert 0.2 < x[k].abs().max() <= 1.0, s
        assert x.sum(0).abs().max() <= 1.0
        again = tmp_path / "b" / "train" / track.name
        assert all((track / f.name).read_bytes() == f.read_bytes() for f in again.iterdir()), "same seed, same bytes"
    with pytest.raises(ValueError, match="msdm layout only"):
        from msdm_tutorial.data.toyset import write_toy_dataset

        write_toy_dataset(tmp_path / "c", songs=1, validation_songs=0, test_songs=0, layout="slakh-raw",
                          renderer="soundfont")


def test_soundfont_songs_differ_from_numpy_songs():
    """The soundfont renderer really plays other sounds (same notes, other timbre)."""
    from msdm_tutorial.data import synthesize_song

    a, _ = synthesize_song(11, 2.0, SR)
    b, meta = M.synthesize_song_soundfont(11, 2.0, SR)
    assert a.shape == b.shape
    k = STEMS.index("bass")
    assert meta["stems"]["bass"]["present"]
    cos = float((a[k] * b[k]).sum() / (a[k].norm() * b[k].norm()))
    assert abs(cos) < 0.9, cos


def test_render_speed_is_faster_than_real_time(hand_midi):
    import time

    font = M.read_soundfont()
    M.render_midi(hand_midi, font)
    t = time.perf_counter()
    song = M.render_midi(hand_midi, font)
    wall = time.perf_counter() - t
    assert song["seconds"] / wall > 2, f"{song['seconds'] / wall:.1f}x real time"


@pytest.mark.skipif(os.environ.get("MSDM_SKIP_SLOW") == "1", reason="slow")
def test_jobs_give_the_same_tracks(hand_midi, tmp_path):
    copy = tmp_path / "in" / "b.mid"
    copy.parent.mkdir()
    copy.write_bytes(hand_midi.read_bytes())
    (tmp_path / "in" / "a.mid").write_bytes(hand_midi.read_bytes())
    assert cli.main(["render-midi", str(tmp_path / "in"), str(tmp_path / "one"), "--quiet"]) == 0
    assert cli.main(["render-midi", str(tmp_path / "in"), str(tmp_path / "two"), "--quiet", "--jobs", "2"]) == 0
    for t in ("Track00001", "Track00002"):
        for f in (tmp_path / "one" / "train" / t).iterdir():
            assert f.read_bytes() == (tmp_path / "two" / "train" / t / f.name).read_bytes(), f


def test_shipped_real_compositions_regenerate(tmp_path):
    """data_small/real: four tracks in the MSDM test split, all four stems at 22050 Hz, and the
    committed MIDI files render back to the committed FLAC files (within one 16-bit step)."""
    from pathlib import Path

    from msdm_tutorial.data import list_tracks

    real = Path(__file__).resolve().parents[1] / "data_small" / "real"
    tracks = list_tracks(real, "test")
    assert [t.name for t in tracks] == [f"Track{i:05d}" for i in range(1, 5)]
    midi_files = sorted((real / "midi").glob("*.mid"))
    assert len(midi_files) == 4
    for t, m in zip(tracks, midi_files):
        meta = json.loads((t / "meta.json").read_text())
        assert meta["source"] == f"data_small/real/midi/{m.name}" and all(meta["present"].values())
        assert sorted(p.name for p in t.glob("*.flac")) == [f"{s}.flac" for s in STEMS]
        assert all(sf.info(p).samplerate == SR and 10.5 < sf.info(p).duration < 11.5 for p in t.glob("*.flac"))
        drums = [i for i in meta["instruments"] if i["stem"] == "drums"]
        assert len(drums) == 1 and "toy composer" in drums[0]["name"], "the drum part is ours, and says so"
    assert cli.main(["render-midi", str(midi_files[0]), str(tmp_path), "--split", "test", "--format", "flac",
                     "--quiet"]) == 0
    for s in STEMS:
        a = sf.read(tracks[0] / f"{s}.flac", dtype="int16")[0].astype(int)
        b = sf.read(tmp_path / "test" / "Track00001" / f"{s}.flac", dtype="int16")[0].astype(int)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1, s
        assert np.mean(a != b) <= 0.01, s
