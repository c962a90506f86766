# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · The data: stems that share a song
#
# **At the end of this notebook you can** synthesise toy multi-stem songs, turn the official
# Slakh2100 release into the layout MSDM trains on, cut tracks into training and evaluation
# chunks, and explain why the stems of one song must be kept *together*.
#
# At the end you also know how Slakh2100 itself was made, from MIDI files and a General MIDI
# sound bank, and can render your own MIDI files into stems the same way (`msdm render-midi`).
#
# *Prerequisites:* notebooks 00–03 (diffusion basics). 
# *Run time:* 9 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`); a GPU changes nothing here.

# %%
# Set-up: works locally and on Colab. On Colab it clones the course and installs it,
# keeping Colab's own torch; everywhere it picks the GPU when there is one.
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run("test -d /content/msdm-tutorial || git clone --depth 1 https://github.com/msdm-tutorial/msdm-tutorial /content/msdm-tutorial", shell=True, check=True)
    sys.path.insert(0, "/content/msdm-tutorial")

from msdm_tutorial import course

device, gen = course.start()  # on Colab: pip install -e the clone (torch pinned), cd notebooks/, widgets on

# %% [markdown]
# ## 1. The idea: one model for the joint distribution of the stems
#
# A song is a sum of $K$ sources, the *stems*: $y = \sum_{k=1}^{K} x_k$. MSDM (Mariani et al.,
# ICLR 2024) learns the **joint** density $p(x_1, \dots, x_K)$ with one diffusion model whose
# denoiser $D(x; \sigma)$ sees all $K$ stems at once, as the channels of a $(K, T)$ tensor. The
# joint density is only worth learning if the stems *depend on each other*: a bass line follows
# the chords of the piano, the drums set the beat for everyone. In real music they do, and
# Slakh2100 (Manilow et al., 2019), rendered from MIDI, gives the paper four such stems —
# **bass, drums, guitar, piano** — at 22050 Hz.
#
# Slakh is 100+ GB, so this course also ships *toy songs* with the same property: every stem of
# a song shares its tempo, key and chord progression (`msdm_tutorial.data.synthesize_song`).

# %%
import json
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchaudio
import yaml
from IPython.display import display

from msdm_tutorial import STEMS, cli, plotting
from msdm_tutorial.data import EvalChunks, TrainChunks, list_tracks, load_track, read_audio, synthesize_song
from msdm_tutorial.data import analysis as A
from msdm_tutorial.data.slakh import format_summary, prepare_slakh

SR = 22050
DATA = course.data_small()
x, meta = synthesize_song(seed=10, seconds=6.0, sample_rate=SR)
print(f"stems {tuple(x.shape)} | key {meta['key']} | tempo {meta['tempo_bpm']:.0f} BPM")
print("chords:", " ".join(c["name"] for c in meta["chords"]))

# %% [markdown]
# ## 2. Listen: each stem, then the mixture
# The players are not normalised, so you hear the real levels (each stem peaks at about 0.3–0.6).

# %%
plotting.players({**dict(zip(STEMS, x)), "mix": x.sum(0)}, SR, normalize=None, columns=5)

# %% [markdown]
# ## 3. See it: a spectrogram per stem
# Magnitude spectrograms (`plotting.spectrogram_db`: 1024-point Hann STFT), in dB relative to full
# scale: a full-scale sine would show 0 dB. The bass lives below ~300 Hz, the hats of the drums
# above 5 kHz, guitar and piano share the middle — which is what makes separating them hard. The
# dashed lines are the bar starts from `meta["bar_starts"]`.

