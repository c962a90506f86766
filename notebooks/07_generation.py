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
# # 07 · Generation: four stems from one model, at once
#
# **At the end of this notebook you can** sample whole multi-stem excerpts from the MSDM prior,
# listen to each stem and to their mix, check that the stems are at the data's loudness and play
# *together* (a shared beat), and say what the number of steps and the churn change.
#
# *Prerequisites:* 03 (samplers), 05 (data), 06 (training). *Run time:* under a minute on a laptop
# CPU, seconds on a GPU; `MSDM_QUICK=1` shrinks it to a few seconds.

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
# ## 1. The idea: sample the joint prior, then add
#
# MSDM's denoiser $D(x;\sigma)$ sees all $K = 4$ stems as the channels of one tensor $x$ of shape
# $(K, T)$, so the probability-flow ODE of notebook 03,
#
# $$ x(\sigma_0) = \sigma_0\, n, \qquad \frac{dx}{d\sigma} = \frac{x - D(x;\sigma)}{\sigma}, \qquad
#    y = \sum_{k=1}^{K} x_k(0), $$
#
# integrated from pure noise at $\sigma_0$ down to $\sigma = 0$, draws the stems *jointly* from
# $p(x_1,\dots,x_K)$; the mix is just their sum. Nothing in the sampler knows about stems — the
# coherence between them (same tempo, same key) can only come from the model.
# `msdm_tutorial.tasks.generate` runs it on the shared sampler loops; `GenerationConfig.paper()`
# holds the authors' settings (Karras grid from σ = 20 to 1e-4, ρ = 7, 150 Euler steps,
# S_churn 20).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from msdm_tutorial import STEMS, checkpoints, plotting, tasks
from msdm_tutorial.data import TrainChunks
from msdm_tutorial.data import analysis as A

plotting.use_style()
gen = course.seed_everything(0)
D = checkpoints.load(course.data_small() / "checkpoints" / "msdm-tiny.pt", device)
SR = D.sample_rate
LENGTH = 32 * D.net.downsampling       # the length the tiny model was trained on: 32768 samples ≈ 1.5 s
print(f"model: stems {D.stems}, {SR} Hz; samples of {LENGTH} samples ({LENGTH / SR:.2f} s)")


def generate(config, batch, seed=0):
    """``batch`` samples (batch, K, LENGTH) with a progress bar over the sampler's steps."""
    g = torch.Generator(device=device).manual_seed(seed)
    with tqdm(total=config.num_steps, desc=f"{config.sampler} {config.num_steps} steps", leave=False) as bar:
        x = tasks.generate(D, (batch, len(STEMS), LENGTH), config=config, generator=g, device=device,
                           callback=lambda step: bar.update(1))
    return x.cpu()

# %% [markdown]
# ## 2. See and hear it: a few samples
#
# The paper's settings with fewer steps (`STEPS`; section 4 shows what steps and churn change). Churn
# works per step — each step first raises σ by a factor 1 + γ with γ = S_churn / N — so with fewer
# steps we keep the paper's γ (`config.with_steps(n)`) rather than its S_churn.

# %%
N_SAMPLES = course.size(8, 3)
STEPS = course.size(64, 12)
config = tasks.GenerationConfig.paper().with_steps(STEPS)
t0 = time.time()
samples = generate(config, N_SAMPLES)
mixes = samples.sum(1)                                    # y = Σ_k x_k
print(f"{N_SAMPLES} samples × {LENGTH / SR:.2f} s, {config.nfe} NFE: {time.time() - t0:.0f} s")

# %% [markdown]
# The first sample, stem by stem: waveform and spectrogram (dB relative to the loudest bin of all
# rows, so the stems' levels compare).

# %%
fig = plotting.stems_figure({stem: samples[0, k] for k, stem in enumerate(STEMS)}, SR, mix=mixes[0],
                            max_freq=5000, title="generated sample 0")
