"""Data for MSDM: toy multi-stem songs, the Slakh2100 pipeline, datasets and audio I/O.

* ``audio``     — ``read_audio`` (the one reader: path, file object or bytes, with notes) / ``save_audio`` (soundfile I/O, resampling, atomic writes)
* ``toy``       — ``synthesize_song``: four coherent stems (shared tempo, key, chords) in numpy
* ``toyset``    — ``write_toy_dataset``: toy songs on disk (``msdm make-toy-data``)
* ``slakh``     — ``prepare_slakh``: official release -> MSDM layout (``msdm prepare-slakh``)
* ``midi``      — ``render_midi``: multi-track MIDI -> stems with a General MIDI SoundFont, as Slakh (``msdm render-midi``)
* ``stream``    — ``ToySongStream``: a new toy song for every training chunk (``msdm train --train-data toy-stream``)
* ``datasets``  — ``read_track`` (with notes) / ``load_track``, ``list_tracks``, ``TrainChunks``, ``EvalChunks``
* ``analysis``  — onset / tempo / chroma / key helpers to check coherence from audio

Stems are ``(K, T)`` float32 tensors per item (``(B, K, T)`` in batches), mono, 22050 Hz,
in the order ``STEMS = ("bass", "drums", "guitar", "piano")``.
"""

from .. import SAMPLE_RATE, STEMS
from .audio import read_audio, save_audio
from .datasets import (SILENCE_THRESHOLD, EvalChunks, GlobalIndices, TrainChunks, is_silent, list_tracks, load_track,
                       read_track, scan_track, stem_path)
from .toy import synthesize_song

__all__ = ["STEMS", "SAMPLE_RATE", "SILENCE_THRESHOLD", "read_audio", "save_audio", "read_track", "load_track",
           "list_tracks",
           "scan_track", "stem_path", "is_silent", "TrainChunks", "GlobalIndices", "EvalChunks", "synthesize_song"]
