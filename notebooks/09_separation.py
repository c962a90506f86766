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
# # 09 · Separation: from a mixture back to its stems
#
# **At the end of this notebook you can** separate a mixture with the MSDM model in three ways —
# Dirac, Gaussian and ISDM — score the result with SI-SDRi under the paper's protocol, place it
# between a floor (equal split) and an oracle ceiling (ideal ratio mask), and choose a sampler
# and a number of steps from an SI-SDRi-against-NFE curve.
#
# *Prerequisites:* 03 (samplers), 05 (data), 07–08 (generation and imputation with the same
# model). *Run time:* one to two minutes on a laptop CPU (the optional ISDM models add one), seconds
# on a GPU; `MSDM_QUICK=1` shrinks it to a few seconds of audio.

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
# ## 1. The idea: sample the stems *given* the mixture
#
# Separation asks for the posterior $p(x_1,\dots,x_K \mid y)$ of the stems given their sum
# $y = \sum_k x_k$. By Bayes, its score is the prior's score — which the MSDM denoiser gives us,
# $\nabla \log p_\sigma(x) \approx (D(x;\sigma) - x)/\sigma^2$ — plus the score of a likelihood
# $p(y \mid x)$. The paper tries two likelihoods (with $s = (x - D(x;\sigma))/\sigma$, so that the
# probability-flow ODE of the prior is $dx/d\sigma = s$):
#
# * **Dirac**, $p(y \mid x) = \delta(y - \sum_n x_n)$: one stem $k$ is not sampled at all but
#   *defined* as the leftover, $x_k = y - \sum_{j\neq k} x_j$, and the others follow
#
# $$ \frac{dx_n}{d\sigma} = s_n - s_k \quad (n \ne k). $$
#
#   The stems sum to $y$ *exactly*, at every step. (`tasks.dirac_derivative`; the paper's
#   Algorithm 1 constrains the last stem, its code — and our default — the first.)
# * **Gaussian**, $p(y \mid x) = \mathcal N(y;\ \sum_n x_n,\ \gamma^2 I)$ with $\gamma = 0.75\sigma$:
#   every stem is pulled towards the mixture, $\;dx/d\sigma = s - \frac{\sigma}{2\gamma^2}\,(y - \sum_n x_n)$
#   (`tasks.gaussian_derivative`; the ½ is the authors' code, see `docs/tasks_closed_form.md`).
# * **ISDM** (the paper's *weakly supervised* variant: one diffusion model per stem, each trained on
#   its stem alone): the same two samplers, but the prior is a product $\prod_k p_k(x_k)$ of four
#   single-stem models (`tasks.ISDMDenoiser`). It knows what a bass sounds like, not how it goes with
#   the drums.
#
# The paper's settings are the presets `SeparationConfig.paper_dirac()` / `paper_gaussian()`:
# a Karras grid from σ = 1 down to 1e-4, ρ = 7, 150 Euler steps each taken R = 2 times ("correction"
# resamples, 300 network calls, *NFE*), with churn. `tasks.separate_long` cuts a song into chunks of
# the model's training length, separates them in one batch and stitches the stems back.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from msdm_tutorial import STEMS, checkpoints, metrics, plotting, tasks
from msdm_tutorial.baselines import equal_split, oracle_ratio_mask
from msdm_tutorial.data import list_tracks, load_track

plotting.use_style()
gen = course.seed_everything(0)
CKPTS = course.data_small() / "checkpoints"
D = checkpoints.load(CKPTS / "msdm-tiny.pt", device)
SR = D.sample_rate
CHUNK = 32 * D.net.downsampling        # the tiny model's training length: 32768 samples ≈ 1.5 s
print(f"MSDM model: stems {D.stems}, {SR} Hz, chunks of {CHUNK} samples ({CHUNK / SR:.2f} s)")

isdm_files = {stem: CKPTS / f"isdm-tiny-{stem}.pt" for stem in STEMS}
missing = [p.name for p in isdm_files.values() if not p.exists()]
if missing:
    ISDM = None
    print(f"ISDM: {', '.join(missing)} not found in {CKPTS} — the ISDM rows below are skipped.")
else:
    ISDM = tasks.ISDMDenoiser({stem: checkpoints.load(p, device) for stem, p in isdm_files.items()})
    print("ISDM: four single-stem models loaded")

