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
# # 00 · A tour of the course: what MSDM does, and how to run it
#
# **At the end of this notebook you can** say in one sentence what a Multi-Source Diffusion Model
# does and which three tasks it solves, run the course locally or on Colab, check which device
# your notebook computes on, and build and play a tiny four-stem "song".
#
# *Prerequisites:* none — some Python and PyTorch. *Run time:* 7 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`);
# a GPU is not needed.

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
# ## 1. The idea: one model for all the stems of a song
#
# A piece of music is a **sum of sources**, the *stems*: here bass, drums, guitar and piano,
#
# $$ y \;=\; \sum_{k=1}^{K} x_k , \qquad K = 4 .$$
#
# **Multi-Source Diffusion Models** (MSDM; Mariani, Tallini, Postolache, Mancusi, Cosmo and
# Rodolà, ICLR 2024, [arXiv 2302.02257](https://arxiv.org/abs/2302.02257)) learn the *joint*
# distribution $p(x_1, \dots, x_K)$ of the stems with **one** diffusion model: its denoiser
# $D(x; \sigma)$ sees all $K$ stems at once, as the channels of a `(K, T)` tensor. Because the
# model knows how stems go *together*, the same network solves three tasks, only by changing how
# you sample from it:
#
# | task | you give | you get | samples from |
# |---|---|---|---|
# | **generation** | nothing | all four stems, coherent | $p(x_1,\dots,x_K)$ |
# | **partial generation** (imputation) | some stems, e.g. drums | the missing stems, fitting them | $p(x_{\text{missing}} \mid x_{\text{given}})$ |
# | **separation** | the mixture $y$ | the stems that sum to it | $p(x_1,\dots,x_K \mid y = \textstyle\sum_k x_k)$ |
#
# The diffusion machinery underneath — noise levels $\sigma$, a denoiser $D(x;\sigma)$, samplers
# that walk from noise to data — comes from score-based models (Song & Ermon 2019) in the
# formulation of **EDM** (Karras et al., NeurIPS 2022). Notebooks 01–03 build it on 2-D points,
# where every quantity can be computed exactly, before the course moves to audio.

# %% [markdown]
# ## 2. How the course runs
#
# * **Locally:** from the repository root, `make lab` sets everything up on first use (a `.venv`
#   with this package) and opens JupyterLab on `notebooks/`; `make test` runs the unit tests and
#   executes every notebook top to bottom.
# * **On Colab:** open a notebook through the badge in the README. The first code cell of every
#   notebook (above) notices Colab, installs the course *without touching Colab's torch*, and
#   switches on the widget manager. Choose a GPU runtime for the GPU-sized sections.
# * **Quick mode:** the test run sets `MSDM_QUICK=1`, and notebooks shrink their work with
#   `course.size(full, quick)`. They still run every cell.
#
# The set-up cell picked a `device` for you. Here is what it found, and a tiny computation on it:

# %%
import numpy as np
import torch

from msdm_tutorial import STEMS, SAMPLE_RATE, plotting


print("device         :", device)
print("CUDA available :", torch.cuda.is_available())
print("quick mode     :", course.QUICK, "| e.g. course.size(full=10_000, quick=1_000) ->", course.size(10_000, 1_000))
a = torch.randn(256, 256, generator=gen).to(device)
print("a 256x256 matmul on", (a @ a).device, "works")

# %% [markdown]
# ## 3. See and hear it: a four-stem chord
#
# Throughout the course audio tensors have the shape `(batch, stems, samples)`, float32, mono,
# at 22050 Hz, and the stems come in the order `STEMS = ("bass", "drums", "guitar", "piano")`.
# Let's build a two-second A-major "song" by hand — a bass note, a kick-and-hat beat, a strummed
# guitar chord and a piano chord — each a sum of decaying harmonics.

# %%
SR = SAMPLE_RATE
SECONDS = 2.0
t = torch.arange(int(SR * SECONDS)) / SR


def note(freq, start=0.0, decay=3.0, harmonics=(1.0, 0.5, 0.25), amp=0.2):
    """A plucked note: harmonics of `freq` under an exponential decay, starting at `start` seconds."""
    tt = (t - start).clamp_min(0)
    tone = sum(a * torch.sin(2 * torch.pi * freq * (h + 1) * tt) for h, a in enumerate(harmonics))
    return amp * tone * torch.exp(-decay * tt) * (t >= start)


