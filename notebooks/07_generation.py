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
# listen to each stem and to their mix, check that the mixes are at the data's loudness and that the
# stems play *together* (a shared beat), say what the number of steps and the churn change, and guide
# the model with a weaker version of itself (autoguidance), as `msdm generate` does by default.
#
# *Prerequisites:* [03 · Samplers](03_samplers.ipynb), [05 · Data](05_data.ipynb),
# [06 · Training](06_training.ipynb). 
# *Run time:* 44 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`). Not yet measured on a GPU.

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
# holds the authors' settings (a Karras σ grid, Euler steps with churn; the next cell prints them).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from msdm_tutorial import STEMS, checkpoints, exercises, plotting, quality, tasks
from msdm_tutorial.data import TrainChunks
from msdm_tutorial.data.stream import ToySongStream, seeds_in
from msdm_tutorial.progress import StepProgress
from msdm_tutorial.data import analysis as A

D, SR, LENGTH = course.tiny_model(device)   # samples of the length the tiny model was trained on (≈ 1.5 s)
paper = tasks.GenerationConfig.paper()
print(f"GenerationConfig.paper(): Karras grid σ = {paper.sigma_max:g} … {paper.sigma_min:g}, ρ = {paper.rho:g}, "
      f"{paper.num_steps} {paper.sampler} steps, S_churn {paper.s_churn:g} (γ = S_churn/N = {paper.s_churn / paper.num_steps:.3f})")


def generate(config, batch, seed=0, margin=None, path=None, denoiser=None):
    """``batch`` samples (batch, K, LENGTH) with a progress bar over the sampler's steps. ``path``: a list
    that collects, at every step, σ and each stem's RMS of the estimate D(x; σ) (mean over the batch).
    ``denoiser``: another D (section 5's autoguided model); default the shipped model."""
    g = torch.Generator(device=device).manual_seed(seed)
    with StepProgress(config.num_steps, f"{config.sampler} {config.num_steps} steps") as bar:
        def callback(step):
            bar(step)
            if path is not None:
                path.append((step.sigma, step.denoised.float().pow(2).mean(-1).sqrt().mean(0)))   # stays on the device
        x = tasks.generate(denoiser or D, (batch, len(STEMS), LENGTH), config=config, generator=g, device=device,
                           callback=callback, margin=margin)
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
path = []                                                 # (σ, RMS of D(x; σ) per stem) at every step
samples = generate(config, N_SAMPLES, path=path)
mixes = samples.sum(1)                                    # y = Σ_k x_k
print(f"{N_SAMPLES} samples × {LENGTH / SR:.2f} s: {config.sampler} {config.num_steps} steps, S_churn {config.s_churn:.2f} "
      f"(γ = {config.s_churn / config.num_steps:.3f}, as the paper's), {config.nfe} NFE: {time.time() - t0:.0f} s")

# %% [markdown]
# The first sample, stem by stem: waveform and spectrogram. The spectrograms are in dB re full scale
# (a full-scale sine reads 0 dB), every row on the same colour scale, so the stems' levels compare.

# %%
fig = plotting.stems_figure({stem: samples[0, k] for k, stem in enumerate(STEMS)}, SR, mix=mixes[0],
                            max_freq=5000, title="generated sample 0")
plt.show()
plotting.players({**{stem: samples[0, k] for k, stem in enumerate(STEMS)}, "mix": mixes[0]}, SR, columns=5)

# %% [markdown]
# The grid: one row per sample (the first four), one spectrogram per stem and the mix, in dB re full
# scale on one colour scale (the bar on the right). Listen to the mixes below it.

# %%
rows_shown = min(N_SAMPLES, 4)
columns = list(STEMS) + ["mix"]
fig, axes = plt.subplots(rows_shown, len(columns), figsize=(13, 1.6 * rows_shown + 0.8), sharex=True, sharey=True,
                         squeeze=False, layout="constrained")
