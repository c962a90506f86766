"""Audio files in and out: WAV/FLAC through soundfile, resampling through torchaudio.

Every reader checks what it reads (a readable audio file, finite samples, the expected rate) and
raises a ``ValueError`` whose message starts with the file's path. :func:`read_audio` is the one
reader of whole files (a path, a file object or bytes): it returns notes on what it changed (a stereo
file downmixed) for the caller to show; nothing here prints or warns.
Every writer is atomic (:mod:`msdm_tutorial.files`), so an interrupted run never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from ..files import atomic_path

AUDIO_SUFFIXES = (".wav", ".flac")


def audio_info(path) -> sf._SoundFileInfo:
    """``soundfile.info`` with a ValueError naming the file when it is not audio."""
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"{path}: not a readable audio file ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    """libsndfile's message without its "Error opening <file>: " prefix."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if text.startswith("Error opening ") and ": " in text:
        return text.split(": ", 1)[1].strip() or text
    return text


def _check_finite(data: np.ndarray, path) -> None:
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise ValueError(f"{path}: contains {bad} NaN/Inf sample(s)")


def downmix_note(name, channels: int) -> str:
    """The note on a file of ``channels`` channels averaged to mono (the one wording, for every reader)."""
    return f"{name}: {channels} channels, downmixed to mono"


def _downmix(data: np.ndarray, name, mono: bool) -> tuple[np.ndarray, list[str]]:
    """(frames, channels) -> (channels', frames), averaging channels when ``mono``; the note says so."""
    if mono and data.shape[1] > 1:
        return data.mean(axis=1, dtype=np.float32)[None, :], [downmix_note(name, data.shape[1])]
    return np.ascontiguousarray(data.T), []


def read_frames(path, start: int, frames: int, mono: bool = True) -> np.ndarray:
    """Read ``frames`` frames from ``start`` (seeking, not reading the whole file).

    Returns a float32 array ``(channels, frames)``; frames past the end are zero-padded. ``mono``
    averages the channels silently: the datasets read thousands of chunks, so the note on a
    multi-channel file comes once, from :func:`msdm_tutorial.data.datasets.scan_track`.
    """
    try:
        with sf.SoundFile(str(path)) as f:
            if start:
                f.seek(start)
            data = f.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"{path}: not a readable audio file ({_reason(err)})") from None
    _check_finite(data, path)
    out, _ = _downmix(data, path, mono)
    if out.shape[1] < frames:
        out = np.pad(out, ((0, 0), (0, frames - out.shape[1])))
    return out


class AudioRead(NamedTuple):
    """What :func:`read_audio` returns: the audio, its rate, notes on what was changed, the file's rate."""

    audio: Tensor            # (channels, samples) float32
    sample_rate: int
    notes: list[str]         # e.g. "song.wav: 2 channels, downmixed to mono"
    source_rate: int         # the rate the file was stored at (before any resampling)
    name: str                # how messages call the file


def _open_source(source, name):
    """A path or a file object (or bytes) for soundfile, and the name messages use."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise ValueError(f"{name or 'upload'}: the file is empty")
        return io.BytesIO(bytes(source)), name or "upload"
    if hasattr(source, "read"):
        return source, name or getattr(source, "name", None) or "upload"
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    return str(path), name or path


def read_audio(source, sample_rate: int | None = None, mono: bool = True, name=None) -> AudioRead:
    """Read a WAV/FLAC file — a path, a file object or its bytes — as an :class:`AudioRead`.

    ``sample_rate``: resample to this rate (torchaudio) when the file has another one.
    ``mono``: average the channels of a multi-channel file; a note says so (nothing is printed or warned).
    ``name``: how messages call the file (default: its path, or ``upload`` for bytes).
    Raises ValueError naming the file when it is not audio, is corrupt, or holds NaN/Inf.
    """
    handle, name = _open_source(source, name)
    try:
        data, sr = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise ValueError(f"{name}: not a readable audio file ({_reason(err)})") from None
    _check_finite(data, name)
    downmixed, notes = _downmix(data, name, mono)
    audio = torch.from_numpy(downmixed)
    rate = int(sr)
    if sample_rate is not None and sr != sample_rate:
        audio = resample(audio, sr, sample_rate)
        rate = int(sample_rate)
    return AudioRead(audio, rate, notes, int(sr), str(name))


def resample(audio: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Band-limited resampling along the last axis (``torchaudio.functional.resample``)."""
    if orig_rate == new_rate:
        return audio
    import torchaudio.functional as AF

    return AF.resample(audio, int(orig_rate), int(new_rate))


def _no_peak_chunk(f: sf.SoundFile) -> None:
    """Leave out libsndfile's PEAK chunk of float WAVs: it holds a time stamp, so the same audio
    written twice would give different bytes (``SFC_SET_ADD_PEAK_CHUNK`` = 0x1050, off)."""
    try:
        from soundfile import _ffi, _snd

        _snd.sf_command(f._file, 0x1050, _ffi.NULL, 0)
    except (ImportError, AttributeError):  # another soundfile build: keep the chunk
        pass


def save_audio(path, audio, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``audio`` ((channels, samples) or (samples,), tensor or array) atomically.

    The format follows the suffix (``.wav`` or ``.flac``). ``subtype`` defaults to 16-bit PCM,
    or to 32-bit float for WAV when a sample would clip (|x| > 1). FLAC has no float format, so
    clipping audio is an error there. The file appears under its name only once complete.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise ValueError(f"{path}: unsupported audio format (use .wav or .flac)")
    data = audio.detach().cpu().numpy() if isinstance(audio, Tensor) else np.asarray(audio)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2:
        raise ValueError(f"{path}: audio must be (channels, samples), got shape {data.shape}")
    _check_finite(data, path)
    peak = float(np.abs(data).max()) if data.size else 0.0
    if subtype is None:
        if peak > 1.0:
            if suffix == ".flac":
                raise ValueError(f"{path}: peak {peak:.3f} > 1 would clip in FLAC; write .wav or scale it")
            subtype = "FLOAT"
        else:
            subtype = "PCM_16"
    fmt = "WAV" if suffix == ".wav" else "FLAC"
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", samplerate=int(sample_rate), channels=data.shape[0],
                          format=fmt, subtype=subtype) as f:
            if subtype in ("FLOAT", "DOUBLE"):
                _no_peak_chunk(f)
            f.write(data.T)
    return path
