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
# # 10 · The sampling lab: turn a knob, hear the result
#
# **At the end of this notebook you can** run all three MSDM tasks (generation, imputation and
# separation) from one panel. You will scrub through the denoising trajectory σ step by σ step,
# and predict what the sampler's knobs (N, S_churn, σ_max, R, Euler or Heun) do to the sound and
# to SI-SDRi.
#
# *Prerequisites:* diffusion, schedules and samplers (notebooks 00–03) and the data (05). 
# *Run time:* 14 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`) with the shipped tiny model; not yet measured on a GPU. The lab starts at the
# course's recommended separation setting (Euler 12 steps × R 2 on a σ grid from 1 to 3·10⁻³, 24 NFE); section 3 prints what one press of
# **Sample** at that setting costs here.

# %% [markdown]
# ## 1. The idea: one model, three tasks, one sampler loop
#
# MSDM learns one denoiser $D(x; \sigma) \approx \mathbb{E}[x_0 \mid x]$ for all $K$ stems at
# once (Mariani et al., ICLR 2024; the EDM parametrisation of Karras et al., 2022). Every task
# integrates the same probability-flow ODE from $\sigma_\text{max}$ down to 0:
#
# $$\frac{dx}{d\sigma} = -\sigma\,\nabla_x \log p_\sigma(x \mid \text{task}),\qquad
#   -\sigma\nabla_x\log p_\sigma(x) = \frac{x - D(x;\sigma)}{\sigma}.$$
#
# Only the conditioning changes. **Generation** uses the prior itself. **Imputation** re-inserts
# the stems you keep, noised to the current σ, and (the course's default) adds reconstruction
# guidance, the gradient of the model's error on the kept stems (notebook 08). **Separation** adds the likelihood of the mixture
# $y = \sum_k x_k$, either as a hard constraint (*Dirac*: $x_k = y - \sum_{j\neq k} x_j$) or as a
# Gaussian of width $\gamma = 0.75\,\sigma$. *ISDM* swaps the joint denoiser for $K$ independent
# single-stem ones. Generation is also *autoguided*, as `msdm generate` is by default: the model's estimate is
# extrapolated from that of a weaker version of itself, the same network at a third of its training (`msdm-tiny-guide.pt`;
# notebook 07, section 5). The code is in `msdm_tutorial.tasks`
# (`generate`, `impute`, `separate_long`) and `msdm_tutorial.autoguidance`.
#
# The knobs of the loop (`msdm_tutorial.samplers`):
#
# | knob | what it does |
# |---|---|
# | **N** steps | how finely the σ grid (Karras, ρ = 7) is cut; more steps give a better ODE solution and cost more |
# | **S_churn** | how much fresh noise is added at each step; it corrects errors, at the price of randomness |
# | **σ_max** | where the walk starts: 20 for generation (pure noise), 1 for separation (the mixture fixes the loudness) |
# | **R** | Euler "correction" resamples: each step is taken R times, re-noising in between (`--resamples`) |
# | **Euler / Heun** | first order, one evaluation per step; or second order, 2N − 1 evaluations |
#
# The lab (`msdm_tutorial.widgets.SamplingLab`, a view over the widget-free session of
# `msdm_tutorial.lab_session`) calls the **same** task functions, with the same arguments, as the
# `msdm` command line. Under **Sample** it prints the equivalent command, built from the command
# line's own option definitions, so anything you find here can be rerun from a terminal, on a
# longer song or a GPU.

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

# %%
import os
import time
from pathlib import Path

import torch
from IPython.display import display

from msdm_tutorial import STEMS, lab_session, plotting, presets, widgets

STEPS = course.size(None, 16)       # None: the lab's default, the recommended separation setting's steps
# one chunk of the tiny model (32768 samples, 1.49 s): the lab keeps the σ trajectory of clips that fit in
# one chunk; longer clips are sampled in several passes (seamless chunks) and show the final result only
SECONDS = course.size(1.45, 1.0)

CHECKPOINT = lab_session.default_checkpoint()
if CHECKPOINT.exists():
    lab = widgets.SamplingLab(checkpoint=CHECKPOINT, device=device, steps=STEPS, seconds=SECONDS)
else:
    print(f"!! {CHECKPOINT} is missing, so this lab uses an UNTRAINED tiny model: it will sample noise.\n"
          "!! Train one with `msdm train --preset tiny …` (notebook 06) or restore data_small/ from git.")
    lab = widgets.SamplingLab(lab_session.untrained_model(), device=device, steps=STEPS, seconds=SECONDS)
print("the lab starts at:", presets.settings_text(lab.request().config()), "· recommended:",
      presets.settings_text(presets.recommended_separation()))