for i in range(rows_shown):
    for j, (ax, a) in enumerate(zip(axes[i], [*samples[i], mixes[i]])):
        image = plotting.spectrogram(ax, a, SR, max_freq=5000, colorbar=False)
        ax.set(xlabel="time (s)" if i == rows_shown - 1 else "", ylabel=f"#{i}  kHz" if j == 0 else "")
        if i == 0:
            ax.set_title(columns[j], color=plotting.STEM_COLORS[columns[j]])
fig.colorbar(image, ax=axes, label=plotting.DB_LABEL, pad=0.01, shrink=0.9)
plt.show()
plotting.players({f"mix #{i}": mixes[i] for i in range(rows_shown)}, SR, columns=4)

# %% [markdown]
# ## 3. Check it: loud enough, and playing together
#
# Two things a sampler or a model can get wrong, measured against the training data
# (`TrainChunks` of `data_small/toy`, the same 1.5-s chunks the model saw):
#
# * **level** — the samples are finite and neither silent nor noise: each mix's RMS lies in the
#   range of the data's mixes, within a factor of 2 (the per-stem levels are printed too, not checked).
#   The model alone plays some songs quieter than any real mix — its piano is far too quiet until
#   section 5's autoguidance — so a sample's mix may sit below the data's quietest by up to that factor;
#   silence and the sampler's starting noise stay far outside;
# * **coherence** — in real songs the drums and the other stems start their notes together. The
#   *onset envelope* (spectral flux, `analysis.onset_envelope`) of the drums correlates with that of
#   bass + guitar + piano *of the same song*, and not with those of another song. A model of
#   independent stems would score the same on both pairings; a joint model should not.
#
# Two more measures are printed and not checked: each stem's RMS, and the *tonality* of the pitched
# stems (`quality.spectral_flatness`: how noise-like a stem's spectrum is; `docs/benchmarks.md`,
# "Generation quality", compares the shipped model's stems with real ones, white and pink noise).

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
flat = quality.flatness_db
white = flat(torch.randn(4, LENGTH, generator=torch.Generator().manual_seed(2)))
print(f"tonality, spectral flatness of the loud frames in dB (white noise {white:.1f} dB; a pure tone far lower):")
for k, s in enumerate(STEMS):
    if s != "drums":
        print(f"  {s:>6}: data {flat(real[:, k]):6.1f} dB, generated {flat(samples[:, k]):6.1f} dB")

# The thresholds of the checks below, and what they are calibrated against (printed by the next cell):
# the coherence gain (same sample − shuffled pairing) of the data must clear `MIN_COHERENCE_GAIN`, and
# that of stems of independent noise — which share no onsets — must not; the starting noise
# $x = \sigma_0 n$ and silence must both fall outside the RMS range.

# %%
RMS_MARGIN = 2.0           # every generated mix's RMS within [data min / 2, data max × 2]
MIN_COHERENCE_GAIN = 0.25  # onset coherence: same sample − shuffled pairing

lo, hi = data_rms.min() / RMS_MARGIN, data_rms.max() * RMS_MARGIN
noise_stems = real.std() * torch.randn(real.shape, generator=torch.Generator().manual_seed(1))
coh_noise = coherence(noise_stems)
start_mix_rms = float(config.sigmas()[0]) * len(STEMS) ** 0.5          # x = σ0·n: the mix of 4 stems has RMS 2σ0
print(f"calibration: coherence gain data {coh_data[0] - coh_data[1]:.2f}, independent noise stems "
      f"{coh_noise[0] - coh_noise[1]:.2f} (threshold {MIN_COHERENCE_GAIN}); mix RMS range [{lo:.3f}, {hi:.3f}] "
      f"excludes silence (0) and the starting noise ({start_mix_rms:.0f})")
assert torch.isfinite(samples).all(), "the samples contain NaN/Inf"
assert coh_data[0] - coh_data[1] > MIN_COHERENCE_GAIN, "the measure itself must tell real songs from shuffled ones"
assert coh_noise[0] - coh_noise[1] < MIN_COHERENCE_GAIN, "the measure must not find shared onsets in independent noise"
assert ((gen_rms > lo) & (gen_rms < hi)).all(), (
    f"generated mix RMS {gen_rms.numpy().round(3)} outside [{lo:.3f}, {hi:.3f}] (the data's range "
    f"{data_rms.min():.3f}–{data_rms.max():.3f}, ÷/× {RMS_MARGIN}): silent or noisy samples")
