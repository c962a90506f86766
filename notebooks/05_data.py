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
# *Prerequisites:* notebooks 00–03 (diffusion basics). *Run time:* about a minute on a laptop
# CPU; a GPU changes nothing here.

# %%
# Set-up: works locally and on Colab. On Colab it clones the course and installs it,
# keeping Colab's own torch; everywhere it picks the GPU when there is one.
import sys

if "google.colab" in sys.modules:
    import os, subprocess
    from importlib.metadata import version
    if not os.path.isdir("/content/msdm-tutorial"):
        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/msdm-tutorial/msdm-tutorial", "/content/msdm-tutorial"], check=True)
    # pin the torch that is installed (its own version string, as pip sees it): never reinstall it
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/msdm-tutorial",
                    f"torch=={version('torch')}"], check=True)
    sys.path.insert(0, "/content/msdm-tutorial")
    os.chdir("/content/msdm-tutorial/notebooks")
    from google.colab import output
    output.enable_custom_widget_manager()

from msdm_tutorial import course

device = course.pick_device()

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
from IPython.display import Audio, display

from msdm_tutorial import STEMS, cli
from msdm_tutorial.data import EvalChunks, TrainChunks, list_tracks, load_track, synthesize_song
from msdm_tutorial.data import analysis as A
from msdm_tutorial.data.slakh import format_summary, prepare_slakh

SR = 22050
gen = course.seed_everything(0)
DATA = course.data_small()
x, meta = synthesize_song(seed=10, seconds=6.0, sample_rate=SR)
print(f"stems {tuple(x.shape)} | key {meta['key']} | tempo {meta['tempo_bpm']:.0f} BPM")
print("chords:", " ".join(c["name"] for c in meta["chords"]))

# %% [markdown]
# ## 2. Listen: each stem, then the mixture
# The players are not normalised, so you hear the real levels (each stem peaks at about 0.3–0.6).

# %%
for k, stem in enumerate(STEMS):
    print(stem)
    display(Audio(x[k].numpy(), rate=SR, normalize=False))
print("mixture")
display(Audio(x.sum(0).numpy(), rate=SR, normalize=False))

# %% [markdown]
# ## 3. See it: a spectrogram per stem
# Log-mel spectrograms (`torchaudio.transforms.MelSpectrogram`). The bass lives below ~300 Hz,
# the hats of the drums above 5 kHz, guitar and piano share the middle — which is what makes
# separating them hard. The dashed lines are the bar starts from `meta["bar_starts"]`.

# %%
mel = torchaudio.transforms.MelSpectrogram(SR, n_fft=1024, hop_length=256, n_mels=64, f_max=SR / 2)
fig, axes = plt.subplots(1, 4, figsize=(14, 3), sharey=True)
for k, (ax, stem) in enumerate(zip(axes, STEMS)):
    S = 10 * torch.log10(mel(x[k]) + 1e-8)
    ax.imshow(S.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=S.max().item() - 80,
              extent=[0, x.shape[-1] / SR, 0, 64])
    for b in meta["bar_starts"]:
        ax.axvline(b, color="w", ls="--", lw=0.7)
    ax.set(title=stem, xlabel="time (s)")
axes[0].set_ylabel("mel band (0–11 kHz)")
plt.tight_layout()
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
# augmentation*), and reads only those frames from disk. Item `i` of epoch `e` depends only on
# `(seed, e, i)`, so an interrupted training run resumes with exactly the same data.
# The tiny models use 32768 samples (~1.5 s); the paper 262144 (~11.9 s).

# %%
train = TrainChunks(DATA / "toy", "train", chunk_length=32768, seed=0)
batch = torch.stack([train[i] for i in range(8)])
print(f"{len(train.tracks)} tracks -> {len(train)} chunks per epoch; a batch: {tuple(batch.shape)}")
print("first chunks (track, start sample):", [train.position(i) for i in range(4)])
train.set_epoch(1)
print("epoch 1 reorders them:             ", [train.position(i) for i in range(4)])
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
    ax.hist(np.clip(np.log10(levels[:, k] + 1e-12), -9, -2), bins=bins, alpha=0.6, label=stem)
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
display(Audio(0.5 * (a[0, :n] + a[1, :n] + b[2, :n] + b[3, :n]).numpy(), rate=SR, normalize=False))

# %% [markdown]
# ## 8. Try it
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
# **Exercise 2.** Raise the silence threshold tenfold (`threshold=1.5e-4`). Will the number of
# chunks with at least two active stems go up, down, or stay? Predict, then measure with
# `EvalChunks(DATA / "toy", "test", chunk_length=32768, min_active=2, threshold=...)`.

# %%
my_multi_count = None  # measure it: len(EvalChunks(...))

# %%
if my_multi_count is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    assert my_multi_count <= len(multi), "A higher threshold can only call more stems silent."
    print(f"{my_multi_count} chunks (was {len(multi)}): a stricter threshold never keeps more chunks.")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: a higher threshold marks more stems as silent, so never *more* chunks pass the filter.
my_multi_count = len(EvalChunks(DATA / "toy", "test", chunk_length=32768, min_active=2, threshold=1.5e-4))
assert my_multi_count <= len(multi)
print(my_multi_count, "<=", len(multi))

# %%
shutil.rmtree(tmp, ignore_errors=True)

# %% [markdown]
# ## Summary
# * MSDM models the joint density of the stems of a song; that only pays off because the stems
#   share a context — tempo, key, chords — which the toy songs have by construction and which you
#   checked from the audio (onset grid, chroma).
# * `msdm prepare-slakh` turns the official Slakh2100 release into the MSDM layout by summing each
#   class's instruments, resampling to 22050 Hz, atomically and resumably; `msdm make-toy-data`
#   writes toy songs in either layout.
# * `TrainChunks` gives reproducible, resumable random chunks with shift augmentation;
#   `EvalChunks` gives the paper's non-overlapping chunks with the ‖s‖₂/n < 1.5e-5 silence rule.
#
# **Next:** [06 · Training](06_training.ipynb) — train a tiny MSDM on `data_small/toy`.
