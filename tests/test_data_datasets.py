"""Datasets over the MSDM layout: tracks, training chunks (resumable), evaluation chunks."""


import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from msdm_tutorial import STEMS
from msdm_tutorial.course import data_small
from msdm_tutorial.data import EvalChunks, TrainChunks, is_silent, list_tracks, load_track, read_track, save_audio

SR = 22050
TOY = data_small() / "toy"


def make_track(folder, n=SR, stems=STEMS, sr=SR, seed=0, fmt="wav", lengths=None):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for s in stems:
        m = (lengths or {}).get(s, n)
        save_audio(folder / f"{s}.{fmt}", 0.3 * rng.uniform(-1, 1, (1, m)).astype(np.float32), sr)
    return folder


def test_data_small_loads(tmp_path):
    tracks = list_tracks(TOY, "train")
    assert len(tracks) == 24 and len(list_tracks(TOY, "validation")) == 4 and len(list_tracks(TOY, "test")) == 6
    x = load_track(tracks[0])
    assert x.shape == (4, 6 * SR) and x.dtype == torch.float32


def test_authors_layout_wav_without_meta_loads(tmp_path):
    """The MSDM authors' preprocessed archives: split/TrackNNNNN/{stem}.wav, some stems missing."""
    make_track(tmp_path / "train" / "Track00001", stems=("bass", "drums", "piano"))
    make_track(tmp_path / "train" / "Track00002", seed=1)
    x = load_track(tmp_path / "train" / "Track00001")
    assert x.shape == (4, SR) and x[2].abs().max() == 0 and x[0].abs().max() > 0
    ds = TrainChunks(tmp_path, "train", chunk_length=4096, seed=0)
    assert ds[0].shape == (4, 4096)