plt.show()
plotting.players({**{stem: samples[0, k] for k, stem in enumerate(STEMS)}, "mix": mixes[0]}, SR, columns=5)

# %% [markdown]
# The grid: one row per sample (the first four), one spectrogram per stem and the mix (dB relative to
# full scale). Listen to the mixes below it.

# %%
rows_shown = min(N_SAMPLES, 4)
fig, axes = plt.subplots(rows_shown, len(STEMS) + 1, figsize=(13, 1.6 * rows_shown + 0.6), sharex=True, sharey=True,
                         squeeze=False)
for i in range(rows_shown):
    rows = [samples[i, k] for k in range(len(STEMS))] + [mixes[i]]
    for j, (ax, a) in enumerate(zip(axes[i], rows)):
        db, times, freqs = plotting.spectrogram_db(a, SR, reference=1.0)
        ax.imshow(np.maximum(db, -80), origin="lower", aspect="auto", vmin=-80, vmax=0,
                  extent=(0, times[-1], 0, freqs[-1] / 1000))
        ax.set(ylim=(0, 5))
        ax.grid(False)
        if i == 0:
            ax.set_title((list(STEMS) + ["mix"])[j], color=plotting.STEM_COLORS[(list(STEMS) + ["mix"])[j]])
    axes[i, 0].set_ylabel(f"#{i}  kHz")
for ax in axes[-1]:
    ax.set_xlabel("time (s)")
fig.tight_layout()
plt.show()
plotting.players({f"mix #{i}": mixes[i] for i in range(rows_shown)}, SR, columns=4)

# %% [markdown]
# ## 3. Check it: loud enough, and playing together
#
# Two things a sampler or a model can get wrong, measured against the training data
# (`TrainChunks` of `data_small/toy`, the same 1.5-s chunks the model saw):
#
# * **level** — the samples are finite and neither silent nor noise: each mix's RMS lies in the
#   range of the data's mixes, give or take 50 %;
# * **coherence** — in real songs the drums and the other stems start their notes together. The
#   *onset envelope* (spectral flux, `analysis.onset_envelope`) of the drums correlates with that of
#   bass + guitar + piano *of the same song*, and not with those of another song. A model of
#   independent stems would score the same on both pairings; a joint model should not.

# %%
def onset_coherence(drums, others):
    """Correlation of the onset envelopes of a drum stem and of the other stems' sum (−1 … 1)."""
    envs = []
    for a in (drums, others):
        e, _ = A.onset_envelope(a, SR)
        e = e[4:-4] - e[4:-4].mean()          # drop 4 frames (46 ms) at each edge: the STFT padding makes flux there
        envs.append(e / (np.linalg.norm(e) + 1e-12))
    return float(envs[0] @ envs[1])


def coherence(stems):
    """Mean onset coherence of drums with the other stems: same sample vs shifted to the next sample."""
    n, d, o = len(stems), STEMS.index("drums"), [k for k in range(len(STEMS)) if STEMS[k] != "drums"]
    same = np.mean([onset_coherence(stems[i, d], stems[i, o].sum(0)) for i in range(n)])
    other = np.mean([onset_coherence(stems[i, d], stems[(i + 1) % n, o].sum(0)) for i in range(n)])
    return same, other


data = TrainChunks(course.data_small() / "toy", "train", chunk_length=LENGTH, seed=0)
real = torch.stack([data[i] for i in range(course.size(24, 12))])
rms = lambda a: a.pow(2).mean(-1).sqrt()                                  # noqa: E731
data_rms, gen_rms = rms(real.sum(1)), rms(mixes)
print(f"mix RMS: data {data_rms.min():.3f}–{data_rms.max():.3f} (mean {data_rms.mean():.3f}); "
      f"generated {gen_rms.min():.3f}–{gen_rms.max():.3f}")