if STEPS is None:
    assert lab.request().config() == presets.recommended_separation(), lab.request().config()

# %% [markdown]
# ## 2. The lab
#
# Pick a task, then press **Sample**. While it runs, the progress bar counts σ steps and
# **Cancel** stops it at the next step. The notebook stays usable because the run happens in a
# background thread. The results are:
#
# * **SI-SDRi** of each separated stem against the song's true stems (toy songs only; an upload has
#   no reference), in dB above the mixture itself;
# * a **waveform and spectrogram** per stem and for the mix, with the true stems in grey behind;
# * the **trajectory slider**, which shows the sampler's estimate of the clean stems at each σ step
#   (left: the first guess, made from almost pure noise; right: the final sample). It is there for a
#   clip that fits in one chunk of the model (1.49 s for the tiny one); a longer clip is sampled in
#   several overlapping passes, and the slider then shows the final result only;
# * **players** for every stem and the mix, all scaled by one factor so you hear the real balance;
# * **Save as WAV**, which writes `{stem}.wav` and `mix.wav` into a sub-folder of the chosen folder.
#
# You can also upload your own WAV or FLAC under *Separate → an uploaded WAV/FLAC*. Other sample
# rates are resampled, stereo is averaged to mono, and the lab tells you so.

# %%
lab

# %% [markdown]
# ## 3. See it: one press of Sample, from code
#
# Setting the controls from code is the same as clicking them. `lab.sample(wait=True)` presses
# **Sample** and waits for the result. The panel above updates too. The lab is still at its
# starting setting, the course's recommended one (the paper's Euler sampler, R = 2, on 12 steps from σ_max 1
# down to σ_min 3·10⁻³; σ_min has no control of its own: the **Paper settings** button sets the paper's 10⁻⁴);
# the cell prints what it cost.

# %%
lab.task.value = "separate"
lab.source.value, lab.song.value = "toy", "Track00029"
lab.method.value = "dirac"
t0 = time.perf_counter()
result = lab.sample(wait=True)
assert result is not None, f"the run failed: {lab.messages.value}"
press_seconds = time.perf_counter() - t0
print(f"separated {result.audio.shape[-1] / result.sample_rate:.2f} s in {press_seconds:.1f} s "
      f"({presets.settings_text(result.config)}); {len(result.frames)} trajectory frames")
print("SI-SDRi (dB):", {s: round(v, 1) for s, v in result.si_sdri.items()})
print("same as:", lab.command_line())
display(lab.figure, lab.players)

# %% [markdown]
# ## 4. Check it
#
# Dirac separation sets one stem to $y - \sum_{j\neq k} x_j$ before every step and at the end, so
# the separated stems **sum to the mixture exactly**, whatever the model has learned. That
# coupling also makes the loop stiff: with too few steps the sampler overshoots and the free stems
# blow up while still summing to $y$. Notebook 09 (section 5) computes, with the exact denoiser of
# Gaussian stems, from how many steps each sampler stays bounded. The lab warns when a result
# leaves $[-1, 1]$ by far. The trajectory starts at $\sigma_\text{max}$ and walks down to the
# final sample.

# %%
peak = result.audio.abs().max().item()
assert peak < lab_session.DIVERGED_PEAK, f"the stems peak at {peak:.3g}: the sampler diverged (too few steps?)"
residual = (result.audio.sum(0) - result.mixture).abs().max().item()
assert residual < 1e-4, f"Dirac separation must reproduce the mixture, but Σ stems − y reaches {residual:.2g}"
sigmas = [f.sigma for f in result.frames]
assert sigmas == sorted(sigmas, reverse=True) and sigmas[0] == result.config.sigma_max and sigmas[-1] == 0.0, sigmas
assert not torch.equal(result.frames[0].estimate, result.frames[-1].estimate), "the first estimate is not the result"
print(f"Σ stems − mixture: {residual:.1e} (float rounding); σ from {sigmas[0]:g} down to 0 in {len(sigmas)} frames")

# %% [markdown]
# Move the trajectory slider in the panel above. Each frame is the sampler's current estimate of
# the clean stems at that σ (`Step.denoised`, that is $x - \sigma\,dx/d\sigma$). For generation and
# imputation this is the model's guess $D(x;\sigma)$. It is quiet and blurry at large σ, because
# the model can only guess an average there, and detail appears as σ falls. For separation the
# estimate also carries the likelihood's pull, so the stems start out noisy and clear up on the way
# down. In code, `lab.render(i)` gives the picture of frame *i*.

