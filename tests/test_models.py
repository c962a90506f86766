"""msdm_tutorial.models: checkpoints as models, and audio read as a model hears it."""

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from msdm_tutorial import models
from msdm_tutorial.data.audio import read_audio


def _wav_bytes(data, sr):
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def test_read_model_input_from_bytes_paths_and_file_objects(tmp_path):
    t = np.arange(8000) / 16000
    y = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    stereo = _wav_bytes(np.stack([y, y], 1), 16000)
    audio, notes = models.read_model_input(stereo, 22050, name="up.wav")
    assert audio.shape == (11025,) and audio.dtype == torch.float32
    assert notes == ["up.wav: 2 channels, downmixed to mono",
                     "up.wav: resampled from 16000 Hz to the model's 22050 Hz"]
    path = tmp_path / "m.wav"
    path.write_bytes(_wav_bytes(y, 22050))
    from_path, path_notes = models.read_model_input(path, 22050)
    with open(path, "rb") as f:
        from_file, _ = models.read_model_input(f, 22050)
    assert path_notes == [] and torch.equal(from_path, from_file)
    assert read_audio(path).notes == []


@pytest.mark.parametrize("content,message", [(b"", "the file is empty"), (b"not audio", "not a readable audio file")])
def test_read_model_input_errors_name_the_file(content, message):
    with pytest.raises(ValueError, match=f"x.wav: {message}"):
        models.read_model_input(content, 22050, name="x.wav")


def test_parse_stems_and_pick_device():
    assert models.parse_stems(" bass, drums ,") == ("bass", "drums") and models.parse_stems(None) is None
    with pytest.raises(ValueError, match="--keep: name at least one stem"):
        models.parse_stems(",", "--keep")
    with pytest.raises(ValueError, match="named twice"):
        models.parse_stems("bass,bass")
    assert models.pick_device("cpu") == torch.device("cpu") and models.pick_device().type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="not a device name"):
        models.pick_device("gpu0")


def test_load_model_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="nope.pt: no such checkpoint file"):
        models.load_model(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="is a folder"):
        models.load_model(tmp_path)