# %% [markdown]
# The test songs of `data_small/toy` last 6 s. As in the paper's evaluation, each song is cut to a
# whole number of chunks (the paper drops the incomplete last chunk): 4 chunks = 5.94 s, scored in
# 4-s windows with a 2-s hop — two windows per song. Quick mode takes one chunk of two songs.

# %%
N_SONGS = course.size(6, 2)
CHUNKS_PER_SONG = course.size(4, 1)
tracks = list_tracks(course.data_small() / "toy", "test")[:N_SONGS]
names = [t.name for t in tracks]
X = torch.stack([load_track(t)[:, :CHUNKS_PER_SONG * CHUNK] for t in tracks])   # true stems (songs, K, T)
Y = X.sum(1, keepdim=True)                                                        # mixtures (songs, 1, T)
print(f"{len(names)} songs × {X.shape[-1] / SR:.2f} s: {', '.join(names)}")


def separate(denoiser, config, songs=None, seed=0):
    """Separate the mixtures of ``songs`` (default: all) in chunks of CHUNK, one batch, a progress bar."""
    y = Y if songs is None else Y[songs]
    g = torch.Generator(device=device).manual_seed(seed)
    bar = tqdm(total=config.num_steps, desc=f"{config.method} {config.sampler} {config.nfe} NFE", leave=False)
    est = tasks.separate_long(denoiser, y.to(device), config, chunk_length=CHUNK, batch_size=y.shape[0] * y.shape[-1] // CHUNK,
                              generator=g, callback=lambda step: bar.update(1))
    bar.close()
    return est.cpu()


def score(estimates, songs=None):
    """The paper's protocol (metrics.evaluate): per-stem mean SI-SDRi over 4-s windows, and their average."""
    idx = range(len(names)) if songs is None else songs
    return metrics.evaluate([(names[i], e, X[i]) for i, e in zip(idx, estimates)], SR)["summary"]

# %% [markdown]
# ## 2. See and hear it: Dirac separation of one song
#
# The Dirac method with the paper's σ grid and churn, but EDM's second-order Heun sampler with `STEPS`
# steps (2·STEPS − 1 network calls) instead of 150 Euler steps × R = 2: for this tiny model it is
# both cheaper and better (section 5 and `docs/benchmarks.md`). Churn acts per step (σ → σ(1 + γ),
# γ = S_churn / N), so `config.with_steps(n)` keeps the paper's γ rather than its S_churn. Grey behind each
# waveform: the true stem.

# %%
STEPS = course.size(24, 16)
dirac_cfg = tasks.SeparationConfig.paper_dirac().with_steps(STEPS).with_heun()
t0 = time.time()
dirac = separate(D, dirac_cfg)
print(f"Dirac, {dirac_cfg.nfe} NFE per chunk: {time.time() - t0:.0f} s for {X.shape[0] * X.shape[-1] / SR:.0f} s of audio")

# %%
truth = {stem: X[0, k] for k, stem in enumerate(STEMS)}
fig = plt.figure(figsize=(11, 1.5 * 5 + 0.8))
plotting.draw_stems(fig, {stem: dirac[0, k] for k, stem in enumerate(STEMS)}, SR, mix=Y[0, 0], reference=truth,
                    max_freq=5000, title=f"{names[0]}: Dirac estimates (colour) over the true stems (grey)")
plt.show()
print("Dirac estimates of", names[0], "and the mixture:")
plotting.players({**{stem: dirac[0, k] for k, stem in enumerate(STEMS)}, "mix": Y[0, 0]}, SR, columns=5)

# %% [markdown]
# ## 3. Check it: the Dirac stems add up to the mixture
#
# The constraint is built into the sampler (the constrained stem is redefined as the leftover
# before every network call and at the end), so this holds to float rounding, however good or bad
# the model is: float32 keeps about 7 digits, so the error can reach ~1e-6 of the largest stem.

# %%
residual = (dirac.sum(1, keepdim=True) - Y).abs().max().item()
rounding = 1e-6 * max(1.0, dirac.abs().max().item())
print(f"max |Σ stems − y| = {residual:.1e} (float32 rounding allows {rounding:.0e})")
assert residual < rounding, f"Dirac stems must sum to the mixture, but differ by up to {residual:.2e}"