def drums(bpm=120):
    beat = 60 / bpm
    out = torch.zeros_like(t)
    for i in range(int(SECONDS / beat * 2)):                     # eighth notes
        tt = (t - i * beat / 2).clamp_min(0) * (t >= i * beat / 2)
        if i % 4 == 0:                                           # kick on beats 1 and 3: a falling sine
            out += 0.5 * torch.sin(2 * torch.pi * (50 * tt + 40 * (1 - torch.exp(-30 * tt)))) * torch.exp(-12 * tt) * (tt > 0)
        noise = torch.randn(t.shape, generator=gen)              # hi-hat: a short burst of bright noise
        out += 0.08 * torch.diff(noise, prepend=noise[:1]) * torch.exp(-60 * tt) * (tt > 0)
    return out


A2, A3, Cs4, E4, A4, Cs5, E5 = 110.0, 220.0, 277.18, 329.63, 440.0, 554.37, 659.26
stems = torch.stack([
    note(A2, decay=1.5, amp=0.35) + note(A2, start=1.0, decay=1.5, amp=0.35),          # bass
    drums(),                                                                          # drums
    sum(note(f, start=0.02 * i, decay=2.0, harmonics=(1, .6, .4, .3, .2)) for i, f in enumerate((A3, Cs4, E4))),
    sum(note(f, start=0.5, decay=1.2, harmonics=(1, .3, .1), amp=0.15) for f in (A4, Cs5, E5)),
])[None] * 0.7                                                                            # (batch=1, stems=4, samples)
mix = stems.sum(dim=1)                                                                # y = Σ_k x_k
print("stems:", tuple(stems.shape), "| mix:", tuple(mix.shape), "| peak of the mix:", f"{mix.abs().max():.2f}")

# %% [markdown]
# Listen to each stem and to the mixture. `plotting.players` scales all players by the same
# factor, so you hear the true balance between the stems (`normalize="each"` would not).

# %%
plotting.players({**{name: stems[0, k] for k, name in enumerate(STEMS)}, "mix": mix[0]}, SR)

# %% [markdown]
# And look at them: the waveform (amplitude against time) and the spectrogram (frequency against
# time, level in dB relative to full scale: a sine of amplitude 1 would read 0 dB, so the colours of
# all rows compare). The bass sits at the bottom, at 110 Hz and its harmonics; the hi-hat's noise
# spreads up to the top; guitar and piano share the middle. The check below measures the first two.

# %%
fig = plotting.stems_figure({name: stems[0, k] for k, name in enumerate(STEMS)}, SR, mix=mix[0], max_freq=4000)

# %% [markdown]
# ## 4. Check it
#
# Two facts the rest of the course relies on: the mixture *is* the sum of the stems (MSDM's
# separation constrains exactly this), and the tensor layout is `(batch, stems, samples)` in the
# order of `STEMS`. Two more checks listen with numbers: the strongest frequency of the bass stem
# is its fundamental, 110 Hz (to within one FFT bin, `SR / T` = 0.5 Hz), and of the four stems the
# drums (the hi-hat's noise) carry the largest share of their energy above 2 kHz.

# %%
from msdm_tutorial import exercises
from msdm_tutorial.exercises import peak_frequency   # the frequency (Hz) of a signal's largest FFT magnitude

assert torch.allclose(mix, stems.sum(dim=1)), "the mixture must equal the sum of the stems"
assert stems.shape == (1, len(STEMS), int(SR * SECONDS)) and stems.dtype == torch.float32, stems.shape
bass = stems[0, STEMS.index("bass")]
assert abs(peak_frequency(bass, SR) - A2) <= SR / len(bass), f"bass peaks at {peak_frequency(bass, SR):.1f} Hz, not {A2} Hz"
power = torch.fft.rfft(stems[0]).abs() ** 2                     # (stems, frequencies)
high = power[:, torch.fft.rfftfreq(stems.shape[-1], 1 / SR) > 2000].sum(1) / power.sum(1)
print("share of each stem's energy above 2 kHz:", {name: f"{h:.1e}" for name, h in zip(STEMS, high.tolist())})
assert STEMS[int(high.argmax())] == "drums", "the hi-hat should make the drums the brightest stem"
print(f"mix = sum of stems ✓ | layout (batch, stems, samples) ✓ | bass peaks at {peak_frequency(bass, SR):.1f} Hz ✓ "
      f"| drums brightest ✓")

