"""Slakh's own recipe on a laptop: multi-track MIDI -> stems, with a General MIDI SoundFont.

Slakh2100 (Manilow et al., 2019) *is* rendered MIDI: songs of the Lakh MIDI dataset, each MIDI
instrument played by a sample-based virtual instrument chosen by its General MIDI program, and
each instrument's class read off that program. This module does the same with what pip installs:

* **parsing** — ``pretty_midi`` gives per MIDI instrument its ``program``, ``is_drum`` and notes;
* **classes** — as in Slakh: drums for ``is_drum``, Piano for programs 0–7, Guitar 24–31, Bass
  32–39 (``stem_of``). Every other instrument (strings, organ, pads, …) is rendered into the
  *mixture only*, so the four stems need not sum to the mix — exactly as in Slakh;
* **sound** — ``midirenderer`` (a Rust SoundFont synthesiser in a dependency-free abi3 wheel)
  renders each MIDI instrument on its own, as Slakh renders each instrument to its own stem file,
  with the GM SoundFont ``TimGM6mb.sf2`` that ships inside the ``pretty_midi`` wheel (GPL-2).
  It always renders 48 kHz stereo; we average the channels and resample with torchaudio.

``render_midi(midi, …)`` returns the per-instrument audio, the per-class stems and the mixture;
``render_midi_files(paths, out, …)`` is ``msdm render-midi``: every MIDI file becomes one track,
in the MSDM layout ``OUT/split/TrackNNNNN/{bass,drums,guitar,piano}.wav`` (a class the song does
not have gets no file) or in the official release layout (``metadata.yaml``, ``stems/SNN.flac``,
``MIDI/SNN.mid``, ``all_src.mid``, ``mix.flac``) that ``msdm prepare-slakh`` reads. Each track is
written into a hidden temporary folder renamed into place, so a re-run skips finished tracks and an
interrupted one leaves nothing half-written.

``synthesize_song_soundfont(seed, …)`` plays the toy composer's score (``toy.py``: tempo, key,
chords, parts, labels) on GM instruments, drawing per song one program within each class
(``msdm make-toy-data --renderer soundfont``).
"""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch
import yaml

from .. import SAMPLE_RATE, STEMS
from ..files import atomic_dir
from .audio import resample, save_audio

#: The programs of each stem's class (General MIDI families, the mapping Slakh2100 uses).
CLASS_PROGRAMS = {"piano": range(0, 8), "guitar": range(24, 32), "bass": range(32, 40)}
CLASS_NAMES = {"bass": "Bass", "drums": "Drums", "guitar": "Guitar", "piano": "Piano"}
LAYOUTS = ("msdm", "slakh-raw")
FORMATS = ("wav", "flac")
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
TARGET_PEAK_DB = -1.0          # the loudest of mix / stem sum / any stem is normalised to this
TAIL_SECONDS = 1.0             # rendered after the last note ends (release and reverb tails)
END_MARKER_CC = 110            # an undefined controller: an event that only sets the render's length


# ------------------------------------------------------------------------------- classes, files
def default_soundfont() -> Path:
    """``TimGM6mb.sf2``, the General MIDI SoundFont inside the ``pretty_midi`` wheel (GPL-2, 6 MB)."""
    import pretty_midi

    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def stem_of(program: int, is_drum: bool) -> str | None:
    """The MSDM stem of a MIDI instrument, as Slakh classes it; None for every other class."""
    if is_drum:
        return "drums"
    for stem, programs in CLASS_PROGRAMS.items():
        if program in programs:
            return stem
    return None


def inst_class(program: int, is_drum: bool) -> str:
    """Slakh's ``inst_class`` name (``Drums``, or the GM family of the program: Piano, Strings, …)."""
    import pretty_midi

    return "Drums" if is_drum else pretty_midi.program_to_instrument_class(int(program))


def program_name(program: int, is_drum: bool) -> str:
    import pretty_midi

    return "Drums" if is_drum else pretty_midi.program_to_instrument_name(int(program))


