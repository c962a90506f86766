"""Toy multi-stem songs: four instruments that share tempo, key and chords (pure numpy).

MSDM learns the *joint* distribution of the stems of a song. Real stems (Slakh2100) share a
context: they are played to the same beat, in the same key, over the same chords. This module
synthesises songs with that property, small and fast enough for a laptop CPU:

* **shared by all stems** — a tempo, a key (major or minor), a chord progression (one or two
  chords per 4/4 bar) and the bar grid;
* **bass** — chord roots (and fifths/octaves) in a low octave; a band-limited saw or square with a
  low-pass tilt and a plucky filter envelope;
* **drums** — synthesised kick (pitch-swept sine), snare (tone + noise) and hats (high-passed
  noise) on a per-song groove;
* **guitar** — Karplus–Strong plucked strings, strummed chords or arpeggios of the chord tones;
* **piano** — additive partials with inharmonicity ``f_k = k f0 sqrt(1 + B k^2)`` and per-partial
  decay, playing chords plus a simple melody on the scale;
* **per-bar drop-outs** — an instrument sometimes rests for a bar, and rarely for a whole song
  (its file is then missing, as in Slakh).

Everything is deterministic for a given seed: the same seed gives the same samples, bit for bit.
``synthesize_song`` returns the stems and a ``meta`` dict of labels (tempo, key, chords, note
onsets) that later notebooks use to measure coherence.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import STEMS

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Chord progressions as scale degrees (0 = tonic), four chords each.
PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (1, 4, 0, 5), (0, 3, 5, 4)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 5, 3, 4), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0)],
}
GM_DRUMS = {"kick": 36, "snare": 38, "hat": 42, "open_hat": 46}
# Drop-out probabilities: of one bar, and of a whole song (a missing stem file).
BAR_DROPOUT = (0.04, 0.2)
SONG_ABSENT = {"bass": 0.0, "drums": 0.0, "guitar": 0.07, "piano": 0.07}


def midi_to_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


def chord_name(root_pc: int, quality: str) -> str:
    return NOTE_NAMES[root_pc] + {"maj": "", "min": "m", "dim": "dim", "aug": "aug"}[quality]


# --------------------------------------------------------------------------------- the score
def _chord(tonic: int, mode: str, degree: int) -> dict:
    scale = SCALES[mode]
    pcs = [(tonic + scale[(degree + i) % 7]) % 12 for i in (0, 2, 4, 6)]
    third, fifth = (pcs[1] - pcs[0]) % 12, (pcs[2] - pcs[0]) % 12
    quality = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}[(third, fifth)]
    return {"root": pcs[0], "quality": quality, "pcs": pcs[:3], "seventh": pcs[3], "name": chord_name(pcs[0], quality)}


def _voicing(pcs, low: int, high: int, count: int) -> list[int]:
    """The ``count`` lowest chord tones at or above ``low`` (cycling through the pitch classes)."""
    notes = [m for m in range(low, high + 1) if m % 12 in pcs]
    return notes[:count]


def compose(rng: np.random.Generator, seconds: float) -> dict:
    """Draw the shared context of a song: tempo, key, chords, bar grid, drop-outs, parts."""
    tempo = float(rng.integers(88, 141))
    mode = "major" if rng.random() < 0.55 else "minor"
    tonic = int(rng.integers(0, 12))
    progression = PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))]
    beat = 60.0 / tempo
    bar = 4 * beat
    n_bars = int(math.ceil(seconds / bar))
    chords_per_bar = 2 if rng.random() < 0.3 else 1
    chords = []
    for b in range(n_bars):
        for h in range(chords_per_bar):
            i = (b * chords_per_bar + h) % len(progression)
            start = b * bar + h * bar / chords_per_bar
            if start >= seconds:
                break
            c = _chord(tonic, mode, progression[i])
            c.update(start=start, end=min(start + bar / chords_per_bar, seconds), bar=b)
            chords.append(c)
    p_drop = rng.uniform(*BAR_DROPOUT)
    active = rng.random((len(STEMS), n_bars)) >= p_drop
    active[:, 0] = True  # everyone plays the first bar
    present = np.array([rng.random() >= SONG_ABSENT[s] for s in STEMS])
    if not present[2] and not present[3]:
        present[3] = True
    active &= present[:, None]
    for b in range(n_bars):  # at least two instruments in every bar
        while active[:, b].sum() < 2:
            candidates = np.flatnonzero(present & ~active[:, b])
            active[candidates[rng.integers(len(candidates))], b] = True
    return dict(tempo=tempo, beat=beat, bar=bar, n_bars=n_bars, mode=mode, tonic=tonic,
                progression=list(progression), chords=chords, chords_per_bar=chords_per_bar,
                active=active, present=present, seconds=float(seconds))


def _chord_at(song: dict, t: float) -> dict:
    for c in reversed(song["chords"]):
        if c["start"] <= t + 1e-9:
            return c
    return song["chords"][0]


def score_bass(rng, song) -> tuple[list, dict]:
    patterns = [(0, 2, 4, 6), (0, 1, 2, 3, 4, 5, 6, 7), (0, 3, 4, 6), (0, 4), (0, 3, 6), (0, 2, 3, 4, 6)]
    pattern = patterns[rng.integers(len(patterns))]
    legato = rng.uniform(0.45, 0.95)
    eighth = song["beat"] / 2
    notes = []
    for b in range(song["n_bars"]):
        if not song["active"][0, b]:
            continue
        for slot in pattern:
            t = b * song["bar"] + slot * eighth
            if t >= song["seconds"]:
                break
            c = _chord_at(song, t)
            root = 31 + (c["root"] - 31) % 12  # G1..F#2
            r = rng.random()
            pitch = root + (7 if (slot % 4 == 3 and r < 0.5) else 12 if (slot == 7 and r < 0.3) else 0)
            vel = (1.0 if slot % 4 == 0 else 0.8) * rng.uniform(0.85, 1.0)
            notes.append((t, pitch, legato * eighth * (2 if len(pattern) <= 4 else 1), vel))
    timbre = dict(wave="saw" if rng.random() < 0.6 else "square", cutoff=float(rng.uniform(350, 1400)),
                  env=float(rng.uniform(4.0, 14.0)), decay=float(rng.uniform(0.6, 2.5)))
    return notes, timbre


def score_drums(rng, song) -> tuple[list, dict]:
    kicks = [(0, 8), (0, 6, 8), (0, 7, 10), (0, 4, 8, 12), (0, 3, 8, 11)]
    hats = [tuple(range(0, 16, 2)), tuple(range(16)), (2, 6, 10, 14), tuple(range(0, 16, 4))]
    kick, hat = kicks[rng.integers(len(kicks))], hats[rng.integers(len(hats))]
    ghost = rng.random() < 0.4
    sixteenth = song["beat"] / 4
    hits = []
    for b in range(song["n_bars"]):
        if not song["active"][1, b]:
            continue
        t0 = b * song["bar"]
        for s in kick:
            hits.append((t0 + s * sixteenth, GM_DRUMS["kick"], 0.3, rng.uniform(0.9, 1.0)))
        for s in (4, 12):
            hits.append((t0 + s * sixteenth, GM_DRUMS["snare"], 0.25, rng.uniform(0.85, 1.0)))
        if ghost:
            hits.append((t0 + 14 * sixteenth, GM_DRUMS["snare"], 0.1, rng.uniform(0.25, 0.4)))
        for s in hat:
            accent = 1.0 if s % 4 == 0 else 0.7
            name = "open_hat" if (s == 14 and rng.random() < 0.3) else "hat"
            hits.append((t0 + s * sixteenth, GM_DRUMS[name], 0.1, accent * rng.uniform(0.8, 1.0)))
    hits = [h for h in hits if h[0] < song["seconds"]]
    hits.sort()
    timbre = dict(kick_f0=float(rng.uniform(110, 170)), kick_f1=float(rng.uniform(42, 58)),
                  kick_decay=float(rng.uniform(0.12, 0.3)), snare_f=float(rng.uniform(170, 240)),
                  snare_decay=float(rng.uniform(0.08, 0.18)), hat_decay=float(rng.uniform(0.025, 0.06)),
                  snare_mix=float(rng.uniform(0.4, 0.8)))
    return hits, timbre


def score_guitar(rng, song) -> tuple[list, dict]:
    style = "strum" if rng.random() < 0.55 else "arpeggio"
    eighth = song["beat"] / 2
    notes = []
    strums = [(0, 3, 4, 6), (0, 2, 4, 6), (0, 4), (0, 3, 6), (0, 2, 3, 5, 6)]
    strum = strums[rng.integers(len(strums))]
    arp_step = 1 if rng.random() < 0.7 else 0.5  # eighths or sixteenths
    order = [(0, 1, 2, 3), (0, 2, 1, 3), (0, 1, 2, 1), (3, 2, 1, 0)][rng.integers(4)]
    for b in range(song["n_bars"]):
        if not song["active"][2, b]:
            continue
        t0 = b * song["bar"]
        if style == "strum":
            for slot in strum:
                t = t0 + slot * eighth
                if t >= song["seconds"]:
                    break
                c = _chord_at(song, t)
                voicing = _voicing(c["pcs"], 52, 71, 5)
                down = slot % 2 == 0
                gap = rng.uniform(0.008, 0.02)
                vel = (1.0 if slot % 4 == 0 else 0.75) * rng.uniform(0.85, 1.0)
                dur = eighth * (2 if slot in (0, 4) else 1) * 0.95
                strings = voicing if down else voicing[::-1]
                for i, m in enumerate(strings):
                    notes.append((t + i * gap, m, dur, vel * (0.9 if not down else 1.0)))
        else:
            n = int(round(8 / arp_step))
            for j in range(n):
                t = t0 + j * arp_step * eighth
                if t >= song["seconds"]:
                    break
                c = _chord_at(song, t)
                voicing = _voicing(c["pcs"], 52, 74, 4)
                m = voicing[order[j % 4] % len(voicing)]
                vel = (1.0 if j % 4 == 0 else 0.8) * rng.uniform(0.85, 1.0)
                notes.append((t, m, arp_step * eighth * 1.6, vel))
    timbre = dict(style=style, t60=float(rng.uniform(0.8, 2.2)), brightness=float(rng.uniform(0.3, 0.9)))
    return notes, timbre


def score_piano(rng, song) -> tuple[list, list, dict]:
    """Chords (left part) and a melody (right part)."""
    beat = song["beat"]
    comps = [(0.0,), (0.0, 2.0), (0.0, 1.5, 3.0), (0.0, 1.0, 2.0, 3.0), (0.5, 1.5, 2.5, 3.5)]
    comp = comps[rng.integers(len(comps))]
    use7 = rng.random() < 0.4
    chords, melody = [], []
    scale = [(song["tonic"] + d) % 12 for d in SCALES[song["mode"]]]
    mel_range = [m for m in range(67, 86) if m % 12 in scale]
    idx = int(rng.integers(len(mel_range) // 3, 2 * len(mel_range) // 3))
    density = rng.uniform(0.35, 0.8)
    step = 0.5 if rng.random() < 0.5 else 1.0
    for b in range(song["n_bars"]):
        if not song["active"][3, b]:
            continue
        t0 = b * song["bar"]
        for k, beat_pos in enumerate(comp):
            t = t0 + beat_pos * beat
            if t >= song["seconds"]:
                break
            c = _chord_at(song, t)
            pcs = c["pcs"] + ([c["seventh"]] if use7 else [])
            nxt = comp[k + 1] if k + 1 < len(comp) else 4.0
            dur = (nxt - beat_pos) * beat * 0.95
            vel = rng.uniform(0.7, 0.9)
            for m in _voicing(pcs, 53, 72, len(pcs)):
                chords.append((t, m, dur, vel))
        pos = 0.0
        while pos < 4.0:
            t = t0 + pos * beat
            if t >= song["seconds"]:
                break
            if rng.random() < density:
                c = _chord_at(song, t)
                if pos % 2 == 0:  # strong beat: move to the nearest chord tone
                    cands = [i for i, m in enumerate(mel_range) if m % 12 in c["pcs"]]
                    idx = min(cands, key=lambda i: abs(i - idx))
                else:
                    idx = int(np.clip(idx + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(mel_range) - 1))
                length = step * (2 if rng.random() < 0.25 else 1)
                melody.append((t, mel_range[idx], length * beat * 0.9, rng.uniform(0.8, 1.0)))
                pos += length
            else:
                pos += step
    timbre = dict(inharmonicity=float(rng.uniform(1e-4, 5e-4)), t60=float(rng.uniform(1.2, 3.0)),
                  tilt=float(rng.uniform(0.9, 1.6)), use7=bool(use7))
    return chords, melody, timbre


# --------------------------------------------------------------------------------- the sounds
def _attack_release(n: int, sr: int, note_len: int, attack: float = 0.004, release: float = 0.03) -> np.ndarray:
    """Gain curve of length n: linear attack, hold, linear release starting at ``note_len``."""
    env = np.ones(n, dtype=np.float32)
    a = min(n, max(1, int(attack * sr)))
    env[:a] = np.linspace(0.0, 1.0, a, endpoint=False, dtype=np.float32)
    r = max(1, int(release * sr))
    if note_len < n:
        end = min(n, note_len + r)
        env[note_len:end] *= np.linspace(1.0, 0.0, end - note_len, dtype=np.float32)
        env[end:] = 0.0
    return env


def _bass_tone(midi: int, n: int, sr: int, timbre: dict) -> np.ndarray:
    f0 = float(midi_to_hz(midi))
    kmax = int(min(32, (0.45 * sr) // f0))
    k = np.arange(1, kmax + 1, dtype=np.float32)
    if timbre["wave"] == "square":
        k = k[::2]
    amp = (1.0 / k) / np.sqrt(1.0 + (k * f0 / timbre["cutoff"]) ** 4)
    t = np.arange(n, dtype=np.float32) / sr
    rate = timbre["decay"] + timbre["env"] * (k - 1) / kmax  # higher partials close faster
    parts = np.sin((2 * np.pi * f0) * k[:, None] * t[None, :]) * np.exp(-rate[:, None] * t[None, :])
    return (amp @ parts).astype(np.float32)


def _karplus_strong(midi: int, n: int, sr: int, timbre: dict, seed: int) -> np.ndarray:
    """Karplus–Strong pluck: y[i] = rho * (y[i-P] + y[i-P-1]) / 2, computed one period at a time.

    The string runs at its own rate f0 * (P + 1/2) so that the integer delay P tunes it
    exactly, and is then interpolated to ``sr``.
    """
    f0 = float(midi_to_hz(midi))
    period = max(8, int(round(sr / f0 - 0.5)))
    rate = f0 * (period + 0.5)
    m = int(math.ceil(n * rate / sr)) + 2
    blocks = m // period + 2
    rho = 10.0 ** (-3.0 / (timbre["t60"] * f0))
    buf = np.zeros(blocks * period + 1, dtype=np.float32)
    burst = np.random.default_rng([seed, 1000 + midi]).uniform(-1.0, 1.0, period).astype(np.float32)
    b = timbre["brightness"]  # one-pole smoothing of the burst: a softer pick
    burst = b * burst + (1 - b) * np.concatenate([[0.0], burst[:-1]]).astype(np.float32)
    buf[1 : period + 1] = burst - burst.mean()
    h = np.float32(0.5 * rho)
    for j in range(1, blocks):
        prev = buf[(j - 1) * period : j * period + 1]
        buf[j * period + 1 : (j + 1) * period + 1] = h * (prev[1:] + prev[:-1])
    y = buf[1 : m + 1]
    pos = np.arange(n, dtype=np.float64) * (rate / sr)
    return np.interp(pos, np.arange(m), y).astype(np.float32)


def _piano_tone(midi: int, n: int, sr: int, timbre: dict) -> np.ndarray:
    f0 = float(midi_to_hz(midi))
    k = np.arange(1, 13, dtype=np.float32)
    fk = f0 * k * np.sqrt(1.0 + timbre["inharmonicity"] * k**2)
    keep = fk < min(0.45 * sr, 9000.0)
    k, fk = k[keep], fk[keep]
    amp = 1.0 / k ** timbre["tilt"]
    t = np.arange(n, dtype=np.float32) / sr
    d = 6.9 / timbre["t60"] * (f0 / 261.6) ** 0.3  # higher notes decay faster
    rate = d * (1.0 + 0.5 * (k - 1))
    parts = np.sin((2 * np.pi) * fk[:, None] * t[None, :]) * np.exp(-rate[:, None] * t[None, :])
    return (amp @ parts).astype(np.float32)


def _drum_kit(sr: int, timbre: dict, rng: np.random.Generator) -> dict[int, np.ndarray]:
    def t_of(sec):
        return np.arange(int(sec * sr), dtype=np.float32) / sr

    t = t_of(0.6)
    f0, f1 = timbre["kick_f0"], timbre["kick_f1"]
    sweep = f1 + (f0 - f1) * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(sweep) / sr
    kick = np.sin(phase) * np.exp(-t / timbre["kick_decay"] * 2.3)
    click = rng.uniform(-1, 1, t.size).astype(np.float32) * np.exp(-t / 0.003) * 0.3
    kick = kick + click

    t = t_of(0.4)
    noise = rng.uniform(-1, 1, t.size).astype(np.float32)
    noise = noise - 0.6 * np.concatenate([[0.0], noise[:-1]]).astype(np.float32)
    tone = np.sin(2 * np.pi * timbre["snare_f"] * t) * np.exp(-t / 0.05)
    snare = timbre["snare_mix"] * noise * np.exp(-t / timbre["snare_decay"] * 2.3) + (1 - timbre["snare_mix"]) * tone

    def hat(decay):
        tt = t_of(max(0.3, 8 * decay))
        x = rng.uniform(-1, 1, tt.size + 2).astype(np.float32)
        x = x[2:] - 2 * x[1:-1] + x[:-2]  # second difference: a high-pass
        return 0.35 * x * np.exp(-tt / decay * 2.3)

    kit = {GM_DRUMS["kick"]: kick, GM_DRUMS["snare"]: snare, GM_DRUMS["hat"]: hat(timbre["hat_decay"]),
           GM_DRUMS["open_hat"]: hat(timbre["hat_decay"] * 5)}
    return {key: (v / np.abs(v).max()).astype(np.float32) for key, v in kit.items()}


def _render_notes(notes, n_total: int, sr: int, tone, tail: float, release: float) -> np.ndarray:
    """Sum ``vel * tone(pitch)`` at each onset; one cached waveform per pitch."""
    out = np.zeros(n_total, dtype=np.float32)
    if not notes:
        return out
    longest: dict[int, int] = {}
    for t, m, dur, vel in notes:
        longest[m] = max(longest.get(m, 0), int((dur + tail) * sr))
    cache = {m: tone(m, n) for m, n in sorted(longest.items())}
    for t, m, dur, vel in notes:
        start = int(round(t * sr))
        if start >= n_total:
            continue
        wave = cache[m]
        n = min(len(wave), int((dur + release) * sr) + 1, n_total - start)
        env = _attack_release(n, sr, int(dur * sr), release=release)
        out[start : start + n] += vel * wave[:n] * env
    return out


def _render_drums(hits, n_total: int, kit: dict) -> np.ndarray:
    out = np.zeros(n_total, dtype=np.float32)
    for start, key, vel in hits:
        if start >= n_total:
            continue
        wave = kit[key]
        n = min(len(wave), n_total - start)
        out[start : start + n] += vel * wave[:n]
    return out


def render_parts(song: dict, parts: dict, sr: int) -> dict[str, np.ndarray]:
    """Render a dict ``part name -> (stem, notes)`` into waveforms (unscaled).

    Rendering is linear in the notes and its noise is seeded per song and pitch, so splitting
    a stem's notes over several parts and summing the parts gives the stem back.
    """
    seed = song["seed"]
    n_total = int(round(song["seconds"] * sr))
    timbres = song["timbres"]
    tones = {
        "bass": (lambda m, n: _bass_tone(m, n, sr, timbres["bass"]), 0.05, 0.02),
        "guitar": (lambda m, n: _karplus_strong(m, n, sr, timbres["guitar"], seed), 0.25, 0.06),
        "piano": (lambda m, n: _piano_tone(m, n, sr, timbres["piano"]), 0.3, 0.12),
    }
    kit = _drum_kit(sr, timbres["drums"], np.random.default_rng([seed, 2]))
    out = {}
    for name, (stem, notes) in parts.items():
        if stem == "drums":
            hits = [(int(round(t * sr)), m, v) for t, m, _, v in notes]
            out[name] = _render_drums(hits, n_total, kit)
        elif stem in tones:
            tone, tail, release = tones[stem]
            out[name] = _render_notes(notes, n_total, sr, tone, tail, release)
        else:  # pad: sustained chord tones (only in the raw Slakh layout, an extra class)
            out[name] = _render_notes(notes, n_total, sr, lambda m, n: _pad_tone(m, n, sr), 0.3, 0.3)
    return out


def _pad_tone(midi: int, n: int, sr: int) -> np.ndarray:
    f0 = float(midi_to_hz(midi))
    t = np.arange(n, dtype=np.float32) / sr
    y = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 2.003 * f0 * t)
    return (y * np.minimum(1.0, t / 0.25)).astype(np.float32)


# --------------------------------------------------------------------------------- songs
def _score(seed: int, seconds: float):
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    rng = np.random.default_rng(seed)
    song = compose(rng, seconds)
    song["seed"] = int(seed)
    bass, tb = score_bass(rng, song)
    drums, td = score_drums(rng, song)
    guitar, tg = score_guitar(rng, song)
    chords, melody, tp = score_piano(rng, song)
    song["timbres"] = {"bass": tb, "drums": td, "guitar": tg, "piano": tp}
    song["notes"] = {"bass": bass, "drums": drums, "guitar": guitar, "piano": chords + melody}
    song["piano_parts"] = (chords, melody)
    peaks = rng.uniform(0.4, 0.6, len(STEMS))
    return rng, song, peaks


def _levels(stems: dict[str, np.ndarray], song: dict, peaks) -> dict[str, float]:
    """Gains that bring each stem to its drawn peak, then keep the mixture within ±0.98."""
    gains = {}
    for s, p in zip(STEMS, peaks):
        m = float(np.abs(stems[s]).max())
        gains[s] = float(p / m) if m > 0 and song["present"][STEMS.index(s)] else 0.0
    mix = sum(gains[s] * stems[s] for s in STEMS)
    mpeak = float(np.abs(mix).max())
    if mpeak > 0.98:
        gains = {s: g * 0.98 / mpeak for s, g in gains.items()}
    return gains


def _meta(seed, song, sr, gains, stems) -> dict:
    r = lambda x: round(float(x), 4)  # noqa: E731
    return {
        "seed": int(seed),
        "sample_rate": int(sr),
        "seconds": r(song["seconds"]),
        "samples": int(round(song["seconds"] * sr)),
        "tempo_bpm": r(song["tempo"]),
        "beats_per_bar": 4,
        "key": f"{NOTE_NAMES[song['tonic']]} {song['mode']}",
        "tonic": int(song["tonic"]),
        "mode": song["mode"],
        "bar_starts": [r(b * song["bar"]) for b in range(song["n_bars"])],
        "chords": [{"start": r(c["start"]), "end": r(c["end"]), "name": c["name"], "root": c["root"],
                    "quality": c["quality"], "pitch_classes": c["pcs"]} for c in song["chords"]],
        "stems": {
            s: {
                "present": bool(song["present"][i]),
                "active_bars": [int(a) for a in song["active"][i]],
                "peak": r(np.abs(stems[s]).max() * gains[s]),
                "timbre": {k: (r(v) if isinstance(v, float) else v) for k, v in song["timbres"][s].items()},
                "notes": [[r(t), int(m), r(d), r(v)] for t, m, d, v in song["notes"][s]],
            }
            for i, s in enumerate(STEMS)
        },
        "notes_format": ["onset_s", "midi_pitch (drums: GM key)", "duration_s", "velocity"],
    }


def synthesize_song(seed: int, seconds: float = 8.0, sample_rate: int = 22050) -> tuple[torch.Tensor, dict]:
    """One toy song: ``(stems (K, T) float32 tensor in STEMS order, meta dict)``.

    The stems share tempo, key and chords; each has a peak of about 0.3–0.6 (a stem absent from
    the song is all zeros) and their sum stays within [−1, 1]. ``meta`` holds the labels: tempo,
    key, chords with start/end times, bar starts, and per stem its notes
    ``[onset_s, pitch, duration_s, velocity]`` and which bars it plays.
    """
    rng, song, peaks = _score(seed, seconds)
    stems = render_parts(song, {s: (s, song["notes"][s]) for s in STEMS}, sample_rate)
    gains = _levels(stems, song, peaks)
    audio = np.stack([stems[s] * np.float32(gains[s]) for s in STEMS])
    return torch.from_numpy(audio), _meta(seed, song, sample_rate, gains, stems)


# Raw Slakh layout: the same song, with some classes split over several MIDI instruments and an
# extra class that preparation must leave out.
PROGRAMS = {
    "bass": ("Bass", 33, "Electric Bass (finger)"),
    "drums": ("Drums", 0, "Standard Kit"),
    "guitar": ("Guitar", 25, "Acoustic Guitar (steel)"),
    "guitar2": ("Guitar", 27, "Electric Guitar (clean)"),
    "piano": ("Piano", 0, "Acoustic Grand Piano"),
    "piano2": ("Piano", 4, "Electric Piano 1"),
    "pad": ("Synth Pad", 89, "Pad 2 (warm)"),
}


def synthesize_raw_track(seed: int, seconds: float = 8.0, sample_rate: int = 44100):
    """A toy song split the way the official Slakh2100 release stores it.

    Returns ``(parts, meta)`` where ``parts`` is a list of dicts with ``inst_class``,
    ``program_num``, ``is_drum``, ``midi_program_name`` and ``audio`` (1-D float32, or ``None``
    when the instrument was not rendered), in stem order S00, S01, … The piano is split into a
    chords and a melody instrument; the guitar sometimes into two; a pad (class "Synth Pad")
    is not one of the four stems. ``meta`` is the song's labels, as from ``synthesize_song``;
    its per-class sums equal ``meta["raw_gain"]`` times the stems ``synthesize_song`` gives for
    the same seed and rate (the gain, ≤ 1, keeps the mixture with the pad within ±0.98).
    """
    rng, song, peaks = _score(seed, seconds)
    split_rng = np.random.default_rng([seed, 1])
    parts = {s: (s, song["notes"][s]) for s in ("bass", "drums")}
    guitar = song["notes"]["guitar"]
    if split_rng.random() < 0.5:
        bar = song["bar"]
        parts["guitar"] = ("guitar", [n for n in guitar if int(n[0] // bar) % 2 == 0])
        parts["guitar2"] = ("guitar", [n for n in guitar if int(n[0] // bar) % 2 == 1])
    else:
        parts["guitar"] = ("guitar", guitar)
    parts["piano"] = ("piano", song["piano_parts"][0])
    parts["piano2"] = ("piano", song["piano_parts"][1])
    pad = [(c["start"], m, c["end"] - c["start"], 0.5) for c in song["chords"] for m in _voicing(c["pcs"], 48, 67, 3)]
    parts["pad"] = ("pad", pad)
    audio = render_parts(song, parts, sample_rate)
    # Levels: the same per-class gains as the MSDM-layout song (class sum, then mixture headroom).
    class_sum = {s: sum(audio[p] for p, (stem, _) in parts.items() if stem == s) for s in STEMS}
    gains = _levels(class_sum, song, peaks)
    gains["pad"] = 0.25 / max(float(np.abs(audio["pad"]).max()), 1e-9)
    out = []
    for name, (stem, notes) in parts.items():
        g = gains[stem]
        inst_class, program, program_name = PROGRAMS[name]
        rendered = bool(notes) and g > 0
        out.append(dict(inst_class=inst_class, program_num=program, is_drum=stem == "drums",
                        midi_program_name=program_name,
                        audio=(audio[name] * np.float32(g)) if rendered else None))
    mix = sum(p["audio"] for p in out if p["audio"] is not None)
    head = float(np.abs(mix).max())
    raw_gain = 0.98 / head if head > 0.98 else 1.0  # the pad can push the mixture over
    for p in out:
        if p["audio"] is not None and raw_gain != 1.0:
            p["audio"] = p["audio"] * np.float32(raw_gain)
    meta = _meta(seed, song, sample_rate, {s: g * raw_gain for s, g in gains.items()}, class_sum)
    meta["raw_gain"] = round(raw_gain, 6)
    return out, meta
