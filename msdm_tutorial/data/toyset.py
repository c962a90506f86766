"""Write toy songs to disk, in the MSDM layout or in the official raw Slakh2100 layout.

``write_toy_dataset(out, layout="msdm")``::

    OUT/{train,validation,test}/TrackNNNNN/{bass,drums,guitar,piano}.wav  + meta.json

(a stem absent from a song has no file). ``layout="slakh-raw"``::

    OUT/{train,validation,test}/TrackNNNNN/metadata.yaml, stems/SNN.flac, mix.flac, meta.json

Song ``i`` of the whole set (numbered across splits) uses the seed
``SeedSequence([seed, i]).generate_state(1)[0]``, recorded in its ``meta.json``. The whole
dataset is built in a hidden temporary folder and renamed into place at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from .. import STEMS
from ..files import atomic_replace_dir
from .audio import save_audio
from .toy import synthesize_raw_track, synthesize_song

LAYOUTS = ("msdm", "slakh-raw")
FORMATS = ("wav", "flac")
RENDERERS = ("numpy", "soundfont")


def song_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, separators=(",", ":"), sort_keys=True) + "\n")


def write_msdm_track(track_dir: Path, seed: int, seconds: float, sample_rate: int, fmt: str = "wav",
                     renderer: str = "numpy") -> dict:
    if renderer == "soundfont":  # the same score, played by sampled GM instruments (data/midi.py)
        from .midi import synthesize_song_soundfont

        stems, meta = synthesize_song_soundfont(seed, seconds, sample_rate)
    else:
        stems, meta = synthesize_song(seed, seconds, sample_rate)
    track_dir.mkdir(parents=True)
    for k, s in enumerate(STEMS):
        if meta["stems"][s]["present"]:
            save_audio(track_dir / f"{s}.{fmt}", stems[k][None], sample_rate)
    _write_json(track_dir / "meta.json", meta)
    return meta


def write_raw_track(track_dir: Path, seed: int, seconds: float, sample_rate: int) -> dict:
    parts, meta = synthesize_raw_track(seed, seconds, sample_rate)
    (track_dir / "stems").mkdir(parents=True)
    stems_meta = {}
    mix = None
    for i, p in enumerate(parts):
        sid = f"S{i:02d}"
        rendered = p["audio"] is not None
        stems_meta[sid] = {
            "audio_rendered": rendered, "inst_class": p["inst_class"], "is_drum": p["is_drum"],
            "midi_program_name": p["midi_program_name"], "midi_saved": True,
            "program_num": p["program_num"], "plugin_name": "msdm-tutorial toy synth",
        }
        if rendered:
            save_audio(track_dir / "stems" / f"{sid}.flac", p["audio"][None], sample_rate)
            mix = p["audio"] if mix is None else mix + p["audio"]
    save_audio(track_dir / "mix.flac", mix[None], sample_rate)
    metadata = {"UUID": f"toy-{seed:010d}", "audio_dir": "stems", "midi_dir": "MIDI", "normalized": False,
                "overall_gain": 1.0, "stems": stems_meta, "target_peak": -1.0}
    (track_dir / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=True))
    _write_json(track_dir / "meta.json", meta)
    return meta


def write_toy_dataset(out, songs: int = 24, validation_songs: int = 4, test_songs: int = 6,
                      seconds: float = 8.0, seed: int = 0, sample_rate: int | None = None,
                      layout: str = "msdm", fmt: str = "wav", overwrite: bool = False,
                      progress: bool = False, renderer: str = "numpy") -> dict:
    """Synthesise a toy dataset into ``out`` (atomically). Returns a summary dict.

    ``songs`` / ``validation_songs`` / ``test_songs``: tracks per split (numbered
    Track00001… across splits). ``sample_rate`` defaults to 22050 (msdm) or 44100 (slakh-raw).
    ``fmt``: ``wav`` or ``flac`` for the MSDM layout (the raw layout is always FLAC).
    ``renderer``: ``numpy`` (the oscillators of ``toy.py``) or ``soundfont`` (the same score on
    General MIDI instruments, ``midi.synthesize_song_soundfont``; MSDM layout only).
    """
    from tqdm.auto import tqdm

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r} (choose from {', '.join(RENDERERS)})")
    if renderer == "soundfont" and layout != "msdm":
        raise ValueError("--renderer soundfont writes the msdm layout only "
                         "(for the raw Slakh layout, render MIDI files with 'msdm render-midi --layout slakh-raw')")
    counts = {"train": songs, "validation": validation_songs, "test": test_songs}
    if any(n < 0 for n in counts.values()) or sum(counts.values()) == 0:
        raise ValueError(f"song counts must be >= 0 and not all 0, got {counts}")
    if not seconds > 0:
        raise ValueError(f"--seconds must be > 0, got {seconds}")
    sample_rate = sample_rate or (22050 if layout == "msdm" else 44100)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out}: folder is not empty (choose a new folder, or pass --overwrite)")
    index = 0
    total = sum(counts.values())
    with atomic_replace_dir(out) as tmp, tqdm(total=total, desc="make-toy-data", unit="song",
                                               disable=not progress) as bar:
        for split, n in counts.items():
            for _ in range(n):
                index += 1
                track = tmp / split / f"Track{index:05d}"
                s = song_seed(seed, index)
                if layout == "msdm":
                    write_msdm_track(track, s, seconds, sample_rate, fmt, renderer)
                else:
                    write_raw_track(track, s, seconds, sample_rate)
                bar.update()
    return {"out": str(out), "layout": layout, "songs": counts, "seconds": seconds, "seed": seed,
            "sample_rate": sample_rate, "format": fmt if layout == "msdm" else "flac", "renderer": renderer}