def read_soundfont(path=None) -> bytes:
    """The bytes of an SF2 file (default: the bundled GM SoundFont); ValueError naming it if it is not one."""
    path = Path(path) if path is not None else default_soundfont()
    if not path.is_file():
        raise ValueError(f"{path}: no such SoundFont file")
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError(f"{path}: not a SoundFont (.sf2) file (no RIFF sfbk header)")
    return data


def read_midi(path):
    """A ``pretty_midi.PrettyMIDI``; ValueError naming the file when it does not parse."""
    import warnings

    import pretty_midi

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such MIDI file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # pretty_midi warns about odd but usable files
            return pretty_midi.PrettyMIDI(str(path))
    except Exception as err:  # mido/pretty_midi raise many kinds (OSError, EOFError, KeyError, ValueError…)
        why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: not a readable MIDI file ({why})") from None


def find_midi_files(paths) -> list[Path]:
    """The MIDI files named by ``paths`` (files, or folders searched recursively), in order, once each."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in MIDI_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise ValueError(f"{p}: no such file or folder")
    seen, unique = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


# ------------------------------------------------------------------------------- rendering
def _single(instrument, end_time: float):
    """A PrettyMIDI holding a copy of one instrument, plus an inaudible event at ``end_time`` that
    makes every render of a song equally long (the renderer stops at the last MIDI event)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=960)
    inst = pretty_midi.Instrument(program=int(instrument.program), is_drum=bool(instrument.is_drum),
                                  name=instrument.name)
    inst.notes = list(instrument.notes)
    inst.pitch_bends = list(instrument.pitch_bends)
    inst.control_changes = list(instrument.control_changes) + [pretty_midi.ControlChange(END_MARKER_CC, 0, end_time)]
    pm.instruments.append(inst)
    return pm


def midi_bytes(pm) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def synthesize(pm, soundfont: bytes, frames: int | None = None) -> tuple[np.ndarray, int]:
    """Render a PrettyMIDI with ``midirenderer``: ``(mono float32 samples, rate)`` (rate: 48000)."""
    import midirenderer
    import soundfile as sf

    wav = midirenderer.render_wave_from(soundfont, midi_bytes(pm))
    data, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    mono = data[:, 0] if data.shape[1] == 1 else np.float32(0.5) * (data[:, 0] + data[:, 1])
    if frames is not None:
        mono = np.pad(mono, (0, max(0, frames - mono.size)))[:frames]
    return mono, int(rate)