assert coh_gen[0] - coh_gen[1] > MIN_COHERENCE_GAIN, (
    f"generated drums and other stems should share onsets: coherence {coh_gen[0]:.2f} within a sample vs "
    f"{coh_gen[1]:.2f} across samples (needs a gap > {MIN_COHERENCE_GAIN})")
print(f"levels in the data's range ✓ | drums and the other stems share their onsets ✓ "
      f"(gain {coh_gen[0] - coh_gen[1]:.2f} > {MIN_COHERENCE_GAIN})")

# %% [markdown]
# **When does the sampler decide each stem?** Every step's estimate $D(x;\sigma)$ is the model's current
# guess of the finished stems (`Step.denoised`; the `generate` helper above recorded its RMS per stem).
# At $\sigma_0$ the music is buried under noise 20 times louder than the stems, and the best guess of
# a stem you cannot hear is its average: silence. As σ falls, each stem's estimate climbs towards the
# level it will end at — the moment the sampler *commits* to that stem. The figure shows the climb, with
# each stem's level in the data dashed: a stem whose estimate never reaches its dashed line comes out
# too quiet, and one whose estimate peaks and then sinks is being worn down by the churn's re-noising
# (`docs/training_recipe.md`, section 4, "Where the generated piano goes quiet"). The check pins the
# first claim (at $\sigma_0$ every estimate is far below the data's level; calibration: a denoiser that
# returns its input, $D(x;\sigma) = x$, has RMS $\sigma_0$ and fails it); where each stem first reaches
# half the data's level, its peak and where it ends are printed for this run.

# %%
sigmas_path = np.array([p[0] for p in path])
levels = torch.stack([p[1] for p in path]).cpu()                               # (steps, K)
data_level = rms(real).mean(0)                                                 # per stem, the data's mean RMS
fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
for k, stem in enumerate(STEMS):
    color = plotting.STEM_COLORS[stem]
    ax.plot(sigmas_path, 20 * np.log10(levels[:, k].numpy() + 1e-9), color=color, label=stem)
    ax.axhline(20 * np.log10(float(data_level[k])), color=color, ls="--", lw=1)
ax.set(xscale="log", xlim=(sigmas_path[0], sigmas_path[-1]), xlabel="σ (the sampler runs from left to right)", ylabel="RMS of D(x; σ) (dBFS)",
       title="each stem's estimate along the sampling path (dashed: the data's level)")
ax.legend(ncol=4, fontsize=8)
plt.show()

MAX_START_SHARE = 0.5   # at σ_0 every stem's estimate below half the data's level (D = x would give σ_0 = 20)
start_share = levels[0] / data_level
final = levels[-1]
for k, stem in enumerate(STEMS):
    reached = levels[:, k] >= 0.5 * data_level[k]                              # half the data's level (−6 dB)
    when = f"at σ ≈ {sigmas_path[int(reached.float().argmax())]:.2g}" if reached.any() else "never"
    print(f"{stem:>6}: estimate at σ_0 {start_share[k]:.2f}× the data's level; reaches half of it {when}; "
          f"peaks at {float(levels[:, k].max() / data_level[k]):.2f}×, ends at {float(final[k] / data_level[k]):.2f}×")
assert float(config.sigmas()[0]) / float(data_level.max()) > 1 / MAX_START_SHARE, "calibration: D = x must fail the check"
assert (start_share < MAX_START_SHARE).all(), f"at σ_0 the estimates should be near silence: {start_share}"
print(f"at σ_0 = {float(config.sigmas()[0]):g} every stem's estimate is below {MAX_START_SHARE:g}× the data's level ✓ "
      "(the model starts from the average and commits as σ falls)")