print("per-stem RMS, data mean:     ", {s: round(float(v), 3) for s, v in zip(STEMS, rms(real).mean(0))})
print("per-stem RMS, generated mean:", {s: round(float(v), 3) for s, v in zip(STEMS, rms(samples).mean(0))})
coh_data, coh_gen = coherence(real), coherence(samples)
print(f"drums ↔ others onset coherence: data {coh_data[0]:.2f} (other song {coh_data[1]:.2f}); "
      f"generated {coh_gen[0]:.2f} (other sample {coh_gen[1]:.2f})")

# %%
RMS_MARGIN = 1.5           # every generated mix's RMS within [data min / 1.5, data max × 1.5]
MIN_COHERENCE_GAIN = 0.25  # onset coherence: same sample − shuffled pairing (data: about 0.6; noise: 0 ± 0.1)

lo, hi = data_rms.min() / RMS_MARGIN, data_rms.max() * RMS_MARGIN
assert torch.isfinite(samples).all(), "the samples contain NaN/Inf"
assert coh_data[0] - coh_data[1] > MIN_COHERENCE_GAIN, "the measure itself must tell real songs from shuffled ones"
assert ((gen_rms > lo) & (gen_rms < hi)).all(), (
    f"generated mix RMS {gen_rms.numpy().round(3)} outside [{lo:.3f}, {hi:.3f}] (the data's range "
    f"{data_rms.min():.3f}–{data_rms.max():.3f}, ÷/× {RMS_MARGIN}): silent or noisy samples")
assert coh_gen[0] - coh_gen[1] > MIN_COHERENCE_GAIN, (
    f"generated drums and other stems should share onsets: coherence {coh_gen[0]:.2f} within a sample vs "
    f"{coh_gen[1]:.2f} across samples (needs a gap > {MIN_COHERENCE_GAIN})")
print("levels in the data's range ✓ | drums and the other stems share their onsets ✓")

# %% [markdown]
# ## 4. The effect of steps and churn
#
# The same seed, four settings: few or more steps, with the paper's churn (γ = 20/150: each step first
# adds a little fresh noise, σ → σ(1 + γ), then integrates back — EDM's stochastic sampler) or without
# (the deterministic ODE). What to listen and look for: with too few steps the sampler cannot follow
# the ODE — samples come out smeared, or with noise left over, which shows as a grey floor across all
# frequencies. One number for the latter: the share of the mix's energy above 6 kHz, where the toy
# songs have little but hi-hats. These numbers vary with the seed: they are shown, not compared.

# %%
def hf_share(x, cutoff=6000.0):
    """Share of the mix's energy above ``cutoff`` Hz."""
    spec = torch.fft.rfft(x.sum(-2)).abs() ** 2
    freqs = torch.fft.rfftfreq(x.shape[-1], 1 / SR)
    return float(spec[..., freqs > cutoff].sum() / spec.sum())


print(f"data: {hf_share(real):.3f} of the energy above 6 kHz")
settings = [(n, churn) for n in course.size((8, 64), (4, 12)) for churn in (False, True)]
variants = {}
for n, churn in settings:
    cfg = tasks.GenerationConfig.paper().with_steps(n) if churn else tasks.GenerationConfig.paper().replace(num_steps=n, s_churn=0.0)
    variants[(n, churn)] = generate(cfg, 1, seed=1)[0]
    print(f"{n:3d} steps, S_churn {cfg.s_churn:4.1f}: {hf_share(variants[(n, churn)]):.3f} above 6 kHz, "
          f"mix RMS {rms(variants[(n, churn)].sum(0)):.3f}")

fig, axes = plt.subplots(1, len(settings), figsize=(13, 2.6), sharey=True)
for ax, ((n, churn), x) in zip(axes, variants.items()):
    db, times, freqs = plotting.spectrogram_db(x.sum(0), SR, reference=1.0)
    ax.imshow(np.maximum(db, -80), origin="lower", aspect="auto", vmin=-80, vmax=0, extent=(0, times[-1], 0, freqs[-1] / 1000))
    ax.set(title=f"{n} steps, " + ("churn γ = 0.13" if churn else "no churn"), xlabel="time (s)")
    ax.grid(False)