def _resampled(audio: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    return resample(torch.from_numpy(np.ascontiguousarray(audio))[None], rate, sample_rate)[0].numpy()


def assign_programs(pm, mode: str = "keep", seed: int = 0) -> list[int]:
    """Per instrument the program to play. ``"keep"``: the file's; ``"random"``: like Slakh's random
    choice of patch, a program drawn within the instrument's class (Bass 32–39, …) from ``seed``;
    drums and the other classes keep theirs."""
    if mode not in ("keep", "random"):
        raise ValueError(f"unknown program mode {mode!r} (choose keep or random)")
    rng = np.random.default_rng(seed)
    programs = []
    for inst in pm.instruments:
        stem = stem_of(inst.program, inst.is_drum)
        if mode == "random" and stem in CLASS_PROGRAMS:
            programs.append(int(rng.choice(list(CLASS_PROGRAMS[stem]))))
        else:
            programs.append(int(inst.program))
    return programs


def render_midi(midi, soundfont: bytes | None = None, sample_rate: int = SAMPLE_RATE, programs: str = "keep",
                seed: int = 0, tail: float = TAIL_SECONDS, keep_instruments: bool = True) -> dict:
    """Render a MIDI file (path or PrettyMIDI) the Slakh way: every instrument alone, then summed.

    Returns a dict: ``instruments`` (per MIDI instrument: ``program``, ``is_drum``, ``stem`` (or None),
    ``inst_class``, ``name``, ``program_name``, ``notes``, ``rendered`` and, with
    ``keep_instruments``, ``audio``: its render at ``sample_rate`` *before* ``gain``, or None),
    ``stems`` (``(K, T)`` float32 tensor in STEMS order: each class's instruments summed, resampled
    and scaled by ``gain``), ``present`` (per stem: has notes), ``mix()`` (all instruments, the other
    classes included, at ``sample_rate``), ``gain`` (one factor for everything, so that the loudest
    of the mix, the sum of the stems and any single instrument peaks at −1 dBFS), ``seconds``
    (the last note's end plus ``tail``), ``sample_rate`` and ``render_rate``.
    Without ``keep_instruments`` only the sums are held in memory (``msdm render-midi`` in the msdm
    layout). ValueError when the file does not parse.
    """
    pm = read_midi(midi) if not hasattr(midi, "instruments") else midi
    soundfont = soundfont if soundfont is not None else read_soundfont()
    chosen = assign_programs(pm, programs, seed)
    for inst, p in zip(pm.instruments, chosen):
        inst.program = p
    seconds = float(pm.get_end_time()) + tail
    n = int(round(seconds * sample_rate))
    rate, mix_hi, peaks = 48000, None, []
    stems_hi: dict[str, np.ndarray | None] = {s: None for s in STEMS}
    kept: list[np.ndarray | None] = []
    for inst in pm.instruments:
        if not inst.notes:
            kept.append(None)
            continue
        a, rate = synthesize(_single(inst, seconds), soundfont, frames=int(round(seconds * 48000)))
        if a.size != int(round(seconds * rate)):            # a renderer at another rate
            a = np.pad(a, (0, int(round(seconds * rate))))[: int(round(seconds * rate))]
        peaks.append(float(np.abs(a).max()))
        mix_hi = a.copy() if mix_hi is None else mix_hi + a
        stem = stem_of(inst.program, inst.is_drum)
        if stem is not None:
            stems_hi[stem] = a.copy() if stems_hi[stem] is None else stems_hi[stem] + a
        kept.append(np.pad(_resampled(a, rate, sample_rate), (0, n))[:n] if keep_instruments else None)
    if mix_hi is None:
        mix_hi = np.zeros(int(round(seconds * rate)), np.float32)
    present = [stems_hi[s] is not None for s in STEMS]
    peaks.append(float(np.abs(mix_hi).max()))
    if any(present):
        peaks.append(float(np.abs(sum(a for a in stems_hi.values() if a is not None)).max()))
    loudest = max(peaks)
    gain = float(10 ** (TARGET_PEAK_DB / 20) / loudest) if loudest > 0 else 1.0

    def out(a):                      # a render at the renderer's rate -> scaled, at sample_rate, n samples
        return np.pad(_resampled(a * np.float32(gain), rate, sample_rate), (0, n))[:n].astype(np.float32)

    stems = torch.zeros(len(STEMS), n)
    for k, s in enumerate(STEMS):
        if stems_hi[s] is not None:
            stems[k] = torch.from_numpy(out(stems_hi[s]))
    instruments = [dict(program=int(i.program), is_drum=bool(i.is_drum), stem=stem_of(i.program, i.is_drum),
                        inst_class=inst_class(i.program, i.is_drum), name=i.name,
                        program_name=program_name(i.program, i.is_drum), notes=len(i.notes),
                        rendered=bool(i.notes), audio=a)
                   for i, a in zip(pm.instruments, kept)]
    return dict(pm=pm, instruments=instruments, stems=stems, present=present, mix=lambda: out(mix_hi), gain=gain,
                seconds=seconds, sample_rate=sample_rate, render_rate=rate)


# ------------------------------------------------------------------------------- writing tracks
def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def _track_meta(source: str, song: dict, soundfont_name: str, layout: str) -> dict:
    r = lambda x: round(float(x), 6)  # noqa: E731
    return {
        "source": source, "renderer": "midirenderer", "soundfont": soundfont_name, "layout": layout,
        "sample_rate": int(song["sample_rate"]), "seconds": r(song["seconds"]), "gain": r(song["gain"]),
        "present": {s: bool(p) for s, p in zip(STEMS, song["present"])},
        "instruments": [{k: i[k] for k in ("program", "is_drum", "stem", "inst_class", "program_name", "name", "notes")}
                        for i in song["instruments"]],
    }


def write_msdm(track: Path, song: dict, fmt: str = "wav") -> None:
    track.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(STEMS):
        if song["present"][k]:
            save_audio(track / f"{s}.{fmt}", song["stems"][k][None], song["sample_rate"])


def write_slakh_raw(track: Path, song: dict, soundfont_name: str, uuid: str | None = None) -> None:
    """The official release's files: metadata.yaml, stems/SNN.flac, MIDI/SNN.mid, all_src.mid, mix.flac."""
    (track / "stems").mkdir(parents=True)
    (track / "MIDI").mkdir()
    stems_meta = {}
    end = song["seconds"]
    for i, inst in enumerate(song["instruments"]):
        sid = f"S{i:02d}"
        rendered = inst["rendered"]
        stems_meta[sid] = {"audio_rendered": rendered, "inst_class": inst["inst_class"], "is_drum": inst["is_drum"],
                           "midi_program_name": inst["program_name"], "midi_saved": True,
                           "program_num": inst["program"], "plugin_name": soundfont_name, "name": inst["name"]}
        (track / "MIDI" / f"{sid}.mid").write_bytes(midi_bytes(_single(song["pm"].instruments[i], end)))
        if rendered:
            save_audio(track / "stems" / f"{sid}.flac", (inst["audio"] * np.float32(song["gain"]))[None],
                       song["sample_rate"])
    (track / "all_src.mid").write_bytes(midi_bytes(song["pm"]))
    save_audio(track / "mix.flac", song["mix"]()[None], song["sample_rate"])
    metadata = {"UUID": uuid or track.name, "audio_dir": "stems", "midi_dir": "MIDI", "normalized": True,
                "overall_gain": round(song["gain"], 6), "stems": stems_meta, "target_peak": TARGET_PEAK_DB}
    (track / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=True))


