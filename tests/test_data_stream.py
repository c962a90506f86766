"""The on-the-fly toy song stream: pure function of (seed, index), held-out seeds never drawn,
exact resume of a run trained on it."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from msdm_tutorial import STEMS, runs, train
from msdm_tutorial.data.stream import ToySongStream, seeds_in
from msdm_tutorial.data.toy import synthesize_song

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data_small" / "toy"


def test_items_are_a_pure_function_of_seed_and_index():
    a, b = ToySongStream(4096, seed=3), ToySongStream(4096, seed=3)
    assert torch.equal(a[17], b[17]) and torch.equal(a[10**9], b[10**9])
    assert a[17].shape == (len(STEMS), 4096) and a[17].dtype == torch.float32
    assert not torch.equal(a[17], a[18]), "two items are the same song"
    assert not torch.equal(a[17], ToySongStream(4096, seed=4)[17]), "the stream seed changes nothing"


def test_chunk_is_a_crop_of_the_song_its_seed_names():
    stream = ToySongStream(4096, seed=5, margin=2000)
    song, _ = synthesize_song(stream.song_seed(7), (4096 + 2000) / 22050, 22050)
    item = stream[7]
    hits = [s for s in range(2001) if torch.equal(song[:, s:s + 4096], item)]
    assert len(hits) == 1, hits


def test_held_out_seeds_are_never_drawn():
    stream = ToySongStream(1024, seed=0)
    first = [stream.song_seed(i) for i in range(50)]
    held = set(first[::3])
    guarded = ToySongStream(1024, seed=0, held_out_seeds=held)
    redrawn = [guarded.song_seed(i) for i in range(50)]
    assert not held & set(redrawn)
    assert [s for s, t in zip(first, redrawn) if s == t] == [s for s in first if s not in held]


def test_seeds_in_reads_every_split_of_data_small():
    seeds = seeds_in(DATA)
    metas = list(DATA.glob("*/*/meta.json"))
    assert len(seeds) == len(metas) == 34
    assert json.loads(metas[0].read_text())["seed"] in seeds


def test_stem_subset_for_isdm():
    full, bass = ToySongStream(2048, seed=1), ToySongStream(2048, stems=("bass",), seed=1)
    assert torch.equal(bass[4], full[4][:1])


def test_training_on_the_stream_resumes_exactly(tmp_path):
    cfg = replace(train.PRESETS["tiny"], chunk_length=8192, batch_size=4, steps=4, val_every=0, save_every=100,
                  log_every=1, sample_steps=0, train_data="toy-stream")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train.train(cfg, DATA, straight, progress=False, device="cpu")
    train.train(cfg, DATA, resumed, progress=False, device="cpu", stop_after=2)
    train.train(cfg, DATA, resumed, resume=True, progress=False, device="cpu")
    a, b = (torch.load(runs.checkpoint_paths(d)[0], weights_only=True) for d in (straight, resumed))
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    # and the stream really differs from the files: the first batch is not data_small's
    files = train.training_items(replace(cfg, train_data="files"), DATA)
    stream = train.training_items(cfg, DATA)
    assert not np.allclose(files[0].numpy(), stream[0].numpy())
