"""Audio I/O: round trips, resampling, downmix, and clear errors for bad files."""

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from msdm_tutorial.data import read_audio, save_audio


def tone(n=22050, sr=22050, f=440.0):
    return (0.5 * torch.sin(2 * math.pi * f * torch.arange(n) / sr))[None]


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_round_trip_pcm16(tmp_path, suffix):
    x = tone()
    p = save_audio(tmp_path / f"a{suffix}", x, 22050)
    assert sf.info(str(p)).subtype == "PCM_16"
    y, sr = read_audio(p)[:2]
    assert sr == 22050 and y.shape == (1, 22050) and y.dtype == torch.float32
    assert (x - y).abs().max() < 1 / 32768 + 1e-6
    assert [q.name for q in tmp_path.iterdir()] == [p.name], "no temporary file left behind"


def test_clipping_audio_is_written_as_float_wav(tmp_path):
    p = save_audio(tmp_path / "loud.wav", 3 * tone(), 22050)
    assert sf.info(str(p)).subtype == "FLOAT"
    assert read_audio(p).audio.abs().max() > 1.4
    with pytest.raises(ValueError, match="loud.flac"):
        save_audio(tmp_path / "loud.flac", 3 * tone(), 22050)


def test_resample_on_load(tmp_path):
    p = save_audio(tmp_path / "a.wav", tone(44100, 44100), 44100)
    y, sr = read_audio(p, sample_rate=22050)[:2]
    assert sr == 22050 and y.shape == (1, 22050)
    ref = tone(22050, 22050)
    assert (y - ref)[:, 200:-200].abs().max() < 2e-3


def test_stereo_is_downmixed_with_a_note(tmp_path):
    stereo = torch.cat([tone(), 0.5 * tone()])
    p = save_audio(tmp_path / "st.wav", stereo, 22050)
    y, _, notes = read_audio(p)[:3]
    assert len(notes) == 1 and "downmixed" in notes[0] and "st.wav" in notes[0]
    assert y.shape == (1, 22050)
    assert torch.allclose(y, stereo.mean(0, keepdim=True), atol=1e-4)
    y2, _, notes2 = read_audio(p, mono=False)[:3]
    assert y2.shape == (2, 22050) and notes2 == []
    with open(p, "rb") as f:                                   # a file object reads the same
        assert torch.equal(read_audio(f).audio, y)


def test_nan_is_an_error_naming_the_file(tmp_path):
    p = tmp_path / "nan.wav"
    data = np.zeros(100, dtype=np.float32)
    data[10] = np.nan
    sf.write(str(p), data, 22050, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan\.wav.*NaN"):
        read_audio(p)
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "out.wav", torch.tensor([[0.0, float("nan")]]), 22050)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("name,content", [("bad.wav", b"RIFF\x00\x00garbage"), ("bad.flac", b"fLaC\x00\x01junk"),
                                          ("text.wav", b"just text, not audio")])
def test_corrupt_or_not_audio_is_an_error_naming_the_file(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ValueError, match=name.replace(".", r"\.") + ".*not a readable audio file"):
        read_audio(p)


def test_truncated_flac_is_an_error(tmp_path):
    p = save_audio(tmp_path / "t.flac", tone(44100), 22050)
    p.write_bytes(p.read_bytes()[: 200])
    with pytest.raises(ValueError, match=r"t\.flac"):
        read_audio(p)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_audio(tmp_path / "nope.wav")