axes[0].set_ylabel("frequency (kHz)")
fig.tight_layout()
plt.show()
plotting.players({f"{n} steps, " + ("churn" if churn else "no churn"): x.sum(0) for (n, churn), x in variants.items()},
                 SR, columns=4)

# %% [markdown]
# ## 5. Try it
#
# **Exercise 1.** The stems of one sample are generated *together*. Predict: if you generate the
# drums of sample A and the bass, guitar and piano of sample B, is the onset coherence of that
# pairing closer to the "same sample" or to the "other sample" number above? Build the shuffled
# set `my_shuffled` (shape `(N, 4, LENGTH)`) from `samples` by pairing each sample's drums with the
# other stems of the next sample, and compute its "same" coherence with `coherence(my_shuffled)[0]`.

# %%
my_shuffled = None  # your answer: a (N_SAMPLES, 4, LENGTH) tensor

# %%
def check_shuffled(x):
    assert x.shape == samples.shape, f"expected shape {tuple(samples.shape)}, got {tuple(x.shape)}"
    d = STEMS.index("drums")
    assert torch.equal(x[:, d], samples[:, d]), "keep each sample's own drums"
    same = coherence(x)[0]
    assert abs(same - coh_gen[1]) < 1e-6, (f"coherence {same:.3f}: pair drums of sample i with the others of "
                                           f"sample i + 1 (it should equal {coh_gen[1]:.3f})")
    print(f"Right: {same:.2f}, the 'other sample' number — the coherence lives in the pairing.")


if my_shuffled is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    check_shuffled(my_shuffled)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: roll every stem but the drums by one sample.
my_shuffled = samples.clone()
others = [k for k, s in enumerate(STEMS) if s != "drums"]
my_shuffled[:, others] = samples[:, others].roll(-1, dims=0)
check_shuffled(my_shuffled)

# %% [markdown]
# **Exercise 2.** Generation starts from $x = \sigma_0 n$ with $\sigma_0 = 20$ — a hundred times louder
# than the music. Predict the RMS of the starting noise, then read it off the sampler: run
# `tasks.generate` with a `callback` that stores the `step.x` of the first step, or simply compute
# `σ_0` from `config.sigmas()`. Store your number in `my_start_rms`.

# %%
my_start_rms = None  # your answer: a float

# %%
if my_start_rms is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    assert abs(my_start_rms - float(config.sigmas()[0])) < 0.05 * float(config.sigmas()[0]), (
        f"{my_start_rms:.2f}: the noise n has unit variance, so x = σ0·n has RMS σ0 = {float(config.sigmas()[0]):.0f}")
    print(f"Right: about {my_start_rms:.1f}, vs {data_rms.mean():.2f} for a mix of the data.")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: x(σ0) = σ0·n with n ~ N(0, I), so its RMS is σ0 = 20. Measured on a fresh draw:
noise = tasks.initial_noise((1, len(STEMS), LENGTH), config.sigmas(), generator=torch.Generator().manual_seed(0))
my_start_rms = float(noise.pow(2).mean().sqrt())
print(f"σ0 = {float(config.sigmas()[0]):.0f}, measured RMS {my_start_rms:.2f}")

# %% [markdown]
# ## Summary
# * Total generation integrates the prior's probability-flow ODE for all four stems at once
#   (`tasks.generate`); the mix is the sum of the stems — nothing else ties them together.
# * Checks against the data: generated mixes sit in the data's loudness range, and the drums share
#   their onsets with the other stems of the *same* sample far more than with another sample's.
# * Too few steps leave a noise floor; churn re-injects a little noise each step, which helps
#   a stochastic sampler correct its own errors (notebook 03) — at the price of more steps.
#
# **Next:** [08 · Partial generation](08_partial_generation.ipynb) — keep some stems of a real song
# and let the model write the others.