def test_train_chunks_shapes_batches_and_determinism():
    ds = TrainChunks(TOY, "train", chunk_length=32768, seed=3)
    assert len(ds) == 24 * ((6 * SR) // 32768)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch.shape == (4, 4, 32768) and batch.dtype == torch.float32
    again = TrainChunks(TOY, "train", chunk_length=32768, seed=3)
    assert all(torch.equal(ds[i], again[i]) for i in (0, 5, len(ds) - 1))
    other = TrainChunks(TOY, "train", chunk_length=32768, seed=4)
    assert not all(torch.equal(ds[i], other[i]) for i in range(4))


def test_train_chunks_resume_exactly_from_the_global_index():
    ds = TrainChunks(TOY, "train", chunk_length=16384, seed=11)
    n = len(ds)
    e0 = [ds.position(i, epoch=0) for i in range(n)]
    e1 = [ds.position(i, epoch=1) for i in range(n)]
    assert e0 != e1, "each epoch has its own order"
    chunk = ds[n + 7]                                                      # item 7 of epoch 1
    fresh = TrainChunks(TOY, "train", chunk_length=16384, seed=11)         # a resumed run: same seed, same index
    assert [fresh.position(i, epoch=1) for i in range(n)] == e1 and torch.equal(fresh[n + 7], chunk)
    # the same items through 2 DataLoader workers
    loaded = torch.cat(list(DataLoader(ds, batch_size=5, num_workers=2)))
    assert torch.equal(loaded[3], ds[3]) and len(loaded) == len(ds)
    with pytest.raises(IndexError):
        ds[-1]


def test_global_indices_resume_exactly_across_epochs_with_persistent_workers():
    ds = TrainChunks(TOY, "train", chunk_length=16384, seed=5)
    n = len(ds)
    straight = [next(iter(DataLoader(ds, batch_size=6, sampler=ds.global_indices(0))))]
    it = iter(DataLoader(ds, batch_size=6, sampler=ds.global_indices(0), num_workers=2, persistent_workers=True))
    first = [next(it) for _ in range(n // 6 + 3)]  # runs past the end of epoch 0
    assert torch.equal(first[0], straight[0])
    g = 6 * (n // 6 + 1)                                                  # a global index in epoch 1
    track, start = ds.position(g - n, epoch=1)
    assert torch.equal(first[n // 6 + 1][0], load_track(ds.tracks[track].path)[:, start:start + 16384])
    resumed = iter(DataLoader(ds, batch_size=6, sampler=ds.global_indices(6 * 5)))
    assert torch.equal(next(resumed), first[5])
    even = list(zip(range(3), ds.global_indices(10, rank=1, world_size=2)))
    assert [g for _, g in even] == [11, 13, 15]


def test_shift_augmentation_moves_chunks_off_the_grid():
    grid = TrainChunks(TOY, "train", chunk_length=32768, shift=False, seed=0)
    assert all(grid.position(i)[1] % 32768 == 0 for i in range(len(grid)))
    shifted = TrainChunks(TOY, "train", chunk_length=32768, shift=True, seed=0)
    starts = [shifted.position(i)[1] for i in range(len(shifted))]
    assert sum(s % 32768 != 0 for s in starts) > len(starts) // 2
    assert all(0 <= s <= 6 * SR - 32768 for s in starts)


def test_shifted_chunks_do_not_pile_up_on_the_track_ends():
    """Clamping shifted chunks into the track put 1 chunk in 8 on frame 0, the song's first downbeat,
    and models learnt to start every chunk with an onset. Reflection keeps the starts spread out."""
    shifted = TrainChunks(TOY, "train", chunk_length=32768, shift=True, seed=0)
    last = 6 * SR - 32768
    starts = np.array([shifted.position(i, epoch)[1] for epoch in range(8) for i in range(len(shifted))])
    at_ends = np.mean((starts == 0) | (starts == last))
    assert at_ends < 0.01, f"{at_ends:.1%} of chunks start on the first or last possible frame"
    # and the starts still cover the whole track: every eighth of [0, last] is visited
    assert len(np.unique(np.minimum(starts * 8 // (last + 1), 7))) == 8


def test_reads_only_the_needed_frames(monkeypatch):
    calls = []
    real = sf.SoundFile.read

    def spy(self, frames=-1, *a, **k):
        calls.append(frames)
        return real(self, frames, *a, **k)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    ds = TrainChunks(TOY, "train", chunk_length=8192, seed=0)
    ds[0]
    assert calls and all(f == 8192 for f in calls), calls


def test_short_tracks_are_dropped_and_none_long_enough_is_an_error(tmp_path):
    make_track(tmp_path / "train" / "Track00001", n=SR)
    make_track(tmp_path / "train" / "Track00002", n=3000, seed=1)
    ds = TrainChunks(tmp_path, "train", chunk_length=8192)
    assert [p.name for p in ds.dropped] == ["Track00002"] and len(ds.tracks) == 1
    with pytest.raises(ValueError, match=r"no track is at least chunk_length=32768"):
        TrainChunks(tmp_path, "train", chunk_length=32768)


def test_empty_or_missing_folder_is_an_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="no tracks found"):
        TrainChunks(tmp_path, "train", chunk_length=1024)
    with pytest.raises(ValueError, match="no such data folder"):
        TrainChunks(tmp_path, "validation", chunk_length=1024)


def test_stem_lengths_within_0_1_s_are_cropped_larger_is_an_error(tmp_path):
    t = make_track(tmp_path / "a" / "Track00001", n=SR, lengths={"drums": SR - 1000})
    assert load_track(t).shape == (4, SR - 1000)
    t = make_track(tmp_path / "b" / "Track00001", n=SR, lengths={"drums": SR - 3000})
    with pytest.raises(ValueError, match=r"Track00001: stem lengths differ by 0\.14 s"):
        load_track(t)
    with pytest.raises(ValueError, match="Track00001"):
        TrainChunks(tmp_path / "b", None, chunk_length=1024)


def test_wrong_sample_rate_is_an_error_naming_the_file(tmp_path):
    make_track(tmp_path / "train" / "Track00001", sr=44100, n=44100)
    with pytest.raises(ValueError, match=r"bass\.wav: sample rate 44100 Hz, expected 22050 Hz"):
        TrainChunks(tmp_path, "train", chunk_length=1024)
    x = load_track(tmp_path / "train" / "Track00001", resample=True)
    assert x.shape == (4, SR)


def test_stereo_stems_are_downmixed(tmp_path):
    t = tmp_path / "train" / "Track00001"
    make_track(t, stems=("bass", "drums", "guitar"))
    save_audio(t / "piano.wav", 0.2 * np.ones((2, SR), dtype=np.float32) * np.array([[1.0], [0.0]], dtype=np.float32), SR)
    x = load_track(t)
    assert torch.allclose(x[3], torch.full((SR,), 0.1), atol=1e-4)
    for resample in (False, True):                      # read_track says so in its notes
        y, notes = read_track(t, resample=resample)
        assert torch.allclose(y, x, atol=1e-6)
        assert len(notes) == 1 and "piano.wav: 2 channels, downmixed to mono" in notes[0], notes


def test_nan_in_a_stem_is_an_error(tmp_path):
    t = make_track(tmp_path / "train" / "Track00001", stems=("bass", "drums", "guitar"))
    data = np.zeros(SR, dtype=np.float32)
    data[100] = np.nan
    sf.write(str(t / "piano.wav"), data, SR, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"piano\.wav: contains 1 NaN"):
        load_track(t)


def test_corrupt_stem_is_an_error_naming_the_file(tmp_path):
    t = make_track(tmp_path / "train" / "Track00001", stems=("bass", "drums", "guitar"))
    (t / "piano.wav").write_bytes(b"RIFF....not really")
    with pytest.raises(ValueError, match=r"piano\.wav: not a readable audio file"):
        TrainChunks(tmp_path, "train", chunk_length=1024)


def test_silence_rule():
    n = 262144
    assert is_silent(torch.zeros(1, n)).item()
    quiet = torch.full((n,), 1.4e-5 * n / n ** 0.5)  # ||s|| / n = 1.4e-5
    loud = torch.full((n,), 1.6e-5 * n / n ** 0.5)
    assert is_silent(quiet).item() and not is_silent(loud).item()
    from msdm_tutorial import data, metrics
    assert data.is_silent is metrics.is_silent and data.SILENCE_THRESHOLD == metrics.SILENCE_THRESHOLD  # one rule


def test_eval_chunks_non_overlapping_and_filtering(tmp_path):
    # one track of 2.5 chunks; the guitar is silent in the second chunk, all but bass in the third
    n, c = 5 * 4096, 8192
    t = tmp_path / "test" / "Track00001"
    t.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, s in enumerate(STEMS):
        x = 0.3 * rng.uniform(-1, 1, n).astype(np.float32)
        if s == "guitar":
            x[c : 2 * c] = 0
        if s != "bass":
            x[2 * c :] = 0
        save_audio(t / f"{s}.wav", x[None], SR)
    full = EvalChunks(tmp_path, "test", chunk_length=c)
    assert [ch["start"] for ch in full.chunks] == [0, c]
    assert full[1].shape == (4, c) and torch.equal(full[1], load_track(t)[:, c : 2 * c])
    assert full.info(1)["silent"] == [False, False, True, False]
    partial = EvalChunks(tmp_path, "test", chunk_length=c, min_chunk_length=1)
    assert len(partial) == 3 and partial.info(2)["frames"] == n - 2 * c and partial[2].shape == (4, c)
    multi = EvalChunks(tmp_path, "test", chunk_length=c, min_chunk_length=1, min_active=2)
    assert [ch["start"] for ch in multi.chunks] == [0, c]
    stats = partial.silence_stats()
    assert stats["bass"] == 0 and stats["guitar"] == pytest.approx(2 / 3)


def test_eval_chunks_on_data_small():
    ds = EvalChunks(TOY, "test", chunk_length=32768)
    assert len(ds) == 6 * ((6 * SR) // 32768)
    assert ds[0].shape == (4, 32768)
