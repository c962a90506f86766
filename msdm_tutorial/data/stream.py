"""An endless stream of toy songs, synthesised on the fly: training data that never repeats.

``data_small`` holds 24 training songs of 6 s (2.4 minutes of audio); a model trained on them sees
the same bars again and again. ``ToySongStream`` composes a new song for every training item
instead. Synthesis costs a few milliseconds per chunk on one core (``data.toy``), much less than a
training step, so it runs in the training process (or in DataLoader workers) at no real cost.

Item ``g`` (a global sample number, as ``TrainChunks.global_indices`` yields them) is a pure function
of ``(seed, g)``: the song's seed is ``SeedSequence([seed, g]).generate_state(1)[0]`` and the chunk
starts at a seeded offset inside a song a little longer than the chunk. So a resumed run sees exactly
the data it would have seen, under any number of workers.

Held-out songs stay held out: pass the seeds of every validation and test song (``held_out_seeds``,
e.g. ``seeds_in(root)`` of a data folder); a stream song whose seed is among them is replaced by the
next seed of its own sequence, ``SeedSequence([seed, g, 1])``, ``[seed, g, 2]``, … .
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import SAMPLE_RATE, STEMS
from .toy import synthesize_song

# the stream is endless; this is only what len() reports to code that asks
NOMINAL_LENGTH = 2 ** 31 - 1


def seeds_in(root, splits=("train", "validation", "test")) -> set[int]:
    """The song seeds recorded in ``ROOT/split/Track*/meta.json`` (toy data made by make-toy-data)."""
    seeds = set()
    for split in splits:
        for meta in sorted(Path(root, split).glob("*/meta.json")):
            seed = json.loads(meta.read_text()).get("seed")
            if seed is not None:
                seeds.add(int(seed))
    return seeds


class ToySongStream(Dataset):
    """Chunks ``(K, chunk_length)`` of fresh toy songs; item ``g`` depends only on ``(seed, g)``.

    Each song lasts ``chunk_length + margin`` samples (margin: one second by default) and the chunk
    starts at a uniform offset in ``[0, margin]``, so chunks do not always begin on a downbeat.
    """

    def __init__(self, chunk_length: int, stems=STEMS, sample_rate: int = SAMPLE_RATE, seed: int = 0,
                 held_out_seeds=(), margin: int | None = None):
        if chunk_length <= 0:
            raise ValueError(f"chunk_length must be > 0, got {chunk_length}")
        unknown = [s for s in stems if s not in STEMS]
        if unknown:
            raise ValueError(f"unknown stem(s) {unknown}; the toy songs have {', '.join(STEMS)}")
        self.chunk_length, self.sample_rate, self.seed = int(chunk_length), int(sample_rate), int(seed)
        self.stem_index = [STEMS.index(s) for s in stems]
        self.held_out = frozenset(int(s) for s in held_out_seeds)
        self.margin = int(sample_rate if margin is None else margin)

    def __len__(self) -> int:
        return NOMINAL_LENGTH

    def song_seed(self, index: int) -> int:
        """The seed of item ``index``'s song: never one of ``held_out_seeds``."""
        entropy = [self.seed, int(index)]
        seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        retry = 0
        while seed in self.held_out:
            retry += 1
            seed = int(np.random.SeedSequence(entropy + [retry]).generate_state(1)[0])
        return seed

    def __getitem__(self, index: int) -> torch.Tensor:
        seed = self.song_seed(index)
        frames = self.chunk_length + self.margin
        stems, _ = synthesize_song(seed, frames / self.sample_rate, self.sample_rate)
        stems = stems[self.stem_index]
        if stems.shape[-1] < frames:                       # seconds → samples rounding
            stems = torch.nn.functional.pad(stems, (0, frames - stems.shape[-1]))
        start = int(np.random.default_rng([self.seed, int(index), 2]).integers(0, self.margin + 1))
        return stems[:, start:start + self.chunk_length].contiguous()


__all__ = ["ToySongStream", "seeds_in", "NOMINAL_LENGTH"]
