"""Toy song synthesis: determinism, levels, labels, and stems that share tempo and key."""

import json

import numpy as np
import pytest
import torch

from msdm_tutorial import STEMS, cli
from msdm_tutorial.data import analysis as A
from msdm_tutorial.data import synthesize_song
from msdm_tutorial.data.toy import synthesize_raw_track

SR = 22050


@pytest.fixture(scope="module")
def songs():
    return [synthesize_song(seed, 6.0, SR) for seed in range(12)]


def test_same_seed_same_samples_and_labels():
    a, ma = synthesize_song(7, 4.0, SR)
    b, mb = synthesize_song(7, 4.0, SR)
    assert torch.equal(a, b) and ma == mb
    c, _ = synthesize_song(8, 4.0, SR)
    assert not torch.equal(a, c)


def test_same_seed_identical_bytes_on_disk(tmp_path):
    args = ["--songs", "2", "--validation-songs", "1", "--test-songs", "1", "--seconds", "2", "--seed", "5", "--quiet"]
    for fmt in ("wav", "flac"):
        assert cli.main(["make-toy-data", str(tmp_path / f"a{fmt}"), "--format", fmt, *args]) == 0
        assert cli.main(["make-toy-data", str(tmp_path / f"b{fmt}"), "--format", fmt, *args]) == 0
        fa = sorted(p.relative_to(tmp_path / f"a{fmt}") for p in (tmp_path / f"a{fmt}").rglob("*") if p.is_file())
        fb = sorted(p.relative_to(tmp_path / f"b{fmt}") for p in (tmp_path / f"b{fmt}").rglob("*") if p.is_file())
        assert fa == fb and len(fa) >= 4 * 3
        for rel in fa:
            assert (tmp_path / f"a{fmt}" / rel).read_bytes() == (tmp_path / f"b{fmt}" / rel).read_bytes(), rel


def test_shapes_levels_and_mixture_range(songs):
    for x, meta in songs:
        assert x.shape == (4, 6 * SR) and x.dtype == torch.float32
        assert x.sum(0).abs().max() <= 1.0, "the mixture must stay within [-1, 1]"
        for k, s in enumerate(STEMS):
            peak = x[k].abs().max().item()
            if meta["stems"][s]["present"]:
                assert 0.2 <= peak <= 0.65, f"seed {meta['seed']}: {s} peak {peak:.2f}"
            else:
                assert peak == 0.0


def test_labels_are_complete_and_json_serialisable(songs):
    for x, meta in songs:
        json.dumps(meta)
        assert 88 <= meta["tempo_bpm"] <= 140 and meta["mode"] in ("major", "minor")
        assert meta["chords"] and meta["chords"][0]["start"] == 0.0
        for s in STEMS:
            st = meta["stems"][s]
            assert len(st["active_bars"]) == len(meta["bar_starts"])
            if st["present"]:
                assert st["notes"], s
                assert all(0 <= n[0] < meta["seconds"] for n in st["notes"])


def test_dropouts_happen_somewhere():
    dropped = sum(1 - a for seed in range(20) for s in synthesize_song(seed, 8.0, SR)[1]["stems"].values()
                  for a in s["active_bars"])
    assert dropped > 0, "per-bar drop-outs should silence some instrument-bars"


def test_stems_share_tempo_in_meta_and_audio(songs):
    """Every stem's onsets (found in its audio) fall on the song's sixteenth-note grid, and not on
    the grid of a 13 % faster tempo; the tempo estimated from the drums matches the label."""
    on_grid, off_grid, drum_hits = [], [], 0
    for x, meta in songs:
        tempo = meta["tempo_bpm"]
        for k, s in enumerate(STEMS):
            if not meta["stems"][s]["present"]:
                continue
            onsets = A.onset_times(x[k], SR)
            assert len(onsets) >= 4, (meta["seed"], s)
            on_grid.append(A.grid_alignment(onsets, tempo))
            off_grid.append(A.grid_alignment(onsets, tempo * 1.13))
            assert on_grid[-1] >= 0.85, (meta["seed"], s, tempo)
        drum_hits += abs(A.estimate_tempo(x[1], SR) - tempo) / tempo < 0.04
    assert np.mean(on_grid) > np.mean(off_grid) + 0.3, (np.mean(on_grid), np.mean(off_grid))
    assert drum_hits >= 0.9 * len(songs), f"drum tempo matched the label in {drum_hits}/{len(songs)} songs"