# %% [markdown]
# ## 4. Measure it: SI-SDRi between a floor and a ceiling
#
# SI-SDR (`metrics.si_sdr`) compares an estimate $\hat s$ with the true stem $s$ after the best
# rescaling, $\alpha = \langle \hat s, s\rangle / \lVert s\rVert^2$:
# $\;\text{SI-SDR} = 10\log_{10} \lVert\alpha s\rVert^2 / \lVert\alpha s - \hat s\rVert^2$ dB, and
# SI-SDR**i** subtracts the score of the mixture itself, so 0 dB means "no better than the mix".
# The paper's protocol (`metrics.evaluate`) averages it over 4-s windows with a 2-s hop, skipping
# windows where at most one stem is playing. Two baselines frame the numbers:
#
# * **equal split** $\hat x_k = y/4$ (`baselines.equal_split`) — the floor. SI-SDR ignores scale, so it
#   scores exactly like the mixture: 0 dB.
# * **oracle ratio mask** (`baselines.oracle_ratio_mask`) — each STFT bin of $y$ shared among the stems
#   in proportion to their *true* power. It cheats (it looks at the answer), and marks what a
#   spectrogram mask could reach at best: an upper reference, not a hard bound.
#
# The Gaussian method needs a finer grid than Dirac: its likelihood term grows like $1/\sigma$, and at
# the paper's churn Euler diverges below about 48 steps, whatever R (`docs/tasks_closed_form.md`).
# To keep the cost near Dirac's, it takes 48 steps with R = 1 here; quick mode uses 24 steps without
# churn, the cheapest stable setting.

# %%
gauss_cfg = tasks.SeparationConfig.paper_gaussian().with_steps(48).replace(num_resamples=1)
if course.QUICK:
    gauss_cfg = gauss_cfg.replace(num_steps=24, s_churn=0.0)
rows = {"equal split (floor)": score(equal_split(Y, len(STEMS)))}
rows[f"MSDM Dirac ({dirac_cfg.nfe} NFE)"] = score(dirac)
rows[f"MSDM Gaussian ({gauss_cfg.nfe} NFE)"] = score(separate(D, gauss_cfg))
if ISDM is not None:
    isdm_cfg = tasks.SeparationConfig.paper_isdm_dirac().with_steps(STEPS)   # the paper's Euler sampler, R = 2
    rows[f"ISDM Dirac ({isdm_cfg.nfe} NFE × 4 models)"] = score(separate(ISDM, isdm_cfg))
else:
    print("ISDM rows skipped: no single-stem checkpoints (data_small/checkpoints/isdm-tiny-{stem}.pt).")
rows["oracle ratio mask (ceiling)"] = score(oracle_ratio_mask(X))


def table(rows):
    """A markdown table: one row per method, SI-SDRi (dB) per stem and the average."""
    lines = ["| method | " + " | ".join(STEMS) + " | average |", "|---|" + "---:|" * (len(STEMS) + 1)]
    for name, s in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{s['si_sdri'][k]:.2f}" for k in STEMS) + f" | **{s['average']:.2f}** |")
    return Markdown("\n".join(lines) + f"\n\nSI-SDRi in dB over {s['num_windows']} windows of {s['num_tracks']} songs.")


display(table(rows))

# %% [markdown]
# **The claim to check:** separation with the joint model must beat the floor on *every* stem —
# otherwise it would be better to hand back a quarter of the mixture four times. And the course's
# target for the shipped tiny model: an average of at least 6 dB on these songs (quick mode, with two
# short excerpts and fewer steps, asks for half of that).

# %%
MIN_GAIN_OVER_EQUAL_SPLIT_DB = 0.0          # per stem: Dirac − equal split
MIN_DIRAC_AVERAGE_DB = course.size(6.0, 3.0)   # the course's target for the shipped tiny model

floor, ours = rows["equal split (floor)"]["si_sdri"], rows[f"MSDM Dirac ({dirac_cfg.nfe} NFE)"]
gain = {k: ours["si_sdri"][k] - floor[k] for k in STEMS}
print("Dirac − equal split (dB):", {k: round(v, 2) for k, v in gain.items()})
assert all(np.isfinite(v) for v in gain.values()), "SI-SDRi must be finite"
assert min(gain.values()) > MIN_GAIN_OVER_EQUAL_SPLIT_DB, (
    f"Dirac separation must beat the equal split on every stem; it does not on "
    f"{[k for k, v in gain.items() if v <= MIN_GAIN_OVER_EQUAL_SPLIT_DB]} (gains {gain})")
assert ours["average"] >= MIN_DIRAC_AVERAGE_DB, (
    f"mean Dirac SI-SDRi {ours['average']:.2f} dB is below {MIN_DIRAC_AVERAGE_DB} dB")