# %% [markdown]
# **The ends of a sample.** The network sees zeros beyond the ends of its input, and its estimate is
# worst there (`docs/training_recipe.md`, section 2). Sampled naively, the stems of the model shipped until
# 2026-12-03 grew spikes at their first and last samples, sometimes up to the ±1 clamp. `tasks.generate` therefore generates a margin beyond
# each end (`tasks.generation_margin`: an eighth of a chunk) and drops it; the samples above have it.
# The check: few stems may have their loudest sample within 64 samples of an end (a peak lands there by
# chance in 128 of 32768 samples, 0.4 %). Calibration: noise stems pass it, and the same noise with a
# spike at one end of every stem (what the model shipped until 2026-12-03 made without the margin) fails
# it. The cell also prints the same seed sampled with `margin=0`: today's model, with more room at its
# finest levels, spikes far less without the margin than that one did, so the margin is now a safeguard.

# %%
MAX_END_PEAK_SHARE = 0.15   # of the stems: loudest sample within 64 samples of an end


def end_peak_share(x, edge=64):
    peak = x.abs().argmax(-1)
    return float(((peak < edge) | (peak >= x.shape[-1] - edge)).float().mean())


no_margin = generate(config, N_SAMPLES, margin=0)
shares = {"margin 0": end_peak_share(no_margin),
          f"margin {tasks.generation_margin(D, LENGTH)} (default)": end_peak_share(samples)}
print("stems whose loudest sample is within 64 samples of an end:",
      ", ".join(f"{k}: {v:.0%}" for k, v in shares.items()))
noise = torch.randn(samples.shape, generator=torch.Generator().manual_seed(3))
spiked = noise.clone()
spiked[..., -1] = -10.0                                   # the failure the margin fixes: a spike at an end
assert end_peak_share(noise) <= MAX_END_PEAK_SHARE < end_peak_share(spiked), "calibration: the check must pass noise and fail spiked ends"
assert end_peak_share(samples) <= MAX_END_PEAK_SHARE, f"generated stems peak at their ends: {shares}"
print(f"no spikes at the ends with the margin ✓ (≤ {MAX_END_PEAK_SHARE:.0%} of the stems)")

# %% [markdown]
# **How far from real stems?** The checks above ask for the right level, shared onsets and clean ends;
# noise with transients on the beat could pass them all. A distance between *sets* asks more: fit a
# Gaussian to the log-mel frames of each stem in a set, and take the Fréchet distance between the
# generated set's Gaussian and a reference set's (`quality.DistanceScale`, as FID/FAD do; the
# equation is in the module's docstring). From a handful of clips the distance is noisy and grows as
# the sets shrink, so it is divided by the mean distance of three other real sets *of the same size*:
# 1 means "as close to the reference as real songs are". All real clips here are fresh toy songs that
# no model saw (`ToySongStream`, its seeds kept apart from data_small's). The calibration rows frame the
# scale: another real set (near 1), another instrument's real stems, and pink and white noise at the
# stem's level (far above). The target for a model that makes music is a ratio ≤ 5 on every
# stem; the cell asserts that the scale separates real stems from noise at that line, and reports
# where the model lands. Where another instrument's real stems also land within the line, the scale
# cannot vouch for a stem (a near-silent piano can score like real piano), so the cell does not count
# it. Quick mode compares sets of 3 clips, too few to judge a model by; the default
# mode's 8 are still few (`docs/benchmarks.md`, "Generation quality", uses 16 against 32). Log-mel
# frames weigh a rest filled with faint noise as far from a silent one as a note is from a rest, so
# this distance punishes a noise floor hard; `docs/training_recipe.md` (section 4, "Where the distance
# comes from") shows that most of the distance of the model shipped until 2026-12-03 was such a floor.
# One claim the cell does assert for the model: every generated stem is more than 3× closer to real
# stems than noise at its level is. That old model failed it (drums 95.8 against pink noise's 211.8,
# guitar 16.6 against 42.5, on `docs/benchmarks.md`'s larger sets; `docs/training_recipe.md`, section 6).