def render_track(midi_path, track_dir, soundfont_path=None, sample_rate: int | None = None, layout: str = "msdm",
                 fmt: str = "wav", programs: str = "keep", seed: int = 0, source: str | None = None) -> dict:
    """Render one MIDI file into ``track_dir`` (atomically). Returns a status dict.

    ``status``: "written"; "done" (``track_dir`` already holds this file's render); "skipped" (none
    of the four classes has a note: nothing is written); "failed" (the file does not parse, or
    ``track_dir`` holds the render of another file). ``reason`` says why, naming the file.
    """
    midi_path, track_dir = Path(midi_path), Path(track_dir)
    source = source or str(midi_path)
    sample_rate = sample_rate or (SAMPLE_RATE if layout == "msdm" else 44100)
    base = {"midi": source, "track": track_dir.name}
    if track_dir.is_dir():
        try:
            previous = json.loads((track_dir / "meta.json").read_text()).get("source")
        except (OSError, ValueError):
            previous = None
        if previous != source:
            return {**base, "status": "failed", "seconds": 0.0,
                    "reason": f"{track_dir} already holds a render of {previous or 'another file'}; render into a new folder"}
        return {**base, "status": "done", "seconds": 0.0}
    try:
        pm = read_midi(midi_path)
    except ValueError as err:
        return {**base, "status": "failed", "seconds": 0.0, "reason": str(err)}
    if not any(stem_of(i.program, i.is_drum) and i.notes for i in pm.instruments):
        return {**base, "status": "skipped", "seconds": 0.0,
                "reason": f"{midi_path}: no notes of the classes Bass, Drums, Guitar or Piano"}
    sf_path = Path(soundfont_path) if soundfont_path else default_soundfont()
    song = render_midi(pm, read_soundfont(sf_path), sample_rate, programs, seed,
                       keep_instruments=layout == "slakh-raw")
    with atomic_dir(track_dir) as tmp:
        if layout == "msdm":
            write_msdm(tmp, song, fmt)
        else:
            write_slakh_raw(tmp, song, sf_path.name, track_dir.name)
        _write_json(tmp / "meta.json", _track_meta(source, song, sf_path.name, layout))
    return {**base, "status": "written", "seconds": song["seconds"],
            "stems": [s for s, p in zip(STEMS, song["present"]) if p]}