print(f"Dirac beats the equal split on every stem; average {ours['average']:.2f} dB "
      f"(target {MIN_DIRAC_AVERAGE_DB} dB) ✓")

# %% [markdown]
# ## 5. How many steps? SI-SDRi against NFE, Euler and Heun
#
# Each network call costs the same, so the cost of a separation is its NFE. The paper's Euler
# sampler with R = 2 spends 2 calls per step; EDM's Heun sampler (Karras et al. 2022) also spends
# 2 per step (one fewer in total) but is second order. Same Dirac likelihood and churn per step, a few
# grid sizes, on the first song. The curves vary with the seed: read the trend, not the decimals.
#
# Why not fewer steps? The Dirac constraint makes the ODE *stiff* at large σ. There the denoiser
# barely moves the stems, $s \approx x/\sigma$, and since $x_k = y - \sum_{j\neq k} x_j$ each free stem's
# derivative $s_n - s_k$ contains the sum of all of them: the Jacobian is $(I + \mathbf{1}\mathbf{1}^\top)/\sigma$,
# with an eigenvalue $K/\sigma$ instead of the prior's $1/\sigma$. An Euler step from $\hat\sigma$ to
# $\sigma_{i+1}$ multiplies that mode by $1 - K(1 - \sigma_{i+1}/\hat\sigma)$, which grows unless
# $\sigma_{i+1}/\hat\sigma \ge 1 - 2/K = \tfrac12$. With the paper's churn per step the grid from σ = 1
# meets this from about 8 Euler steps (16 Heun steps; more for ISDM, whose churn is twice as large);
# below that, even the exact denoiser of Gaussian stems returns stems far louder than the mixture.

# %%
NFE_SONGS = [0]
GRID = course.size((16, 24, 32, 64), (16, 32))
curves = {"euler": ([], []), "heun": ([], [])}
for n in GRID:
    for sampler in curves:
        cfg = tasks.SeparationConfig.paper_dirac().with_steps(n)
        cfg = cfg.with_heun() if sampler == "heun" else cfg
        curves[sampler][0].append(cfg.nfe)
        curves[sampler][1].append(score(separate(D, cfg, songs=NFE_SONGS), songs=NFE_SONGS)["average"])
for sampler, (nfe, sdri) in curves.items():
    print(f"{sampler:>5}: " + ", ".join(f"{n} NFE → {v:.2f} dB" for n, v in zip(nfe, sdri)))

paper_cfg = tasks.SeparationConfig.paper_dirac()                   # Table 1: 150 Euler steps × R 2
paper_db = score(separate(D, paper_cfg, songs=NFE_SONGS), songs=NFE_SONGS)["average"]
print(f"paper: {paper_cfg.nfe} NFE → {paper_db:.2f} dB")

fig, ax = plt.subplots(figsize=(6, 3.5))
for sampler, (nfe, sdri) in curves.items():
    ax.plot(nfe, sdri, "o-", label="Euler, R = 2 (paper)" if sampler == "euler" else "Heun (EDM)")
ax.plot([paper_cfg.nfe], [paper_db], "k*", ms=10, label="paper's setting (150 × R 2, S_churn 20)")
ax.set(xscale="log", xlabel="network evaluations per chunk (NFE)", ylabel="average SI-SDRi (dB)",
       title=f"Dirac separation, {len(NFE_SONGS)} song(s)")
ax.legend()
plt.show()

# %% [markdown]
# **The claim to check:** a Heun setting with at most a third of the paper's 300 network calls
# separates at least as well as the paper's sampler, within 0.3 dB. With the tiny model it
# usually does better. More steps follow the model's score more faithfully, and so integrate
# its errors more faithfully too; the bass, which Dirac makes the leftover, pays first. On
# Gaussian stems with the exact denoiser the ranking is the other way round: the paper's grid
# wins (`docs/tasks_closed_form.md`). So the model, not the sampler, sets the quality here.
# Expect the paper's setting to pull ahead as a model improves.
#
# One 1.5-s excerpt (quick mode) is too little audio to rank two samplers: single excerpts swing by
# several dB either way. So the check runs in full mode only. `tests/test_shipped_quality.py` makes
# the same check on the whole test set, with `msdm evaluate`.