def test_stems_share_key_in_meta_and_audio(songs):
    """Tonal stems keep their energy on the key's scale; their pooled chroma names the key signature."""
    hits = 0
    for x, meta in songs:
        chromas = []
        for k, s in enumerate(STEMS):
            if s == "drums" or not meta["stems"][s]["present"]:
                continue
            for t, pitch, _, _ in meta["stems"][s]["notes"]:
                assert pitch % 12 in [(meta["tonic"] + d) % 12 for d in A.SCALES[meta["mode"]]], (s, pitch)
            c = A.chroma(x[k], SR)
            assert A.in_scale_fraction(c, meta["tonic"], meta["mode"]) >= 0.6, (meta["seed"], s)
            chromas.append(c)
        hits += A.key_signature(sum(chromas)) == A.signature_of(meta["tonic"], meta["mode"])
    assert hits >= 0.8 * len(songs), f"key signature recovered from audio in only {hits}/{len(songs)} songs"


def test_raw_parts_sum_to_the_song_stems():
    parts, meta = synthesize_raw_track(3, 3.0, 44100)
    x, _ = synthesize_song(3, 3.0, 44100)
    classes = {"Bass": 0, "Drums": 1, "Guitar": 2, "Piano": 3}
    assert any(p["inst_class"] not in classes for p in parts), "an extra class should be present"
    for cls, k in classes.items():
        total = sum(torch.from_numpy(p["audio"]) for p in parts if p["inst_class"] == cls and p["audio"] is not None)
        ref = x[k] * meta["raw_gain"]
        assert torch.allclose(torch.as_tensor(total, dtype=torch.float32), ref, atol=1e-5), cls


def test_bad_arguments():
    with pytest.raises(ValueError, match="seconds"):
        synthesize_song(0, 0.0)


def test_a_long_song_keeps_one_tempo_and_key_per_chunk_and_noise_or_a_splice_does_not():
    """``tempo_and_key_per_chunk``: a real toy song passes; white noise has no key; two songs spliced
    at different tempos have no single tempo."""
    chunk = 32768
    x, meta = synthesize_song(20260815, 12.0, SR)
    pitched = x[[STEMS.index(s) for s in ("bass", "guitar", "piano")]].sum(0)
    tempos, shares = A.tempo_and_key_per_chunk(pitched, x.sum(0), SR, chunk)
    assert len(tempos) == len(shares) == x.shape[-1] // chunk
    assert A.steady_share(tempos) == 1.0 and abs(np.median(tempos) / meta["tempo_bpm"] - 1) < 0.04
    assert shares.mean() >= 0.8
    noise = 0.05 * torch.randn(x.shape[-1], generator=torch.Generator().manual_seed(0))
    assert A.tempo_and_key_per_chunk(noise, noise, SR, chunk)[1].mean() < 0.7
    other, other_meta = next((y, m) for y, m in (synthesize_song(s, 12.0, SR) for s in range(100))
                             if abs(m["tempo_bpm"] / meta["tempo_bpm"] - 1) > 0.15)
    half = x.shape[-1] // 2
    spliced = torch.cat([x.sum(0)[:half], other.sum(0)[half:]])
    assert A.steady_share(A.tempo_and_key_per_chunk(spliced, spliced, SR, chunk)[0]) <= 0.75
    assert A.steady_share([100, 101, 99, 120]) == 0.75