# %%
MAX_MUSIC_RATIO = 5.0                            # distance ratio of a set that sounds like real stems
n_ref = course.size(24, 12)
fresh = ToySongStream(LENGTH, seed=7070, held_out_seeds=seeds_in(course.data_small() / "toy"))
clips = torch.stack([fresh[i] for i in range(n_ref + 4 * N_SAMPLES)])            # (songs, K, LENGTH)
reference, real_sets = clips[:n_ref], clips[n_ref:].split(N_SAMPLES)             # 4 sets of N_SAMPLES songs
g_noise = torch.Generator().manual_seed(3)
fd_rows, scale_of = {}, {}          # scale_of[stem]: the stem's distance scale, used again in section 5
for k, stem in enumerate(STEMS):
    level = float(reference[:, k].pow(2).mean().sqrt())
    candidates = {"another real set": real_sets[3][:, k],
                  "another instrument": real_sets[3][:, (k + 1) % len(STEMS)],
                  "pink noise": quality.pink_noise(N_SAMPLES, LENGTH, level, g_noise),
                  "white noise": quality.white_noise(N_SAMPLES, LENGTH, level, g_noise),
                  "generated": samples[:, k]}
    scale_of[stem] = quality.DistanceScale(reference[:, k], [r[:, k] for r in real_sets[:3]], SR)
    fd_rows[stem] = {name: scale_of[stem](c) for name, c in candidates.items()}
names = list(fd_rows[STEMS[0]])
display(Markdown(plotting.markdown_table(["stem", *names], ([s, *(f"{fd_rows[s][n]:.1f}" for n in names)]
                                                          for s in STEMS), align="l" + "r" * len(names))
                 + f"\n\nFréchet distance ratio to {n_ref} real clips, sets of {N_SAMPLES} (1 = as real songs)."))
assert all(r["another real set"] < MAX_MUSIC_RATIO for r in fd_rows.values()), "the scale must place real stems below the line"
assert all(min(r["pink noise"], r["white noise"]) > MAX_MUSIC_RATIO for r in fd_rows.values()), \
    "the scale must place noise above the line"
undecided = [s for s in STEMS if fd_rows[s]["another instrument"] <= MAX_MUSIC_RATIO]   # the scale is too coarse there
close = [s for s in STEMS if fd_rows[s]["generated"] <= MAX_MUSIC_RATIO and s not in undecided]
print(f"calibrated: real stems below {MAX_MUSIC_RATIO:g}, pink and white noise above it on every stem ✓")
if undecided:
    print(f"at this set size another instrument also scores ≤ {MAX_MUSIC_RATIO:g} for {', '.join(undecided)}: "
          "a generated stem there is not counted as close (compare its level with the data's above)")
print(f"generated stems within {MAX_MUSIC_RATIO:g}× of real: {', '.join(close) or 'none'} of {len(STEMS)} → "
      + ("as close to real stems as the target asks" if len(close) == len(STEMS) else "not yet music"))
NOISE_MARGIN = 3   # every generated stem at least this many times closer to real stems than noise is
margins = {s: min(fd_rows[s]["pink noise"], fd_rows[s]["white noise"]) / fd_rows[s]["generated"] for s in STEMS}
print("noise's distance ÷ the generated stems' distance:", {s: round(v, 1) for s, v in margins.items()})
assert min(margins.values()) > NOISE_MARGIN, f"a generated stem is within {NOISE_MARGIN}× of noise's distance: {margins}"
print(f"every generated stem is more than {NOISE_MARGIN}× closer to real stems than noise is ✓")

# %% [markdown]
# ## 4. The effect of steps and churn
#
# The same seed, four settings: few or more steps, with the paper's churn per step (γ = S_churn/N, as in
# section 2: each step first adds a little fresh noise, σ → σ(1 + γ), then integrates back — EDM's
# stochastic sampler) or without (the deterministic ODE). What to listen and look for: with too few steps
# the sampler cannot follow the ODE, and what it gets wrong can be left-over noise — a floor across all
# frequencies — or a changed level. Two numbers per setting: the share of the mix's energy above
# 6 kHz, where the toy songs have little but hi-hats (left-over noise raises it), and the mix's RMS.
# These numbers vary with the seed: they are shown, not compared — read them off the printout.