def _worker(job):
    torch.set_num_threads(1)
    midi, track, kwargs = job
    try:
        return render_track(midi, track, **kwargs)
    except (ValueError, OSError, RuntimeError) as err:
        return {"midi": str(kwargs.get("source") or midi), "track": Path(track).name, "status": "failed",
                "seconds": 0.0, "reason": f"{midi}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"}


def render_midi_files(paths, out, soundfont=None, sample_rate: int | None = None, layout: str = "msdm",
                      split: str = "train", fmt: str = "wav", programs: str = "keep", seed: int = 0,
                      jobs: int = 1, progress: bool = True, on_problem=None) -> dict:
    """``msdm render-midi``: every MIDI file of ``paths`` becomes ``out/split/TrackNNNNN`` (numbered in order).

    Checks the SoundFont and the inputs before writing anything; renders in ``jobs`` processes with
    a progress bar; skips finished tracks. ``on_problem(result)`` is called for each skipped or
    failed file as it happens. Returns a summary dict.
    """
    import time

    from tqdm.auto import tqdm

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    sf_path = Path(soundfont) if soundfont else default_soundfont()
    read_soundfont(sf_path)                                  # fail before anything is written
    files = find_midi_files(paths)
    if not files:
        raise ValueError(f"{', '.join(map(str, paths))}: no MIDI files ({'/'.join(MIDI_SUFFIXES)}) found")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    sample_rate = sample_rate or (SAMPLE_RATE if layout == "msdm" else 44100)
    root = out / split
    made = [p for p in (out, root) if not p.exists()]          # removed again if nothing lands in them
    kwargs = dict(soundfont_path=str(sf_path), sample_rate=sample_rate, layout=layout, fmt=fmt, programs=programs)
    jobs_list = [(str(f), str(root / f"Track{i:05d}"), dict(kwargs, seed=seed + i, source=str(f)))
                 for i, f in enumerate(files, start=1)]
    root.mkdir(parents=True, exist_ok=True)
    stale = 0
    for tmp in root.glob(".Track*.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
        stale += 1
    results = []
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs_list), desc="render-midi", unit="file", disable=not progress)

    def done(r):
        results.append(r)
        if r["status"] in ("skipped", "failed") and on_problem:
            on_problem(r)
        bar.update()

    if jobs <= 1:
        for job in jobs_list:
            done(_worker(job))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            for fut in as_completed([pool.submit(_worker, job) for job in jobs_list]):
                done(fut.result())
    bar.close()
    wall = time.perf_counter() - t0
    for p in reversed(made):
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    status = Counter(r["status"] for r in results)
    audio_s = sum(r["seconds"] for r in results)
    return {"out": str(out), "split": split, "layout": layout, "sample_rate": sample_rate, "soundfont": str(sf_path),
            "files": len(files), "written": status["written"], "already_done": status["done"],
            "skipped": sorted([r["midi"], r["reason"]] for r in results if r["status"] == "skipped"),
            "failed": sorted([r["midi"], r["reason"]] for r in results if r["status"] == "failed"),
            "tracks": sorted([r["midi"], r["track"]] for r in results if r["status"] in ("written", "done")),
            "seconds_rendered": round(audio_s, 3), "wall_seconds": round(wall, 3),
            "times_real_time": round(audio_s / wall, 1) if audio_s and wall > 0 else None,
            "stale_temp_folders_removed": stale}


def format_summary(summary: dict) -> str:
    speed = f" | {summary['times_real_time']}x real time" if summary["times_real_time"] else ""
    return (f"files: {summary['files']} | written: {summary['written']} | already done: {summary['already_done']} | "
            f"skipped: {len(summary['skipped'])} | failed: {len(summary['failed'])} | "
            f"{summary['seconds_rendered']:.1f} s of audio in {summary['wall_seconds']:.1f} s{speed}\n"
            f"tracks in {Path(summary['out']) / summary['split']} ({summary['layout']} layout, {summary['sample_rate']} Hz)")