# %%
MAX_SHORTFALL_DB = 0.3
cheap = [db for n, db in zip(*curves["heun"]) if n <= paper_cfg.nfe / 3]
print(f"best Heun at ≤ {paper_cfg.nfe // 3} NFE: {max(cheap):.2f} dB vs the paper's {paper_db:.2f} dB at {paper_cfg.nfe} NFE")
if not course.QUICK:
    assert max(cheap) >= paper_db - MAX_SHORTFALL_DB, "a Heun setting at a third of the NFE should match the paper's sampler"
    print("Heun at a third of the cost matches the paper's sampler ✓")

# %% [markdown]
# ## 6. Try it
#
# **Exercise 1.** The Dirac method defines one stem as the leftover $y - \sum_{j\ne k} x_j$. Constrain
# the **piano** instead of the bass (`source_id="piano"` in the config) and separate the first chunk of
# the first song. Predict first: do the stems still sum to the mixture? Which stem collects the
# errors of the others? Store the estimates `(1, 4, CHUNK)` in `my_piano_constrained`.

# %%
my_piano_constrained = None  # your answer: estimates of shape (1, 4, CHUNK)

# %%
def check_constrained(est):
    y0 = Y[:1, :, :CHUNK]
    assert est.shape == (1, len(STEMS), CHUNK), f"expected shape (1, 4, {CHUNK}), got {tuple(est.shape)}"
    err = (est.sum(1, keepdim=True) - y0).abs().max().item()
    assert err < 1e-6 * max(1.0, est.abs().max().item()), f"the stems must still sum to the mixture (max error {err:.1e})"
    s = metrics.si_sdr_improvement(est[0], X[0, :, :CHUNK], y0[0])
    print("Right: they still sum to y. SI-SDRi per stem (dB):", {k: round(float(v), 1) for k, v in zip(STEMS, s)})


if my_piano_constrained is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    check_constrained(my_piano_constrained)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: any stem can be the leftover — the sum constraint holds either way. The leftover stem
# collects everything the sampled stems miss. On Gaussian sources (docs/tasks_closed_form.md),
# constraining the loudest stem gave the smallest error; the paper's code constrains the bass.
cfg = tasks.SeparationConfig.paper_dirac().replace(source_id="piano").with_steps(16)
y0 = Y[:1, :, :CHUNK].to(device)
my_piano_constrained = tasks.separate(D, y0, cfg, generator=torch.Generator(device=device).manual_seed(0)).cpu()
check_constrained(my_piano_constrained)

# %% [markdown]
# **Exercise 2.** SI-SDR is *scale invariant*. Predict the average SI-SDRi of the Dirac estimates
# multiplied by 2 (`2 * dirac`), then compute it with `score(...)` and store it in `my_scaled_average`.

# %%
my_scaled_average = None  # your answer: a float (dB)

# %%
if my_scaled_average is None:
    print("Not answered yet — the (hidden) solution cell below fills it in.")
else:
    assert abs(my_scaled_average - ours["average"]) < 1e-3, (
        f"{my_scaled_average:.3f} dB vs {ours['average']:.3f} dB unscaled. Hint: α absorbs any gain.")
    print(f"Right: {my_scaled_average:.2f} dB, unchanged — the equal split scores 0 dB for the same reason.")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: α = ⟨ŝ, s⟩/‖s‖² doubles with ŝ, and the ratio ‖αs‖²/‖αs − ŝ‖² does not change.
my_scaled_average = score(2 * dirac)["average"]
assert abs(my_scaled_average - ours["average"]) < 1e-3

# %% [markdown]
# ## Summary
# * Separation samples the stems from their posterior given the mixture: the **Dirac** likelihood makes
#   one stem the leftover (stems sum to $y$ exactly), the **Gaussian** one pulls all stems towards $y$
#   and needs a finer grid; **ISDM** swaps the joint prior for four single-stem models.
# * SI-SDRi under the paper's protocol (`metrics.evaluate`) places a method between the **equal split**
#   (0 dB, the floor) and the **oracle ratio mask** (a ceiling for masking methods); the joint model must
#   beat the floor on every stem.
# * Cost is NFE: the SI-SDRi-against-NFE curve tells you how many steps, and which sampler, a given
#   budget deserves.
#
# **Next:** [10 · Sampling lab](10_sampling_lab.ipynb) — every sampling knob of the three tasks in one
# interactive lab; then [11 · Reproducing the paper](11_reproduce_paper.ipynb) — the same protocol with
# the authors' checkpoints on Slakh2100.