# %%
def hf_share(x, cutoff=6000.0):
    """Share of the mix's energy above ``cutoff`` Hz."""
    spec = torch.fft.rfft(x.sum(-2)).abs() ** 2
    freqs = torch.fft.rfftfreq(x.shape[-1], 1 / SR)
    return float(spec[..., freqs > cutoff].sum() / spec.sum())


print(f"data: {hf_share(real):.3f} of the energy above 6 kHz, mix RMS {data_rms.mean():.3f} (mean)")
settings = [(n, churn) for n in course.size((8, 64), (4, 12)) for churn in (False, True)]
variants, labels, measured = {}, {}, {}
for n, churn in settings:
    cfg = tasks.GenerationConfig.paper().with_steps(n) if churn else tasks.GenerationConfig.paper().replace(num_steps=n, s_churn=0.0)
    variants[(n, churn)] = generate(cfg, 1, seed=1)[0]
    labels[(n, churn)] = f"{n} steps, " + (f"churn γ = {cfg.s_churn / n:.2f}" if churn else "no churn")
    measured[(n, churn)] = (hf_share(variants[(n, churn)]), float(rms(variants[(n, churn)].sum(0))))
    print(f"{labels[(n, churn)]:>22} (S_churn {cfg.s_churn:4.2f}): {measured[(n, churn)][0]:.3f} above 6 kHz, "
          f"mix RMS {measured[(n, churn)][1]:.3f}")
most_hf = max(measured, key=lambda k: measured[k][0])
print(f"this seed: most energy above 6 kHz with {labels[most_hf]}; mix RMS from "
      f"{min(v[1] for v in measured.values()):.3f} to {max(v[1] for v in measured.values()):.3f}")

fig, axes = plt.subplots(1, len(settings), figsize=(13, 2.8), sharey=True, layout="constrained")
for ax, (key, x) in zip(axes, variants.items()):
    image = plotting.spectrogram(ax, x.sum(0), SR, colorbar=False, title=labels[key])
for ax in axes[1:]:
    ax.set_ylabel("")
fig.colorbar(image, ax=axes, label=plotting.DB_LABEL, pad=0.01)
plt.show()
plotting.players({labels[key]: x.sum(0) for key, x in variants.items()}, SR, columns=4)

# %% [markdown]
# ## 5. Autoguidance: a weaker version of the model shows the way
#
# The model's errors have a direction. Trained longer, it moved away from blurred, averaged guesses
# (a piano estimate that hedges towards silence, a drum hit smeared into noise) towards sharper ones.
# A *weaker* version of the same model — here the same network at a third of its training — makes the same
# kinds of error, more of them. Karras et al. (2024, "Guiding a diffusion model with a bad version of
# itself") extrapolate from the weak estimate $D_0$ through the model's own $D_1$:
#
# $$ D_w(x;\sigma) = D_0(x;\sigma) + w\,\big(D_1(x;\sigma) - D_0(x;\sigma)\big), \qquad w \ge 1, $$
#
# so each step goes *further* in the direction the extra training took the model. $w = 1$ is the model
# alone; it is the form of classifier-free guidance, with a weaker model in place of an unconditional
# one. `msdm_tutorial.autoguidance.AutoguidedDenoiser` is that one line, and since it is a denoiser,
# every task takes it unchanged. The shipped model has a companion, `msdm-tiny-guide.pt`, which records
# the weight chosen for it and guides only below a σ (σ ≤ 3 for this model, chosen on development songs:
# guided at every σ, its bass came out louder but its guitar farther from real);
# `models.with_guide` loads both, and `msdm generate` uses it by default (`--guide none`: the model alone,
# as in the paper; `msdm impute` only with `--guide auto`, since on top of its reconstruction guidance it
# made the imputed piano too loud). A guided step costs one more network call below
# that σ.
#
# The cell below generates the same seeds as section 2 with the guided model, then asks section 3's
# distance and levels. Two checks, each calibrated: **the worst stem's distance ratio falls**, and
# **the piano — the stem the model leaves far too quiet — comes out louder**. A guide that *is* the
# model changes nothing, so it fails both (w·0 = 0); a guide of a different kind fails the first: the
# four ISDM models, which know each stem alone, push generation away from real songs instead
# (`docs/training_recipe.md`, section 4, "Autoguidance", measures both).