# %%
def spectrogram_row(signals: dict, bars=(), max_khz: float = 11.025, title: str | None = None):
    """One spectrogram (dB re full scale, `plotting.spectrogram`) per signal, side by side, one colour bar."""
    fig, axes = plt.subplots(1, len(signals), figsize=(3.5 * len(signals), 3.2), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, (name, a) in zip(axes[0], signals.items()):
        im = plotting.spectrogram(ax, a, SR, max_freq=max_khz * 1000, colorbar=False)
        for b in bars:
            ax.axvline(b, color="w", ls="--", lw=0.7)
        ax.set_title(name, color=plotting.STEM_COLORS.get(name.split()[0], "#333"))
    for ax in axes[0, 1:]:
        ax.set_ylabel("")
    fig.colorbar(im, ax=axes[0].tolist(), label=plotting.DB_LABEL, pad=0.01)
    if title:
        fig.suptitle(title)
    return fig


spectrogram_row(dict(zip(STEMS, x)), bars=meta["bar_starts"])
plt.show()

# %% [markdown]
# ## 4. Check it: the stems share tempo and key
# The labels in `meta` say so by construction. The audio should say so too:
# * **tempo** — the onsets found in each stem's audio fall on the sixteenth-note grid of the
#   song's tempo (and not on the grid of a 13 % faster tempo);
# * **key** — most of each tonal stem's pitch-class energy (its *chroma*) lies on the seven
#   notes of the song's key.

# %%
tempo = meta["tempo_bpm"]
print(f"{'stem':>7} | on the grid | on a wrong grid | in the key's scale")
for k, stem in enumerate(STEMS):
    if not meta["stems"][stem]["present"]:
        print(f"{stem:>7} | absent from this song")
        continue
    on = A.onset_times(x[k], SR)
    right, wrong = A.grid_alignment(on, tempo), A.grid_alignment(on, tempo * 1.13)
    scale = "—" if stem == "drums" else f"{A.in_scale_fraction(A.chroma(x[k], SR), meta['tonic'], meta['mode']):.2f}"
    print(f"{stem:>7} | {right:11.2f} | {wrong:14.2f} | {scale}")
    assert right >= 0.85, f"{stem}: only {right:.0%} of its onsets are on the song's grid"
    if stem != "drums":
        assert A.in_scale_fraction(A.chroma(x[k], SR), meta["tonic"], meta["mode"]) > 0.6, stem
print("drum tempo estimated from audio:", round(A.estimate_tempo(x[1], SR)), "BPM; label:", tempo)
assert abs(x.sum(0)).max() <= 1.0, "the mixture must stay within [-1, 1]"

# %% [markdown]
# ## 5. Two layouts on disk
# **MSDM layout** — what training reads: one mono 22050 Hz file per stem, a missing file is a
# silent stem. `msdm make-toy-data OUT` writes it (plus a `meta.json` of labels per track):
#
# ```
# OUT/{train,validation,test}/TrackNNNNN/{bass,drums,guitar,piano}.wav
# ```
#
# **Official Slakh2100 layout** (`slakh2100_flac_redux`) — one FLAC per MIDI instrument at
# 44100 Hz, a `metadata.yaml` naming each instrument's class, and the mixture:
#
# ```
# RAW/{train,validation,test,omitted}/TrackNNNNN/metadata.yaml, stems/S00.flac …, mix.flac
# ```
# `data_small/` ships 34 toy songs in the first layout (`data_small/toy`) and two toy tracks in
# the second (`data_small/slakh_raw`), made by the commands in `data_small/RECIPE`.

# %%
print((DATA / "RECIPE").read_text().split("\n#\n")[-1])
print("data_small/toy:", {split: len(list_tracks(DATA / "toy", split)) for split in ("train", "validation", "test")})
tmp = Path(tempfile.mkdtemp())
cli.main(["make-toy-data", str(tmp / "toy"), "--songs", "2", "--validation-songs", "1", "--test-songs", "1",
          "--seconds", "2", "--seed", "1", "--quiet"])
for p in sorted((tmp / "toy").rglob("*"))[:9]:
    print("  " * (len(p.relative_to(tmp).parts) - 1) + p.name)

# %%
raw_track = sorted((DATA / "slakh_raw" / "train").glob("Track*"))[0]
raw_meta = yaml.safe_load((raw_track / "metadata.yaml").read_text())
for sid, info in raw_meta["stems"].items():
    print(f"{sid}: {info['inst_class']:<10} program {info['program_num']:>3} ({info['midi_program_name']}), "
          f"rendered: {info['audio_rendered']}")

# %% [markdown]
# ### Preparation: raw layout → MSDM layout
# `msdm prepare-slakh RAW OUT` (`msdm_tutorial.data.slakh.prepare_slakh`) keeps the rendered
# instruments of the classes Bass, Drums, Guitar and Piano, **sums the instruments of each
# class**, downmixes, resamples to 22050 Hz with torchaudio and writes each track atomically
# (a hidden temporary folder renamed into place), so a re-run skips finished tracks. The extra
# "Synth Pad" above is left out. Let's run it on the two raw tracks of `data_small`.

# %%
summary = prepare_slakh(DATA / "slakh_raw", tmp / "prepared", progress=False)
print(format_summary(summary))
again = prepare_slakh(DATA / "slakh_raw", tmp / "prepared", progress=False)
assert again["written"] == 0 and again["already_done"] == 2, "a re-run must not redo finished tracks"

# %% [markdown]
# Check the class sums: add up the raw FLACs of each class by hand, resample, and compare.

# %%
import soundfile as sf  # noqa: E402

prepared = load_track(tmp / "prepared" / "train" / raw_track.name)
for k, stem in enumerate(STEMS):
    files = [raw_track / "stems" / f"{sid}.flac" for sid, i in raw_meta["stems"].items()
             if i["inst_class"].lower() == stem and i["audio_rendered"]]
    if not files:
        assert prepared[k].abs().max() == 0, f"{stem}: no instrument of this class, so silent"
        print(f"{stem:>7}: no instrument of this class -> silent")
        continue
    by_hand = sum(torch.from_numpy(sf.read(str(f), dtype="float32")[0]) for f in files)
    ref = torchaudio.functional.resample(by_hand, 44100, SR)
    err = (prepared[k] - ref).abs().max().item()
    print(f"{stem:>7}: {len(files)} instrument(s), max |prepared - hand sum| = {err:.1e}")
    assert err < 1e-4, f"{stem}: the prepared stem is not the class sum"

# %% [markdown]
# ### The real Slakh2100 (guarded)
# The cell below runs only when `SLAKH_RAW` points at the unpacked `slakh2100_flac_redux`
# (about 100 GB of FLAC). Otherwise it prints what it would run.

# %%
import os  # noqa: E402

slakh_raw = os.environ.get("SLAKH_RAW")
if slakh_raw and Path(slakh_raw).is_dir():
    out = os.environ.get("SLAKH_OUT", "slakh2100_msdm")
    print(format_summary(prepare_slakh(slakh_raw, out, workers=max(1, (os.cpu_count() or 2) - 1))))
else:
    print("No SLAKH_RAW set. On a machine with the release, run (resumable; hours on 8 cores, depending on\n"
          "the disk; ~70 GB of 16-bit WAV out for the 1710 tracks of train/validation/test):\n"
          "  msdm prepare-slakh /data/slakh2100_flac_redux /data/slakh2100_msdm --workers 8\n"
          "The MSDM authors' 22050 Hz archives are already in this layout and load as they are.")

# %% [markdown]
# ## 6. Chunks for training and for evaluation
# **Training** (`TrainChunks`): each epoch visits every track's grid of `chunk_length` slots
# in a shuffled order, moves each chunk by a random shift of up to half a chunk (*shift
# augmentation*), and reads only those frames from disk. Items are numbered across epochs (item
# `len(train) + i` is item `i` of epoch 1) and item `i` of epoch `e` depends only on `(seed, e, i)`,
# so an interrupted training run resumes with exactly the same data.
# The tiny models use 32768 samples (~1.5 s); the paper 262144 (~11.9 s).

# %%
train = TrainChunks(DATA / "toy", "train", chunk_length=32768, seed=0)
batch = torch.stack([train[i] for i in range(8)])
print(f"{len(train.tracks)} tracks -> {len(train)} chunks per epoch; a batch: {tuple(batch.shape)}")
print("first chunks (track, start sample):", [train.position(i) for i in range(4)])
print("epoch 1 reorders them:             ", [train.position(i, epoch=1) for i in range(4)])
assert batch.shape == (8, 4, 32768)

# %% [markdown]
# **Evaluation** (`EvalChunks`), as in the paper's code: non-overlapping chunks; a stem is
# *silent* on a chunk when $\lVert s \rVert_2 / n < 1.5\cdot10^{-5}$. Silent stems matter because
# SI-SDR is undefined for a silent reference, so evaluation can drop chunks with too few active
# stems (`min_active=2` is the paper's "multi-source" filter). Here are the silence statistics
# of the toy test split in 32768-sample chunks.

# %%
ev = EvalChunks(DATA / "toy", "test", chunk_length=32768)
multi = EvalChunks(DATA / "toy", "test", chunk_length=32768, min_active=2)
print(f"{len(ev)} chunks, {len(multi)} with at least two active stems")
print("fraction of chunks where each stem is silent:", {s: round(v, 2) for s, v in ev.silence_stats().items()})
levels = np.array([[torch.linalg.vector_norm(ev[i][k]).item() / 32768 for k in range(4)] for i in range(len(ev))])
fig, ax = plt.subplots(figsize=(7, 3))
bins = np.linspace(-9, -2, 36)  # a silent (all-zero) stem is drawn in the first bin
for k, stem in enumerate(STEMS):
    ax.hist(np.clip(np.log10(levels[:, k] + 1e-12), -9, -2), bins=bins, alpha=0.6, label=stem,
            color=plotting.STEM_COLORS[stem])
ax.axvline(np.log10(1.5e-5), color="k", ls="--", label="silence threshold")
ax.set(xlabel="log10(‖s‖₂ / n)", ylabel="chunks", title="stem level per evaluation chunk")
ax.legend()
plt.show()
assert len(multi) <= len(ev)

# %% [markdown]
# ## 7. Why coherence matters for MSDM
# Take the bass of one song and the piano of another: each is a fine stem alone, but together they
# disagree on key and beat. A model of the *product* of the marginals $\prod_k p(x_k)$ would find
# that pair as likely as the real one; the joint $p(x_1,\dots,x_K)$ that MSDM learns does not —
# and that is exactly what lets it *impute* a missing stem that fits the others, and *separate* a
# mixture into stems that belong together. Measure it: the chroma of the bass and of the piano
# correlate within a song, much less across songs.

# %%
n_songs = course.size(12, 6)
songs = [synthesize_song(seed, 6.0, SR) for seed in range(100, 100 + n_songs)]
songs = [(s, m) for s, m in songs if m["stems"]["piano"]["present"]]
chroma = [(A.chroma(s[0], SR), A.chroma(s[3], SR)) for s, _ in songs]
same = [np.corrcoef(b, p)[0, 1] for b, p in chroma]
other = [np.corrcoef(chroma[i][0], chroma[(i + 1) % len(chroma)][1])[0, 1] for i in range(len(chroma))]
print(f"bass-piano chroma correlation: same song {np.mean(same):.2f}, different songs {np.mean(other):.2f}")
assert np.mean(same) > np.mean(other) + 0.2, "stems of one song should agree on pitch content"
(a, ma), (b, mb) = songs[0], songs[1]
n = min(a.shape[-1], b.shape[-1])
print(f"an incoherent mix: bass and drums of a {ma['key']} song at {ma['tempo_bpm']:.0f} BPM, "
      f"guitar and piano of a {mb['key']} song at {mb['tempo_bpm']:.0f} BPM")
display(plotting.play(0.5 * (a[0, :n] + a[1, :n] + b[2, :n] + b[3, :n]), SR, normalize=False))

# %% [markdown]
# ## 8. How Slakh is made — and rendering your own MIDI files
# Nobody played Slakh2100 (Manilow et al., 2019). It is **rendered MIDI**: 2100 multi-track songs of
# the Lakh MIDI dataset (Raffel, 2016), and for each song, each MIDI instrument was
#
# 1. **classed by its General MIDI program** (0–127) and drum flag: Piano for programs 0–7, Guitar
#    24–31, Bass 32–39, Drums for drum tracks — and Organ, Strings, Synth Pad, … for the rest;
# 2. **rendered on its own** by a sample-based virtual instrument of its class (recordings of real
#    instruments, note by note, from professional sample libraries), into its own file `stems/SNN.flac`;
# 3. summed with all the others into `mix.flac`.
#
# MSDM keeps the four classes; every other instrument is heard in the mixture only, so Slakh's four
# stems do **not** sum to its mixture. `msdm prepare-slakh` (section 5) sums each class's files.
#
# You can run the same recipe on your own MIDI files: `msdm render-midi MIDI… OUT`
# (`msdm_tutorial.data.midi`) classes the instruments exactly as above and renders each one alone
# with `midirenderer` and the General MIDI SoundFont `TimGM6mb.sf2` that ships inside `pretty_midi`
# — 6 MB of samples (GPL-2) instead of Slakh's gigabytes of sample libraries, so it sounds cheaper,
# but it is the same pipeline. Let's write a four-bar song with `pretty_midi`: a bass line, piano
# chords, drums, and a string part that belongs to none of the four classes.

# %%
import pretty_midi  # noqa: E402

from msdm_tutorial.data import midi as MIDI  # noqa: E402

BPM = 100
beat = 60 / BPM
CHORDS = [(45, [57, 60, 64]), (41, [53, 57, 60]), (36, [55, 60, 64]), (43, [55, 59, 62])]  # Am F C G: bass root, piano chord
my_song = pretty_midi.PrettyMIDI(initial_tempo=BPM)
bass = pretty_midi.Instrument(program=33, name="bass")                 # Electric Bass (finger)
piano = pretty_midi.Instrument(program=0, name="piano")                # Acoustic Grand Piano
drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")  # channel 10: GM drum keys
strings = pretty_midi.Instrument(program=48, name="strings")           # String Ensemble 1
for bar, (root, chord) in enumerate(CHORDS):
    t0 = bar * 4 * beat
    for b in range(4):
        t = t0 + b * beat
        bass.notes.append(pretty_midi.Note(velocity=100, pitch=root, start=t, end=t + 0.9 * beat))
        drums.notes.append(pretty_midi.Note(110, 36 if b % 2 == 0 else 38, t, t + 0.1))          # kick / snare
        drums.notes += [pretty_midi.Note(70, 42, t + h * beat, t + h * beat + 0.05) for h in (0, 0.5)]  # hats
    piano.notes += [pretty_midi.Note(80, p, t0, t0 + 3.8 * beat) for p in chord]
    strings.notes.append(pretty_midi.Note(70, root + 24, t0, t0 + 4 * beat))
my_song.instruments += [bass, piano, drums, strings]
midi_file = tmp / "my_song.mid"
my_song.write(str(midi_file))
for inst in my_song.instruments:
    print(f"{inst.name:>8}: program {inst.program:>3} ({MIDI.program_name(inst.program, inst.is_drum)}), "
          f"class {MIDI.inst_class(inst.program, inst.is_drum)} -> stem {MIDI.stem_of(inst.program, inst.is_drum)}")

# %% [markdown]
# Render it in the MSDM layout, then look and listen. There is no guitar in the song, so there is no
# guitar file; the strings are in no stem.

# %%
assert cli.main(["render-midi", str(midi_file), str(tmp / "rendered"), "--quiet"]) == 0
track = tmp / "rendered" / "train" / "Track00001"
print("files:", sorted(p.name for p in track.iterdir()))
y = load_track(track)
spectrogram_row(dict(zip(STEMS, y)), bars=[b * 4 * beat for b in range(4)], max_khz=5,
                title="my_song.mid rendered with TimGM6mb.sf2")
plt.show()
plotting.players({**dict(zip(STEMS, y)), "sum of stems": y.sum(0)}, SR, columns=5)

# %% [markdown]
# **Check it.** The bass plays the written roots: its fundamental, measured from the audio by
# autocorrelation (`midi.estimate_f0`, about 1 % accurate on these samples), must be within 3 % of
# the written note — one semitone off is 5.9 %, so a wrong note fails. The piano's three strongest
# pitch classes (`analysis.chroma`) must be the chord's.

# %%
assert not (track / "guitar.wav").exists() and y[STEMS.index("guitar")].abs().max() == 0, "no guitar: no guitar stem"
for bar, (root, chord) in enumerate(CHORDS):
    t0 = bar * 4 * beat
    f = MIDI.estimate_f0(y[0, int((t0 + 0.1) * SR): int((t0 + 0.8 * beat) * SR)], SR)
    want = pretty_midi.note_number_to_hz(root)
    top3 = {int(i) for i in np.argsort(A.chroma(y[3, int(t0 * SR): int((t0 + 3.5 * beat) * SR)], SR))[-3:]}
    names = [A.NOTE_NAMES[i] for i in sorted(top3)]
    print(f"bar {bar + 1}: bass {f:6.1f} Hz, written {pretty_midi.note_number_to_name(root)} = {want:6.1f} Hz "
          f"({100 * (f / want - 1):+.1f} %) | piano's strongest pitch classes {names}")
    assert abs(f / want - 1) < 0.03, f"bar {bar + 1}: the bass plays {f:.1f} Hz, not {want:.1f} Hz"
    assert top3 == {p % 12 for p in chord}, f"bar {bar + 1}: the piano does not play the written chord"

# %% [markdown]
# The same file in the official layout (`--layout slakh-raw`: `metadata.yaml`, one FLAC and one
# MIDI file per instrument, `all_src.mid`, `mix.flac`, at Slakh's 44.1 kHz), prepared with
# `msdm prepare-slakh`, gives the same stems, up to resampling (48 → 44.1 → 22.05 kHz instead of
# 48 → 22.05 kHz) and 16-bit rounding. And the mixture minus the four stems is the string part.

# %%
assert cli.main(["render-midi", str(midi_file), str(tmp / "raw_midi"), "--layout", "slakh-raw", "--quiet"]) == 0
raw = tmp / "raw_midi" / "train" / "Track00001"
print(sorted(str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()))
print({sid: (i["inst_class"], i["program_num"]) for sid, i in yaml.safe_load((raw / "metadata.yaml").read_text())["stems"].items()})
print(format_summary(prepare_slakh(tmp / "raw_midi", tmp / "raw_midi_prepared", progress=False)))
z = load_track(tmp / "raw_midi_prepared" / "train" / "Track00001")
mix = read_audio(raw / "mix.flac", SR).audio[0, : z.shape[1]]
rest = mix - z.sum(0)
print(f"max |prepared - msdm layout| = {(z - y).abs().max():.1e}; "
      f"‖mix − Σ stems‖ / ‖mix‖ = {rest.norm() / mix.norm():.2f}")
assert (z - y).abs().max() < 2e-3, "both routes must give the same stems"   # measured 3.7e-4 (~12 16-bit steps)
assert rest.norm() > 0.1 * mix.norm(), "the strings are in the mixture and in no stem"
display(plotting.play(rest, SR, normalize=False))

# %% [markdown]
# **The toy songs on sampled instruments.** `msdm make-toy-data --renderer soundfont` takes the toy
# composer's score — the same tempo, key, chords, parts and labels as the numpy songs — and plays it
# on GM instruments instead, drawing for each song one program within each class
# (`midi.synthesize_song_soundfont`). Here is the song of section 1 both ways.

# %%
xs, meta_sf = MIDI.synthesize_song_soundfont(seed=10, seconds=6.0, sample_rate=SR)
print({s: meta_sf["stems"][s]["timbre"]["program_name"] for s in STEMS})
assert meta_sf["chords"] == meta["chords"] and all(
    meta_sf["stems"][s]["notes"] == meta["stems"][s]["notes"] for s in STEMS), "the same score"
for k, stem in enumerate(STEMS):
    if stem != "drums" and meta_sf["stems"][stem]["present"]:
        share = A.in_scale_fraction(A.chroma(xs[k], SR), meta_sf["tonic"], meta_sf["mode"])
        print(f"{stem:>7}: {share:.2f} of its chroma on the key's scale")
        assert share > 0.6, f"{stem}: the sampled version should stay in the key (numpy songs: > 0.6 too)"
plotting.players({**{f"{s} (numpy)": x[k] for k, s in enumerate(STEMS)},
                  **{f"{s} (SoundFont)": xs[k] for k, s in enumerate(STEMS)}}, SR, columns=4)

# %% [markdown]
# With a folder of MIDI files — the Lakh MIDI dataset, or your own songs — the whole recipe is one
# command (resumable; `--programs random` draws each instrument's program within its class, as Slakh
# draws a patch; a file that does not parse or has none of the four classes is reported and skipped):
#
# ```bash
# msdm render-midi lmd_full/ my_slakh_raw/ --layout slakh-raw --programs random --jobs 8
# msdm prepare-slakh my_slakh_raw/ my_slakh/
# ```
#
# `data_small/real` holds four such renders of music nobody here composed (Bach chorales and a Haydn
# quartet from the `music21` corpus); notebook 11 separates them.

# %% [markdown]
# ## 9. Try it
# **Exercise 1.** A toy song in `data_small/toy` lasts 6 s at 22050 Hz. How many training chunks
# of 32768 samples does one song contribute per epoch? Write your prediction, then run the check.

# %%
my_chunks_per_song = None  # your prediction: an integer

# %%
if my_chunks_per_song is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    assert my_chunks_per_song == len(train) // len(train.tracks), "Hint: only whole chunks of the grid count."
    print("Right!")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: floor(6 s * 22050 / 32768) = floor(132300 / 32768) = 4 grid slots per song.
my_chunks_per_song = (6 * SR) // 32768
assert my_chunks_per_song == len(train) // len(train.tracks) == 4

# %% [markdown]
# **Exercise 2.** Raise the silence threshold twentyfold, to `RAISED = 3e-4` (the dashed line of the
# histogram in section 6 moves to log10 3e-4 ≈ −3.5, among the stems' levels). How many of the test
# chunks still have at least two active stems? Predict from the histogram, then count with
# `EvalChunks(DATA / "toy", "test", chunk_length=32768, min_active=2, threshold=RAISED)`.

# %%
from msdm_tutorial import exercises

RAISED = 3e-4
my_multi_count = None  # your answer: an integer

# %%
exercises.multi_source_count(my_multi_count, DATA / "toy", RAISED)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: a higher threshold calls more stems silent, so fewer chunks keep two active ones; count them.
my_multi_count = len(EvalChunks(DATA / "toy", "test", chunk_length=32768, min_active=2, threshold=RAISED))
exercises.multi_source_count(my_multi_count, DATA / "toy", RAISED)

# %% [markdown]
# **Exercise 3.** A MIDI track with program 26 (Electric Guitar (jazz)) and one with program 40
# (Violin): which stem does each land in when you render them with `msdm render-midi`? Write the two
# stem names (or `None` for "mix only"), then check.

# %%
my_stems = None  # your prediction: (stem of program 26, stem of program 40)

# %%
if my_stems is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    assert tuple(my_stems) == (MIDI.stem_of(26, False), MIDI.stem_of(40, False)), \
        "Hint: Guitar is programs 24–31, Bass 32–39; the strings start at 40."
    print("Right!")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: 26 is in the Guitar family (24–31) -> "guitar"; 40 is a string instrument, in none of
# the four classes -> rendered into the mixture only.
my_stems = ("guitar", None)
assert my_stems == (MIDI.stem_of(26, False), MIDI.stem_of(40, False))

# %%
shutil.rmtree(tmp, ignore_errors=True)

# %% [markdown]
# ## Summary
# * MSDM models the joint density of the stems of a song; that only pays off because the stems
#   share a context — tempo, key, chords — which the toy songs have by construction and which you
#   checked from the audio (onset grid, chroma).
# * Slakh2100 is rendered MIDI: instruments classed by their General MIDI program, each rendered
#   alone, the other classes in the mix only. `msdm render-midi` does the same with a bundled GM
#   SoundFont, `msdm prepare-slakh` turns the official layout into the MSDM layout (summing each
#   class, resampling to 22050 Hz, atomically and resumably), and `msdm make-toy-data` writes toy
#   songs in either layout, on oscillators or on GM instruments.
# * `TrainChunks` gives reproducible, resumable random chunks with shift augmentation;
#   `EvalChunks` gives the paper's non-overlapping chunks with the ‖s‖₂/n < 1.5e-5 silence rule.
#
# **Next:** [06 · Training](06_training.ipynb) — train a tiny MSDM on `data_small/toy`.