def estimate_f0(x, sample_rate: int = SAMPLE_RATE, fmin: float = 30.0, fmax: float = 1200.0) -> float:
    """The fundamental (Hz) of a held note, by autocorrelation: the shortest lag whose correlation is
    within 90 % of the best one in [1/fmax, 1/fmin] (so a strong second harmonic does not win),
    refined by a parabola through its neighbours. About 1 % accurate on the bundled SoundFont's
    notes; a semitone is 5.9 %."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64).reshape(-1)
    x = x - x.mean()
    n = len(x)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x * np.hanning(n), 2 * n)) ** 2)[:n]
    if ac[0] <= 0:
        raise ValueError("estimate_f0: the signal is silent")
    ac /= ac[0]
    lags = np.arange(max(2, int(sample_rate / fmax)), min(n - 1, int(sample_rate / fmin)))
    lag = int(lags[np.argmax(ac[lags] >= 0.9 * ac[lags].max())])
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    denom = a - 2 * b + c
    return float(sample_rate / (lag + (0.5 * (a - c) / denom if denom != 0 else 0.0)))


# ------------------------------------------------------------------------------- toy songs, sampled
def toy_programs(seed: int) -> dict[str, int]:
    """Per-song GM programs for the toy composer's parts, one drawn within each class."""
    rng = np.random.default_rng([int(seed), 3])
    return {"bass": int(rng.integers(32, 40)), "drums": 0, "guitar": int(rng.integers(24, 32)),
            "piano": int(rng.integers(0, 8))}


def toy_score_midi(song: dict, programs: dict[str, int]):
    """The toy composer's notes as a PrettyMIDI: one instrument per stem."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=float(song["tempo"]))
    for stem in STEMS:
        inst = pretty_midi.Instrument(program=programs[stem], is_drum=stem == "drums", name=stem)
        for t, m, dur, vel in song["notes"][stem]:
            v = int(np.clip(round(float(vel) * 127), 1, 127))
            inst.notes.append(pretty_midi.Note(velocity=v, pitch=int(m), start=float(t), end=float(t + dur)))
        pm.instruments.append(inst)
    return pm


def synthesize_song_soundfont(seed: int, seconds: float = 8.0, sample_rate: int = SAMPLE_RATE,
                              soundfont=None) -> tuple[torch.Tensor, dict]:
    """``toy.synthesize_song``'s song (same score, levels and labels), played by sampled GM instruments.

    The programs (one per class, drawn from the seed: ``toy_programs``) are recorded per stem in
    ``meta["stems"][stem]["timbre"]``; ``meta["renderer"]`` is ``"soundfont"``. ``soundfont``: an
    SF2 path (default: the bundled GM one).
    """
    from . import toy

    _, song, peaks = toy._score(seed, seconds)
    programs = toy_programs(seed)
    pm = toy_score_midi(song, programs)
    sf_path = Path(soundfont) if soundfont is not None else default_soundfont()
    sf_bytes = read_soundfont(sf_path)
    n = int(round(song["seconds"] * sample_rate))
    stems = {}
    for stem, inst in zip(STEMS, pm.instruments):
        if not inst.notes:
            stems[stem] = np.zeros(n, np.float32)
            continue
        audio, rate = synthesize(_single(inst, song["seconds"]), sf_bytes)
        stems[stem] = np.pad(_resampled(audio, rate, sample_rate), (0, n))[:n].astype(np.float32)
    gains = toy._levels(stems, song, peaks)
    audio = np.stack([stems[s] * np.float32(gains[s]) for s in STEMS])
    meta = toy._meta(seed, song, sample_rate, gains, stems)
    meta["renderer"] = "soundfont"
    for s in STEMS:
        meta["stems"][s]["timbre"] = {"soundfont": sf_path.name, "program": programs[s],
                                      "program_name": program_name(programs[s], s == "drums")}
    return torch.from_numpy(audio), meta
