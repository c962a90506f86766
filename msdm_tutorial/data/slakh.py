"""From the official Slakh2100 release to the MSDM layout (``msdm prepare-slakh``).

The release (``slakh2100_flac_redux``) stores each track as::

    RAW_ROOT/{train,validation,test,omitted}/TrackNNNNN/
        metadata.yaml        # per stem: inst_class, program_num, is_drum, audio_rendered, ...
        stems/S00.flac ...   # one file per MIDI instrument, 44100 Hz
        mix.flac

MSDM keeps four classes — Bass, Drums, Guitar, Piano — summing the instruments of each class,
downmixed to mono and resampled to 22050 Hz::

    OUT_ROOT/{split}/TrackNNNNN/{bass,drums,guitar,piano}.wav   # a class with no stem: no file

Each track is written into a hidden temporary folder that is renamed into place when complete,
so the existence of ``OUT_ROOT/split/TrackNNNNN`` means the track is finished: a re-run skips
it, and an interrupted run leaves nothing half-written under a final name.
"""

from __future__ import annotations

import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
import yaml

from .. import SAMPLE_RATE, STEMS
from ..files import atomic_dir
from .audio import read_audio, resample, save_audio
from .datasets import stem_path

CLASS_TO_STEM = {"Bass": "bass", "Drums": "drums", "Guitar": "guitar", "Piano": "piano"}
RAW_SPLITS = ("train", "validation", "test", "omitted")


def read_metadata(track_dir) -> dict:
    """The ``metadata.yaml`` of a raw track; ValueError naming the file when missing or malformed."""
    path = Path(track_dir) / "metadata.yaml"
    if not path.is_file():
        raise ValueError(f"{path}: missing (every Slakh track has a metadata.yaml)")
    try:
        with open(path) as f:
            meta = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), dict):
        raise ValueError(f"{path}: has no 'stems' mapping")
    return meta


def class_stems(track_dir, meta: dict) -> dict[str, list[Path]]:
    """Per MSDM stem, the rendered stem files of its class (``inst_class`` Bass/Drums/Guitar/Piano)."""
    audio_dir = Path(track_dir) / meta.get("audio_dir", "stems")
    out: dict[str, list[Path]] = {s: [] for s in STEMS}
    for sid, info in sorted(meta["stems"].items()):
        info = info or {}
        stem = CLASS_TO_STEM.get(info.get("inst_class"))
        if stem is None or not info.get("audio_rendered", True):
            continue
        out[stem].append(audio_dir / f"{sid}.flac")
    return out


def find_tracks(raw_root) -> list[tuple[str, Path]]:
    """``(split, track folder)`` for every track of a raw release (split folders, or tracks directly)."""
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise ValueError(f"{raw_root}: no such folder")
    found = []
    for split in RAW_SPLITS:
        d = raw_root / split
        if d.is_dir():
            found += [(split, p) for p in sorted(d.iterdir()) if p.is_dir() and p.name.startswith("Track")]
    if not any((raw_root / s).is_dir() for s in RAW_SPLITS):  # a folder of tracks, no splits
        found += [("", p) for p in sorted(raw_root.iterdir()) if p.is_dir() and p.name.startswith("Track")]
    return found


def prepare_track(track_dir, out_dir, sample_rate: int = SAMPLE_RATE) -> dict:
    """Convert one raw track into ``out_dir`` (atomically). Returns a status dict.

    ``status``: "written", "done" (``out_dir`` already exists), or "skipped" (no Bass, Drums,
    Guitar or Piano stem; nothing is written). ``missing``: the classes without a stem.
    Raises ValueError naming the file for a missing metadata.yaml, a missing or corrupt FLAC, NaN.
    """
    track_dir, out_dir = Path(track_dir), Path(out_dir)
    if out_dir.is_dir():
        return {"track": track_dir.name, "status": "done",
                "missing": [s for s in STEMS if stem_path(out_dir, s) is None]}
    meta = read_metadata(track_dir)
    files = class_stems(track_dir, meta)
    missing = [s for s in STEMS if not files[s]]
    if len(missing) == len(STEMS):
        return {"track": track_dir.name, "status": "skipped", "missing": missing,
                "reason": "none of the classes Bass, Drums, Guitar, Piano"}
    summed: dict[str, torch.Tensor] = {}
    rate, notes = None, []
    for stem in STEMS:
        parts = []
        for f in files[stem]:
            if not f.is_file():
                raise ValueError(f"{f}: missing (metadata.yaml says it was rendered)")
            read = read_audio(f, mono=True)
            audio, sr, notes = read.audio, read.sample_rate, notes + read.notes
            if rate is not None and sr != rate:
                raise ValueError(f"{f}: sample rate {sr} Hz differs from the track's other stems ({rate} Hz)")
            rate = sr
            parts.append(audio[0])
        if parts:
            n = max(len(p) for p in parts)
            total = torch.zeros(n)
            for p in parts:
                total[: len(p)] += p
            summed[stem] = total
    n = max(len(a) for a in summed.values())
    with atomic_dir(out_dir) as tmp:
        for stem, audio in summed.items():
            audio = torch.nn.functional.pad(audio, (0, n - len(audio)))
            audio = resample(audio[None], rate, sample_rate)
            save_audio(tmp / f"{stem}.wav", audio, sample_rate)
    return {"track": track_dir.name, "status": "written", "missing": missing, "notes": notes}