# %%
from msdm_tutorial import models

guided = models.with_guide(D, course.checkpoint("msdm-tiny"), device=device)
print(f"{models.companion_guide(course.checkpoint('msdm-tiny')).name}: w = {guided.weight:g}, "
      f"guiding where σ ≤ {guided.sigma_max:g} (recorded in the guide file)")
t0 = time.time()
guided_samples = generate(config, N_SAMPLES, denoiser=guided)
print(f"{N_SAMPLES} guided samples, {config.num_steps} steps: {time.time() - t0:.0f} s")
rows = {"model alone (section 2)": samples, f"autoguided, w {guided.weight:g}": guided_samples}
ratios = {name: {stem: scale_of[stem](x[:, k]) for k, stem in enumerate(STEMS)} for name, x in rows.items()}
levels_of = {name: {stem: float(rms(x[:, k]).mean()) for k, stem in enumerate(STEMS)} for name, x in rows.items()}
display(Markdown(plotting.markdown_table(
    ["", *(f"{s} distance" for s in STEMS), *(f"{s} RMS" for s in STEMS)],
    [["data", *("—" for _ in STEMS), *(f"{float(v):.3f}" for v in rms(real).mean(0))]]
    + [[name, *(f"{ratios[name][s]:.1f}" for s in STEMS), *(f"{levels_of[name][s]:.3f}" for s in STEMS)]
       for name in rows], align="l" + "r" * 2 * len(STEMS))
    + f"\n\nDistance ratio as in section 3 (sets of {N_SAMPLES}, 1 = as real songs); mean RMS per stem."))
fig = plotting.stems_figure({stem: guided_samples[0, k] for k, stem in enumerate(STEMS)}, SR,
                            mix=guided_samples[0].sum(0), max_freq=5000, title="autoguided sample 0 (same seed as sample 0 above)")
plt.show()
plotting.players({**{stem: guided_samples[0, k] for k, stem in enumerate(STEMS)}, "mix": guided_samples[0].sum(0)},
                 SR, columns=5)

# %% [markdown]
# The checks. First the equation itself, on one input: $D_w - D_1 = (w - 1)(D_1 - D_0)$, and $w = 1$ gives
# the model exactly. Then the two claims, in the default mode only: quick mode's sets of 3 clips on 12
# steps are too small to rank two models (there the worst stem's ratio moved either way with the seed).
# In the default mode (8 samples, 64 steps) this section's seed 0 gives the guided model a worst-stem ratio
# 14 % lower and a piano 5.3× louder; of three generation seeds on this machine, seed 1 agreed (−20 %, ×2.2)
# and seed 2 tied (+0.5 %, ×1.8), so the first claim holds for this seed, not for every one. The same three
# with the ISDM models (12172 steps each) as the guide about doubled or tripled the worst ratio (16.4–19.7
# against the model's 6.1–9.6; scratch runs of this section with seeds 0, 1, 2, `docs/training_recipe.md`,
# section 4, "Autoguidance"). `MIN_PIANO_GAIN` sits below that range and above the 1× of a guide equal to the model.

# %%
MIN_PIANO_GAIN = 1.25     # guided piano RMS ÷ the model alone's (default mode)
x_test, sigma_test = 0.5 * torch.randn(1, len(STEMS), LENGTH, generator=torch.Generator().manual_seed(5)).to(device), 0.7
with torch.no_grad():
    d1, d0, dw = D(x_test, sigma_test), guided.guide(x_test, sigma_test), guided(x_test, sigma_test)
    d_one = models.AutoguidedDenoiser(D, guided.guide, 1.0)(x_test, sigma_test)