# %% [markdown]
# ## 5. Try it
#
# **Exercise 1.** Move the bass down an octave. Which fundamental frequency do you expect? Build
# `my_bass` (a 1-D tensor of the same length, e.g. with `note(...)`) and run the check.

# %%
my_bass = None  # your answer: a 1-D tensor, the bass one octave lower


# %%
exercises.octave_down(my_bass, bass, A2, SR)   # self-check: same length, peak at half the fundamental

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: an octave down halves every frequency, so the fundamental goes from 110 Hz to 55 Hz.
my_bass = note(A2 / 2, decay=1.5, amp=0.35) + note(A2 / 2, start=1.0, decay=1.5, amp=0.35)
exercises.octave_down(my_bass, bass, A2, SR)

# %% [markdown]
# **Exercise 2.** Separation in its simplest form: suppose you knew the mixture and three of the
# stems. Recover the piano, `my_piano`, from `mix` and the other stems only (no `stems[0, 3]`!).
# This is exactly the constraint MSDM's "Dirac" separation uses in notebook 09: the last stem is
# whatever the mixture leaves over.

# %%
my_piano = None  # your answer: a 1-D tensor computed from mix[0] and the other three stems


# %%
exercises.last_stem(my_piano, stems[0, STEMS.index("piano")], "piano")   # self-check

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: y = Σ_k x_k, so x_piano = y − Σ_{k ≠ piano} x_k.
others = [k for k, name in enumerate(STEMS) if name != "piano"]
my_piano = mix[0] - stems[0, others].sum(dim=0)
exercises.last_stem(my_piano, stems[0, STEMS.index("piano")], "piano")

# %% [markdown]
# ## 6. The notebooks
#
# | # | notebook | you will be able to… |
# |---|---|---|
# | 00 | this tour | say what MSDM does, run the course, play a sound |
# | 01 | [diffusion basics](01_diffusion_basics.ipynb) | noise data, learn a denoiser by denoising score matching, sample (2-D) |
# | 02 | [schedules and preconditioning](02_schedules_and_preconditioning.ipynb) | explain c_skip / c_out / c_in, the loss weight λ(σ), the σ distributions |
# | 03 | [samplers](03_samplers.ipynb) | compare Euler, Heun, churn and ADPM2 against an exact denoiser, error vs NFE |
# | 04 | [the U-Net](04_unet.ipynb) | read the paper's waveform U-Net level by level |
# | 05 | [data](05_data.ipynb) | build multi-stem toy songs, prepare Slakh2100 |
# | 06 | [training](06_training.ipynb) | train MSDM on a CPU for minutes, on GPUs for the paper's run |
# | 07 | [generation](07_generation.ipynb) | generate all four stems jointly |
# | 08 | [partial generation](08_partial_generation.ipynb) | impute missing stems given the others |
# | 09 | [separation](09_separation.ipynb) | separate mixtures (Dirac, Gaussian, ISDM) and measure SI-SDRi |
# | 10 | [the sampling lab](10_sampling_lab.ipynb) | play with every sampling knob in an interactive lab |
# | 11 | [reproducing the paper](11_reproduce_paper.ipynb) | run the paper's evaluation with the authors' checkpoints |
#
# ## Summary
# * A song is a sum of stems, $y = \sum_k x_k$; MSDM learns their **joint** distribution with one
#   diffusion model and uses it to generate, to complete (impute) and to separate.
# * `make lab` opens the course, `make test` runs it; on Colab the first cell installs it; the
#   `device` variable says where you compute, and `MSDM_QUICK=1` shrinks the work.
# * Audio is `(batch, stems, samples)` at 22050 Hz in the order bass, drums, guitar, piano;
#   `plotting.players` and `plotting.stems_figure` let you hear and see it.
#
# **Next:** [01 · Diffusion basics](01_diffusion_basics.ipynb) — noise, scores and denoisers in 2-D.
