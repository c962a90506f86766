#!/usr/bin/env python
"""Regenerate data_small/real: a held-out set of real compositions, rendered the way Slakh is made.

    .venv/bin/pip install -e .[corpus]                       # music21, only for this script
    .venv/bin/python scripts/make_real_compositions.py       # writes data_small/real/{midi,test}

Nobody in this project composed these notes. Four excerpts of about 10 s are taken from the music21
corpus (the corpus ships inside the music21 wheel; the compositions are in the public domain):
three four-part Bach chorales and the first movement of Haydn's string quartet op. 74 no. 1. Their
parts are assigned to three of the four MSDM classes, an octave lower for the bass line:

* chorales:  Bass voice -> bass,   Tenor -> guitar,              Soprano + Alto -> piano
* quartet:   Violoncello -> bass,  Viola + Violin 2 -> guitar,   Violin 1 -> piano

The corpus has no drums, so each excerpt gets a **drum part made by this project's toy composer**
(``msdm_tutorial.data.toy.score_drums``, a seeded groove on the excerpt's own tempo and bar grid):
that stem is *not* real music. Each excerpt is written as a multi-track MIDI file with General MIDI
programs (``data_small/real/midi/NN_piece.mid``), then rendered with ``msdm render-midi`` and the
bundled TimGM6mb SoundFont into ``data_small/real/test/TrackNNNNN/{bass,drums,guitar,piano}.flac``
(22050 Hz, 16-bit FLAC, with a ``meta.json``), so ``msdm evaluate --data data_small/real`` reads it.

``--check`` re-renders the committed MIDI files into a temporary folder and compares with the
committed audio (it needs no music21).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data_small" / "real"
SECONDS = 10.0

# (corpus name, first measure, tempo in quarter notes per minute, {class: [part indices]}, programs, seed)
CHORALE = {"bass": [3], "guitar": [2], "piano": [0, 1]}
QUARTET = {"bass": [3], "guitar": [1, 2], "piano": [0]}
PIECES = [
    ("bach/bwv66.6", 1, 84, CHORALE, {"bass": 33, "guitar": 24, "piano": 0}, 1),
    ("bach/bwv253", 1, 92, CHORALE, {"bass": 32, "guitar": 25, "piano": 1}, 2),
    ("bach/bwv40.8", 1, 88, CHORALE, {"bass": 34, "guitar": 27, "piano": 4}, 3),
    ("haydn/opus74no1/movement1", 3, 120, QUARTET, {"bass": 33, "guitar": 26, "piano": 0}, 4),
]
VELOCITY = {"bass": 96, "guitar": 88, "piano": 80}


def piece_midi(name: str, first_measure: int, tempo: float, parts: dict, programs: dict, seed: int):
    """One excerpt as a PrettyMIDI: the corpus parts on bass/guitar/piano programs, plus toy drums."""
    import pretty_midi
    from music21 import corpus

    from msdm_tutorial.data import toy

    score = corpus.parse(name)
    beat = 60.0 / tempo
    start = float(score.parts[0].measure(first_measure).offset)        # in quarter notes
    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=tempo)
    for stem, indices in parts.items():
        inst = pretty_midi.Instrument(program=programs[stem], name=f"{stem} ({', '.join(score.parts[i].partName or '?' for i in indices)})")
        for i in indices:
            for el in score.parts[i].stripTies().flatten().notes:
                t0 = (float(el.offset) - start) * beat
                t1 = t0 + float(el.duration.quarterLength) * beat
                if t0 < 0 or t0 >= SECONDS or t1 <= t0:
                    continue
                for p in el.pitches:
                    midi = int(p.midi) - (12 if stem == "bass" else 0)
                    inst.notes.append(pretty_midi.Note(VELOCITY[stem], midi, round(t0, 6), round(min(t1, SECONDS), 6)))
        inst.notes.sort(key=lambda n: (n.start, n.pitch))
        pm.instruments.append(inst)
    # The drums: the toy composer's groove on this tempo and bar grid (4/4), every bar playing.
    bar = 4 * beat
    n_bars = int(np.ceil(SECONDS / bar))
    song = dict(beat=beat, bar=bar, n_bars=n_bars, seconds=SECONDS, active=np.ones((4, n_bars), dtype=bool))
    hits, _ = toy.score_drums(np.random.default_rng(seed), song)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums (toy composer, not from the corpus)")
    for t, key, dur, vel in hits:
        drums.notes.append(pretty_midi.Note(int(np.clip(round(vel * 110), 1, 127)), int(key), round(float(t), 6),
                                            round(min(float(t + dur), SECONDS), 6)))
    pm.instruments.append(drums)
    return pm


def render(midi_dir: Path, out: Path) -> None:
    from msdm_tutorial import cli

    code = cli.main(["render-midi", str(midi_dir), str(out), "--split", "test", "--format", "flac", "--quiet"])
    if code != 0:
        sys.exit(code)


def check() -> None:
    """Re-render the committed MIDI files and compare with the committed FLAC files."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        render(OUT / "midi", Path(tmp))
        worst = 0
        for f in sorted((OUT / "test").rglob("*.flac")):
            a = sf.read(f, dtype="int16")[0].astype(int)
            b = sf.read(Path(tmp) / f.relative_to(OUT), dtype="int16")[0].astype(int)
            worst = max(worst, int(np.abs(a - b).max()))
        print(f"largest difference: {worst} 16-bit step(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="re-render the committed MIDI files and compare")
    args = parser.parse_args()
    if args.check:
        return check()
    midi_dir = OUT / "midi"
    for d in (midi_dir, OUT / "test"):
        if d.exists():
            shutil.rmtree(d)
    midi_dir.mkdir(parents=True)
    for k, (name, first, tempo, parts, programs, seed) in enumerate(PIECES, start=1):
        pm = piece_midi(name, first, tempo, parts, programs, seed)
        path = midi_dir / f"{k:02d}_{name.split('/')[0]}_{name.split('/')[1].replace('.', '-')}.mid"
        pm.write(str(path))
        print(f"{path.relative_to(ROOT)}: " + ", ".join(f"{i.name} {len(i.notes)} notes" for i in pm.instruments))
    import os

    os.chdir(ROOT)                                    # meta.json records the MIDI path relative to the repository
    render(midi_dir.relative_to(ROOT), OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