def _worker(args):
    track_dir, out_dir, sample_rate = args
    torch.set_num_threads(1)
    try:
        return prepare_track(track_dir, out_dir, sample_rate)
    except (ValueError, OSError) as err:
        return {"track": Path(track_dir).name, "status": "failed", "missing": [], "reason": str(err).splitlines()[0]}


def clean_stale(out_root) -> int:
    """Remove temporary track folders left by an interrupted run; returns how many."""
    n = 0
    for tmp in Path(out_root).glob("**/.Track*.tmp-*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            n += 1
    return n


def prepare_slakh(raw_root, out_root, sample_rate: int = SAMPLE_RATE, workers: int = 1,
                  progress: bool = True) -> dict:
    """Convert a raw Slakh2100 release (or our toy raw layout) into the MSDM layout.

    Runs over tracks in ``workers`` processes with a progress bar; skips finished tracks.
    Returns a summary: tracks written / already done / skipped (with why) / failed (with why),
    and per class the number of tracks without a stem of that class.
    A track that fails (missing metadata.yaml, corrupt FLAC, NaN) is reported and left
    unwritten; the others are still converted.
    """
    from tqdm.auto import tqdm

    tracks = find_tracks(raw_root)
    if not tracks:
        raise ValueError(f"{raw_root}: no Slakh tracks found (expected {{{','.join(RAW_SPLITS)}}}/TrackNNNNN/metadata.yaml)")
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    stale = clean_stale(out_root)
    jobs = [(str(t), str(out_root / split / t.name), sample_rate) for split, t in tracks]
    results = []
    bar = tqdm(total=len(jobs), desc="prepare-slakh", unit="track", disable=not progress)
    if workers <= 1:
        for job in jobs:
            results.append(_worker(job))
            bar.update()
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_worker, job) for job in jobs]
            for fut in as_completed(futures):
                results.append(fut.result())
                bar.update()
    bar.close()
    status = Counter(r["status"] for r in results)
    missing = Counter(s for r in results if r["status"] in ("written", "done") for s in r["missing"])
    return {
        "raw_root": str(raw_root), "out_root": str(out_root), "sample_rate": sample_rate,
        "tracks": len(jobs), "written": status["written"], "already_done": status["done"],
        "skipped": sorted(([r["track"], r["reason"]] for r in results if r["status"] == "skipped")),
        "failed": sorted(([r["track"], r["reason"]] for r in results if r["status"] == "failed")),
        "missing_per_class": {s: missing[s] for s in STEMS},
        "stale_temp_folders_removed": stale,
        "notes": sorted(n for r in results for n in r.get("notes", [])),
    }


def format_summary(summary: dict) -> str:
    lines = [f"tracks: {summary['tracks']} | written: {summary['written']} | already done: {summary['already_done']}"
             f" | skipped: {len(summary['skipped'])} | failed: {len(summary['failed'])}",
             "tracks without a stem, per class: " + ", ".join(f"{k} {v}" for k, v in summary["missing_per_class"].items())]
    for track, why in summary["skipped"]:
        lines.append(f"skipped {track}: {why}")
    for track, why in summary["failed"]:
        lines.append(f"failed {track}: {why}")
    lines += [f"note: {n}" for n in summary.get("notes", [])]
    return "\n".join(lines)
