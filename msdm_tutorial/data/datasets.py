"""Multi-stem datasets over the MSDM layout ``ROOT/split/TrackNNNNN/{stem}.wav``.

* ``read_track``: a whole track as a ``(K, T)`` tensor (a missing stem is zeros) and notes on what
  was changed (a multi-channel stem downmixed); ``load_track``: the tensor alone.
* ``TrainChunks``: random chunks for training. Item ``g`` is a pure function of ``(seed, g)``
  (g a global sample number, ``GlobalIndices``), so a resumed run sees exactly the data it would have seen.
  Only the needed frames are read from disk (``soundfile`` seeks).
* ``EvalChunks``: non-overlapping chunks for evaluation, as in the paper's code, with optional
  filtering of silent chunks.

A stem is *silent* on a chunk when ``‖s‖₂ / n < 1.5e-5`` (n = number of samples), the rule of the
paper's evaluation code (:func:`msdm_tutorial.metrics.is_silent`, also importable from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import SAMPLE_RATE, STEMS
from ..metrics import SILENCE_THRESHOLD, is_silent
from .audio import AUDIO_SUFFIXES, audio_info, downmix_note, read_audio, read_frames

LENGTH_TOLERANCE_S = 0.1
SPLITS = ("train", "validation", "test")


def stem_path(track_dir, stem: str) -> Path | None:
    """The file of ``stem`` in a track folder (``.wav`` first, then ``.flac``), or None."""
    for suffix in AUDIO_SUFFIXES:
        p = Path(track_dir) / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def is_track(path, stems=STEMS) -> bool:
    return Path(path).is_dir() and any(stem_path(path, s) for s in stems)


def list_tracks(root, split: str | None = None, stems=STEMS) -> list[Path]:
    """Sorted track folders of ``root/split`` (or of ``root`` when ``split`` is None).

    A track folder holds at least one stem file. Raises ValueError when the folder is missing.
    """
    folder = Path(root) / split if split else Path(root)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such data folder")
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and is_track(p, stems))


@dataclass
class TrackInfo:
    """A track's stem files, its usable length (the shortest stem's), and notes (stems read downmixed)."""

    path: Path
    files: list  # per stem: Path or None
    frames: int
    sample_rate: int
    notes: list = field(default_factory=list)  # e.g. "…/piano.wav: 2 channels, downmixed to mono"

    @property
    def name(self) -> str:
        return self.path.name


def scan_track(track_dir, stems=STEMS, sample_rate: int | None = SAMPLE_RATE) -> TrackInfo:
    """Check a track's stem files (readable, same rate, lengths within 0.1 s) without decoding.

    Raises ValueError naming the file or the track: not audio, wrong sample rate, no stem at
    all, or stem lengths differing by more than 0.1 s.
    """
    track_dir = Path(track_dir)
    files = [stem_path(track_dir, s) for s in stems]
    present = [f for f in files if f is not None]
    if not present:
        raise ValueError(f"{track_dir}: no stem file ({', '.join(s + '.wav' for s in stems)})")
    lengths, rates, notes = [], set(), []
    for f in present:
        info = audio_info(f)
        if info.channels > 1:
            notes.append(downmix_note(f, info.channels))
        if sample_rate is not None and info.samplerate != sample_rate:
            raise ValueError(f"{f}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz "
                             f"(run 'msdm prepare-slakh' or pass sample_rate={info.samplerate})")
        rates.add(info.samplerate)
        lengths.append(info.frames)
    if len(rates) > 1:
        raise ValueError(f"{track_dir}: stems have different sample rates {sorted(rates)}")
    sr = rates.pop()
    if max(lengths) - min(lengths) > LENGTH_TOLERANCE_S * sr:
        raise ValueError(f"{track_dir}: stem lengths differ by {(max(lengths) - min(lengths)) / sr:.2f} s "
                         f"(more than {LENGTH_TOLERANCE_S} s): {dict(zip([f.name for f in present], lengths))}")
    return TrackInfo(track_dir, files, min(lengths), sr, notes)


class TrackRead(NamedTuple):
    """What :func:`read_track` returns: the ``(K, T)`` stems and notes on what was changed."""

    audio: torch.Tensor
    notes: list[str]


def read_track(track_dir, stems=STEMS, sample_rate: int | None = SAMPLE_RATE, resample: bool = False) -> TrackRead:
    """A whole track as ``(K, T)`` float32 in ``stems`` order (a missing stem file is zeros), with notes.

    Stems whose lengths differ by at most 0.1 s are cropped to the shortest; a larger difference
    is a ValueError naming the track. A file at another rate than ``sample_rate`` is an error,
    unless ``resample=True``. Multi-channel files are downmixed, and a note says so; NaN is an error.
    """
    if resample:
        audios, notes = {}, []
        for s in stems:
            p = stem_path(track_dir, s)
            if p is not None:
                read = read_audio(p, sample_rate)
                audios[s], notes = read.audio[0], notes + read.notes
        if not audios:
            raise ValueError(f"{track_dir}: no stem file")
        lengths = [len(a) for a in audios.values()]
        if max(lengths) - min(lengths) > LENGTH_TOLERANCE_S * sample_rate:
            raise ValueError(f"{track_dir}: stem lengths differ by more than {LENGTH_TOLERANCE_S} s")
        n = min(lengths)
        return TrackRead(torch.stack([audios[s][:n] if s in audios else torch.zeros(n) for s in stems]), notes)
    info = scan_track(track_dir, stems, sample_rate)
    return TrackRead(torch.from_numpy(_read_chunk(info, 0, info.frames)), info.notes)


def load_track(track_dir, stems=STEMS, sample_rate: int | None = SAMPLE_RATE, resample: bool = False) -> torch.Tensor:
    """:func:`read_track`'s ``(K, T)`` stems alone, without its notes (use :func:`read_track` to
    report a downmixed stem to the user)."""
    return read_track(track_dir, stems, sample_rate, resample).audio


def _read_chunk(info: TrackInfo, start: int, frames: int) -> np.ndarray:
    out = np.zeros((len(info.files), frames), dtype=np.float32)
    for k, f in enumerate(info.files):
        if f is not None:
            out[k] = read_frames(f, start, frames, mono=True)[0]
    return out


def _scan_split(root, split, stems, sample_rate) -> list[TrackInfo]:
    tracks = list_tracks(root, split, stems)
    if not tracks:
        folder = Path(root) / split if split else Path(root)
        raise ValueError(f"{folder}: no tracks found (expected TrackNNNNN/{{{','.join(stems)}}}.wav)")
    return [scan_track(t, stems, sample_rate) for t in tracks]


def _reflect(start: int, last: int) -> int:
    """Fold ``start`` back into ``[0, last]`` by reflection at both ends (uniform stays uniform)."""
    if last <= 0:
        return 0
    period = 2 * last
    start %= period
    return period - start if start > last else start


class TrainChunks(Dataset):
    """Random training chunks ``(K, chunk_length)`` across all tracks of a split.

    Each epoch visits every track's chunk grid (``floor(frames / chunk_length)`` slots per track)
    in a shuffled order; with ``shift=True`` each chunk moves by a random offset of up to half a
    chunk either way (reflected back into the track at its ends), so chunks do not always start on
    the grid, nor pile up on the track's first and last frames. Tracks
    shorter than ``chunk_length`` are dropped (``self.dropped`` lists them).

    Items are numbered globally across epochs: item ``g`` is item ``i = g mod len`` of epoch
    ``e = g div len`` and depends only on ``(seed, e, i)``. No hidden RNG state, no epoch to set:
    the same under any number of DataLoader workers (persistent ones too), and a training loop that
    has consumed ``n`` samples resumes exactly with the sampler ``global_indices(start=n)``.
    """

    def __init__(self, root, split: str | None = "train", chunk_length: int = 262144, stems=STEMS,
                 sample_rate: int = SAMPLE_RATE, shift: bool = True, seed: int = 0):
        if chunk_length <= 0:
            raise ValueError(f"chunk_length must be > 0, got {chunk_length}")
        self.root, self.split, self.stems = Path(root), split, tuple(stems)
        self.chunk_length, self.sample_rate, self.shift = int(chunk_length), sample_rate, shift
        self.seed = int(seed)
        infos = _scan_split(root, split, self.stems, sample_rate)
        self.tracks = [t for t in infos if t.frames >= self.chunk_length]
        self.dropped = [t.path for t in infos if t.frames < self.chunk_length]
        if not self.tracks:
            longest = max(t.frames for t in infos)
            raise ValueError(f"{self.root / (split or '')}: no track is at least chunk_length={chunk_length} samples "
                             f"long (the longest has {longest}, {longest / infos[0].sample_rate:.2f} s)")
        slots = np.array([t.frames // self.chunk_length for t in self.tracks])
        self._slot_track = np.repeat(np.arange(len(self.tracks)), slots)
        self._slot_index = np.concatenate([np.arange(n) for n in slots])

    def __len__(self) -> int:
        return len(self._slot_track)

    def _order(self, epoch: int) -> np.ndarray:
        cache = getattr(self, "_order_cache", None)
        if cache is None or cache[0] != (self.seed, epoch):
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(self))
            self._order_cache = ((self.seed, epoch), perm)
        return self._order_cache[1]

    def position(self, index: int, epoch: int = 0) -> tuple[int, int]:
        """``(track number, start frame)`` of item ``index`` (< ``len(self)``) in ``epoch``."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} chunks")
        slot = int(self._order(epoch)[index])
        track, k = int(self._slot_track[slot]), int(self._slot_index[slot])
        start = k * self.chunk_length
        last = self.tracks[track].frames - self.chunk_length
        if self.shift:
            rng = np.random.default_rng([self.seed, epoch, index, 1])
            half = self.chunk_length // 2
            start += int(rng.integers(-half, half + 1))
            # Reflect, not clamp, a shift that leaves the track: clamping put one chunk in eight on
            # frame 0 (every song's first downbeat), and models learnt to start each chunk with an
            # onset — the spikes at the left edge of generated stems (docs/training_recipe.md).
            start = _reflect(start, last)
        return track, min(max(start, 0), last)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Global item ``g = epoch · len(self) + i``: item ``i`` of ``epoch`` (see ``global_indices``)."""
        if index < 0:
            raise IndexError(f"index {index} is negative; items are numbered 0, 1, 2, … across epochs")
        epoch, i = divmod(int(index), len(self))
        track, start = self.position(i, epoch)
        return torch.from_numpy(_read_chunk(self.tracks[track], start, self.chunk_length))

    def global_indices(self, start: int = 0, rank: int = 0, world_size: int = 1) -> "GlobalIndices":
        """An endless sampler of global indices ``start, start+1, …`` (this rank's share).

        Global index ``g`` is item ``g % len(self)`` of epoch ``g // len(self)``, so a training
        loop that has consumed ``n`` samples resumes exactly with ``start=n`` — also with
        persistent DataLoader workers. With ``world_size`` > 1 (DDP), rank ``r`` takes the global
        indices ``g ≡ r (mod world_size)``.
        """
        return GlobalIndices(start, rank, world_size)


class GlobalIndices(torch.utils.data.Sampler):
    """``start + rank, start + rank + world_size, …`` forever (pass as ``DataLoader(sampler=…)``)."""

    def __init__(self, start: int = 0, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.start, self.rank, self.world_size = int(start), int(rank), int(world_size)

    def __iter__(self):
        g = self.start + self.rank
        while True:
            yield g
            g += self.world_size


class EvalChunks(Dataset):
    """Non-overlapping evaluation chunks ``(K, chunk_length)``, as in the paper's evaluation.

    Each track is cut at multiples of ``chunk_length`` (default 262144 samples, ~11.9 s); a last
    partial chunk is kept when at least ``min_chunk_length`` long (default: only full chunks),
    and then zero-padded to ``chunk_length`` (``info(i)["frames"]`` gives its true length).

    Filtering (both optional, off by default):
    * ``drop_silent_mixture``: drop chunks whose mixture is silent;
    * ``min_active``: drop chunks with fewer than this many non-silent stems (the paper's
      "multi-source" filter is ``min_active=2``).
    Tracks are read once, at construction, to compute the silence statistics.
    """

    def __init__(self, root, split: str | None = "test", chunk_length: int = 262144, stems=STEMS,
                 sample_rate: int = SAMPLE_RATE, min_chunk_length: int | None = None,
                 drop_silent_mixture: bool = False, min_active: int = 0,
                 threshold: float = SILENCE_THRESHOLD):
        self.root, self.split, self.stems = Path(root), split, tuple(stems)
        self.chunk_length, self.sample_rate, self.threshold = int(chunk_length), sample_rate, threshold
        min_len = self.chunk_length if min_chunk_length is None else int(min_chunk_length)
        self.tracks = _scan_split(root, split, self.stems, sample_rate)
        self.chunks: list[dict] = []  # kept chunks
        self.all_chunks: list[dict] = []  # every chunk, with its silence flags
        for ti, info in enumerate(self.tracks):
            audio = torch.from_numpy(_read_chunk(info, 0, info.frames))
            for start in range(0, info.frames, self.chunk_length):
                piece = audio[:, start : start + self.chunk_length]
                n = piece.shape[-1]
                if n < min_len or n == 0:
                    continue
                silent = is_silent(piece, threshold)
                entry = dict(track=info.name, track_index=ti, start=start, frames=n,
                             silent=[bool(s) for s in silent],
                             mixture_silent=bool(is_silent(piece.sum(0), threshold)))
                self.all_chunks.append(entry)
                active = len(self.stems) - sum(entry["silent"])
                if drop_silent_mixture and entry["mixture_silent"]:
                    continue
                if active < min_active:
                    continue
                self.chunks.append(entry)
        self._cache = (None, None)

    def __len__(self) -> int:
        return len(self.chunks)

    def info(self, index: int) -> dict:
        """``track``, ``start``, ``frames`` and per-stem ``silent`` flags of a chunk."""
        return self.chunks[index]

    def silence_stats(self) -> dict:
        """Per stem, the fraction of all chunks (before filtering) where it is silent."""
        n = max(len(self.all_chunks), 1)
        return {s: sum(c["silent"][k] for c in self.all_chunks) / n for k, s in enumerate(self.stems)}

    def __getitem__(self, index: int) -> torch.Tensor:
        c = self.chunks[index]
        out = torch.from_numpy(_read_chunk(self.tracks[c["track_index"]], c["start"], self.chunk_length))
        if c["frames"] < self.chunk_length:
            out[:, c["frames"]:] = 0
        return out


def num_chunks(frames: int, chunk_length: int) -> int:
    """How many full non-overlapping chunks fit in ``frames`` samples."""
    return frames // chunk_length


__all__ = ["SILENCE_THRESHOLD", "SPLITS", "stem_path", "is_track", "list_tracks", "is_silent", "scan_track",
           "load_track", "TrainChunks", "GlobalIndices", "EvalChunks", "num_chunks"]