# %% [markdown]
# ## 5. Try it
#
# **Exercise 1.** The Gaussian method only *pulls* $\sum_k x_k$ towards $y$, with a likelihood of
# width $\gamma = 0.75\sigma$. Predict: will its stems still add up to the mixture exactly? Switch the
# method to `"gaussian"` (the lab moves to that method's recommended setting, 48 Euler steps instead of
# Dirac's 12: the pull grows like 1/σ, so Euler with fewer steps overshoots; try 8 steps in the panel
# afterwards to see it diverge), sample, and store $\max|\sum_k x_k - y|$ in `gaussian_residual`.

# %%
gaussian_residual = None   # your code here: set lab.method.value, call lab.sample(wait=True)

# %% jupyter={"source_hidden": true}
# Solution (double-click to show)
if gaussian_residual is None:
    lab.method.value = "gaussian"
    print("the Gaussian likelihood's recommended setting:", presets.settings_text(lab.request().config()))
    r = lab.sample(wait=True)
    assert r is not None, lab.messages.value
    gaussian_residual = (r.audio.sum(0) - r.mixture).abs().max().item()

# %%
# Self-check
assert gaussian_residual < 1, f"Σ stems is far from y ({gaussian_residual:.3g}): did the sampler diverge? Use ≥ {lab_session.GAUSSIAN_MIN_STEPS} steps"
assert gaussian_residual > 10 * residual, "the Gaussian likelihood is soft: Σ stems only approaches y"
print(f"Σ stems − y   Dirac: {residual:.1e}   Gaussian: {gaussian_residual:.2g}. A soft constraint "
      "leaves a residual; Dirac's is float rounding")

# %% [markdown]
# **Exercise 2.** Imputation keeps some stems and generates the others. Keep *bass* and *drums*,
# generate *guitar* and *piano*, and check that the kept stems come back **unchanged** (the
# replacement step re-inserts them, noise-free, at σ = 0). Store the result in `imputed`.

# %%
imputed = None   # your code here: lab.task.value = "impute", tick lab.keep[...], lab.sample(wait=True)

# %% jupyter={"source_hidden": true}
# Solution (double-click to show)
if imputed is None:
    lab.task.value = "impute"
    for stem, box in lab.keep.items():
        box.value = stem in ("bass", "drums")
    imputed = lab.sample(wait=True)
    assert imputed is not None, lab.messages.value

# %%
# Self-check
kept = [STEMS.index(s) for s in imputed.request.keep]
assert set(imputed.request.keep) == {"bass", "drums"}, imputed.request.keep
assert torch.allclose(imputed.audio[kept], imputed.reference[kept], atol=1e-6), "kept stems must come back unchanged"
print("kept", imputed.request.keep, "unchanged; generated", [s for s in STEMS if s not in imputed.request.keep])

# %% [markdown]
# ### On a GPU, with the paper's model
#
# The lab runs with any checkpoint that `msdm_tutorial.checkpoints.load` reads, including the
# paper's original `.ckpt` files. Its controls start at the recommended separation setting; on a GPU,
# switching the task also moves the step count to that task's paper preset.

# %%
# made with `msdm convert-checkpoint ORIGINAL.ckpt checkpoints/msdm-paper.pt` (or point MSDM_PAPER_CHECKPOINT at it)
PAPER_CHECKPOINT = Path(os.environ.get("MSDM_PAPER_CHECKPOINT", course.repo_root() / "checkpoints" / "msdm-paper.pt"))
if device.type == "cuda" and PAPER_CHECKPOINT.exists():
    big_lab = widgets.SamplingLab(checkpoint=PAPER_CHECKPOINT, device=device, seconds=12.0)
    display(big_lab)
else:
    print(f"Skipped here: needs a GPU ({device.type} found) and {PAPER_CHECKPOINT} "
          f"({'found' if PAPER_CHECKPOINT.exists() else 'missing'}). It would open a second lab on the paper's "
          f"405M-parameter model, starting at {presets.settings_text(presets.recommended_separation())} "
          "on 12 s of audio.")

# %% [markdown]
# ## Summary
#
# * Generation, imputation and separation are one ODE loop with three kinds of conditioning. The lab
#   runs them with the command line's own calls; the "same as" line under **Sample** is the
#   equivalent `msdm` command.
# * The trajectory shows coarse structure first and detail last. Fewer steps are faster but can make
#   the sampler overshoot. Dirac separation always adds up to the mixture; the Gaussian method only
#   comes close, and needs more steps to stay stable.
# * Your own recordings work too: upload a WAV or FLAC, listen, and save the stems as WAV.
#
# **Next:** train your own model (notebook 06, `msdm train`) and open it here with
# `widgets.SamplingLab(checkpoint="runs/…/checkpoint.pt")`, or evaluate separation on a whole test
# set with `msdm evaluate`.