assert torch.allclose(dw - d1, (guided.weight - 1) * (d1 - d0), atol=1e-5), "D_w − D_1 must be (w − 1)(D_1 − D_0)"
assert torch.equal(d_one, d1), "w = 1 must be the model alone"
print("D_w = D_0 + w (D_1 − D_0) on a test input ✓; w = 1 is the model ✓")
plain_name, guided_name = rows
worst = {name: max(r.values()) for name, r in ratios.items()}
piano_gain = levels_of[guided_name]["piano"] / levels_of[plain_name]["piano"]
print(f"worst stem's distance ratio: model alone {worst[plain_name]:.1f}, autoguided {worst[guided_name]:.1f}; "
      f"piano level ×{piano_gain:.2f}")
if not course.QUICK:
    assert worst[guided_name] < worst[plain_name], f"autoguidance should bring the worst stem closer to real ones: {worst}"
    assert piano_gain > MIN_PIANO_GAIN, f"the guided piano should be louder than the model's own: ×{piano_gain:.2f}"
    print(f"autoguidance brings the worst stem closer to real stems ✓ and the piano up ×{piano_gain:.2f} ✓")

# %% [markdown]
# ## 6. Try it
#
# **Exercise 1.** The stems of one sample are generated *together*. Predict: if you generate the
# drums of sample A and the bass, guitar and piano of sample B, is the onset coherence of that
# pairing closer to the "same sample" or to the "other sample" number above? Build the shuffled
# set `my_shuffled` (shape `(N, 4, LENGTH)`) from `samples` by pairing each sample's drums with the
# other stems of the next sample, and compute its "same" coherence with `coherence(my_shuffled)[0]`.

# %%
my_shuffled = None  # your answer: a (N_SAMPLES, 4, LENGTH) tensor

# %%
exercises.shuffled_pairing(my_shuffled, samples, STEMS.index("drums"), coherence)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: roll every stem but the drums by one sample. The coherence lives in the pairing: the
# shuffled set scores what the "other sample" pairing scored in section 3.
my_shuffled = samples.clone()
others = [k for k, s in enumerate(STEMS) if s != "drums"]
my_shuffled[:, others] = samples[:, others].roll(-1, dims=0)
exercises.shuffled_pairing(my_shuffled, samples, STEMS.index("drums"), coherence)

# %% [markdown]
# **Exercise 2.** Generation starts from $x = \sigma_0 n$ with $\sigma_0$ = `config.sigma_max` (printed in
# section 1), far louder than the music. Predict the RMS of the starting noise, then read it off the sampler: run
# `tasks.generate` with a `callback` that stores the `step.x` of the first step, or simply compute
# `σ_0` from `config.sigmas()`. Store your number in `my_start_rms`.

# %%
my_start_rms = None  # your answer: a float

# %%
exercises.start_rms(my_start_rms, float(config.sigmas()[0]), float(data_rms.mean()))

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: x(σ0) = σ0·n with n ~ N(0, I), so its RMS is σ0. Measured on a fresh draw:
noise = tasks.initial_noise((1, len(STEMS), LENGTH), config.sigmas(), generator=torch.Generator().manual_seed(0))
my_start_rms = float(noise.pow(2).mean().sqrt())
exercises.start_rms(my_start_rms, float(config.sigmas()[0]), float(data_rms.mean()))

# %% [markdown]
# ## Summary
# * Total generation integrates the prior's probability-flow ODE for all four stems at once
#   (`tasks.generate`); the mix is the sum of the stems — nothing else ties them together.
# * Checks against the data: generated mixes sit in the data's loudness range, and the drums share
#   their onsets with the other stems of the *same* sample more than with another sample's (by more
#   than a threshold that independent noise stems do not reach).
# * The number of steps and the churn change the sample — its high-frequency energy and its level —
#   by amounts that vary with the seed; churn re-injects a little noise each step, which lets a
#   stochastic sampler correct its own errors (notebook 03).
# * Autoguidance extrapolates from a weaker version of the model (the same network at a third of its training)
#   through the model itself, $D_0 + w(D_1 - D_0)$: one more network call per step below σ 3, and the
#   stems the model leaves too quiet or too far from real ones come closer (section 5's checks).
#
# **Next:** [08 · Partial generation](08_partial_generation.ipynb) — keep some stems of a real song
# and let the model write the others.
