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
# *Prerequisites:* [03 · Samplers](03_samplers.ipynb), [05 · Data](05_data.ipynb),
# [07](07_generation.ipynb)–[08](08_partial_generation.ipynb) (generation and imputation with the same
# model). 
# *Run time:* 68 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`), most of it the table of section 4
# (with the ISDM models) and the step curves of section 5. Not yet measured on a GPU.

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
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from msdm_tutorial import STEMS, checkpoints, metrics, plotting, tasks
from msdm_tutorial.baselines import equal_split, oracle_ratio_mask
from msdm_tutorial.data import list_tracks, load_track
from msdm_tutorial.progress import StepProgress

D, SR, CHUNK = course.tiny_model(device)  # the MSDM model; CHUNK: its training length, 32768 samples ≈ 1.5 s

isdm_files = {stem: course.checkpoint(f"isdm-tiny-{stem}") for stem in STEMS}
missing = [p.name for p in isdm_files.values() if not p.exists()]
if missing:
    ISDM = None
    print(f"ISDM: {', '.join(missing)} not found in {course.checkpoint('msdm-tiny').parent} — the ISDM rows below are skipped.")
else:
    ISDM = tasks.ISDMDenoiser({stem: checkpoints.load(p, device) for stem, p in isdm_files.items()})
    print("ISDM: four single-stem models loaded")

# %% [markdown]
# The test songs of `data_small/toy` last 6 s. As in the paper's evaluation, each song is cut to a
# whole number of chunks (the paper drops the incomplete last chunk): 3 chunks = 4.46 s, scored in
# 4-s windows with a 2-s hop — one window per song (the whole test songs, in `docs/benchmarks.md`, give
# two each). Quick mode takes one chunk of two songs.
# The paper separates the chunks independently, so the stems can jump where chunks meet;
# `tasks.separate_long` overlaps them by a quarter chunk instead and separates the chunks that
# bridge two others with their overlaps held as known, as imputation holds known stems (seamless,
# the default; `docs/benchmarks.md` measures both; notebook 08, section 7, explains the idea).

# %%
N_SONGS = course.size(6, 2)
CHUNKS_PER_SONG = course.size(3, 1)
tracks = list_tracks(course.data_small() / "toy", "test")[:N_SONGS]
names = [t.name for t in tracks]
X = torch.stack([load_track(t)[:, :CHUNKS_PER_SONG * CHUNK] for t in tracks])   # true stems (songs, K, T)
Y = X.sum(1, keepdim=True)                                                        # mixtures (songs, 1, T)
print(f"{len(names)} songs × {X.shape[-1] / SR:.2f} s: {', '.join(names)}")


def separate(denoiser, config, songs=None, seed=0, chunking="seamless"):
    """Separate the mixtures of ``songs`` (default: all) in chunks of CHUNK, a progress bar.

    ``separate_long`` overlaps the chunks by a quarter and separates them in two batches, the second
    holding its overlap with the first as known (seamless; ``chunking="independent"`` is the paper's)."""
    y = Y if songs is None else Y[songs]
    g = torch.Generator(device=device).manual_seed(seed)
    runs = tasks.chunk_runs(y.shape[-1], CHUNK, tasks.default_overlap(CHUNK), chunking, y.shape[0],
                            y.shape[0] * y.shape[-1] // CHUNK)
    with StepProgress(runs * config.num_steps, f"{config.method} {config.sampler} {config.nfe} NFE") as bar:
        est = tasks.separate_long(denoiser, y.to(device), config, chunk_length=CHUNK, chunking=chunking,
                                  batch_size=y.shape[0] * y.shape[-1] // CHUNK, generator=g, callback=bar)
    return est.cpu()


def score(estimates, songs=None):
    """The paper's protocol (metrics.evaluate): per-stem mean SI-SDRi over 4-s windows, and their average."""
    idx = range(len(names)) if songs is None else songs
    return metrics.evaluate([(names[i], e, X[i]) for i, e in zip(idx, estimates)], SR)["summary"]

# %% [markdown]
# ## 2. See and hear it: Dirac separation of one song
#
# The Dirac method at the course's **recommended separation setting**, `presets.recommended_separation()`:
# the paper's own sampler (Euler with R = 2 correction resamples, σ from 1, ρ = 7) on 12 steps instead of
# 150, with its σ grid ending at 3·10⁻³ instead of 10⁻⁴ and less churn: 2·12 network calls per chunk
# instead of 300 (printed below). It is defined once in the library (`options.RECOMMENDED_SEPARATION`), and `msdm separate`,
# `msdm evaluate` and the sampling lab (notebook 10) start from it. It was chosen on 16 toy songs outside
# data_small (`benchmarks/separation_setting.py`, `docs/benchmarks.md`, "Separation: choosing the
# recommended setting") to fit a budget of 0.5 s of one CPU thread per second of audio; section 5
# shows why the grid ends higher than the paper's. Churn acts per step (σ → σ(1 + γ), γ = S_churn / N), so
# `config.with_steps(n)` keeps the paper's γ rather than its S_churn: 20 · 12 / 150 = 1.6. On 12 steps that
# re-noises more than the sampler takes back, and the recommended setting uses S_churn 0.4, for the ISDM
# models too (`docs/benchmarks.md`, "Separation: the churn of the recommended setting, MSDM and ISDM").
# Grey behind each waveform: the true stem.

# %%
from msdm_tutorial.presets import recommended_separation, settings_text

dirac_cfg = recommended_separation()
STEPS = dirac_cfg.num_steps
print("recommended setting:", settings_text(dirac_cfg))
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
# The same song as spectrograms: each true stem (top row) above its Dirac estimate (bottom row), in
# dB re full scale on one colour scale. What the estimate adds (energy where the true stem has none)
# or misses shows as a difference between the two rows; listen to the true stems below.

# %%
fig, axes = plt.subplots(2, len(STEMS), figsize=(13, 4.8), sharex=True, sharey=True, layout="constrained")
for k, stem in enumerate(STEMS):
    for row, (label, a) in enumerate((("true", X[0, k]), ("Dirac estimate", dirac[0, k]))):
        image = plotting.spectrogram(axes[row, k], a, SR, max_freq=5000, colorbar=False, title=f"{stem}: {label}")
        axes[row, k].set(xlabel="time (s)" if row == 1 else "", ylabel="frequency (kHz)" if k == 0 else "")
fig.colorbar(image, ax=axes, label=plotting.DB_LABEL, pad=0.01)
fig.suptitle(f"{names[0]}: true stems and Dirac estimates ({dirac_cfg.nfe} NFE)")
plt.show()
plotting.players({f"{stem} (true)": X[0, k] for k, stem in enumerate(STEMS)}, SR, columns=4)

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
# The Gaussian method's likelihood term grows like $1/\sigma$, which makes its ODE stiff too: it needs
# a finer grid than Dirac (section 5 measures from how many steps each method stays bounded, with the
# exact denoiser of Gaussian stems). Here it takes 48 Euler steps with R = 1, at a cost near Dirac's;
# quick mode uses 24 steps without churn. The cell after the table prints every row's setting.

# %%
gauss_cfg = tasks.SeparationConfig.paper_gaussian().with_steps(48).replace(num_resamples=1)
if course.QUICK:
    gauss_cfg = gauss_cfg.replace(num_steps=24, s_churn=0.0)
rows = {"equal split (floor)": score(equal_split(Y, len(STEMS)))}
rows[f"MSDM Dirac ({dirac_cfg.nfe} NFE)"] = score(dirac)
rows[f"MSDM Gaussian ({gauss_cfg.nfe} NFE)"] = score(separate(D, gauss_cfg))
if ISDM is not None:
    isdm_cfg = recommended_separation(isdm=True)   # the same setting for the ISDM models
    rows[f"ISDM Dirac ({isdm_cfg.nfe} NFE × 4 models)"] = score(separate(ISDM, isdm_cfg))
else:
    print("ISDM rows skipped: no single-stem checkpoints (data_small/checkpoints/isdm-tiny-{stem}.pt).")
rows["oracle ratio mask (ceiling)"] = score(oracle_ratio_mask(X))


def table(rows):
    """A markdown table: one row per method, SI-SDRi (dB) per stem and the average."""
    text = plotting.markdown_table(["method", *STEMS, "average"], ([name, *plotting.score_cells(s, STEMS)]
                                                                    for name, s in rows.items()))
    last = list(rows.values())[-1]
    return Markdown(text + f"\n\nSI-SDRi in dB over {last['num_windows']} windows of {last['num_tracks']} songs.")


display(table(rows))

# %% [markdown]
# **Which setting gave which number.** Each row is one model with one sampler setting, on the same
# songs and windows. The same models give other numbers elsewhere — `docs/benchmarks.md` ("Shipped tiny
# models") scores the whole 6-s songs with `msdm evaluate`, notebook 11 separates the songs one at a
# time — because the setting, the chunking, the audio scored or the random draws differ; each place
# states its setting next to its number, as this cell does. It also names any stem that scores below
# the floor: a method can lose to the equal split on one stem while beating it on average.

# %%
settings = {"MSDM Dirac": dirac_cfg, "MSDM Gaussian": gauss_cfg, **({"ISDM Dirac": isdm_cfg} if ISDM is not None else {})}
print(f"{len(names)} songs cropped to {CHUNKS_PER_SONG} chunks ({X.shape[-1] / SR:.2f} s) each, seed 0, "
      f"all songs in one batch; {rows['equal split (floor)']['num_windows']} windows")
for name, cfg in settings.items():
    label = next(r for r in rows if r.startswith(name))
    print(f"  {name}: {settings_text(cfg)} → average {rows[label]['average']:.2f} dB")
below = [f"{name} {k} ({s['si_sdri'][k]:.2f} dB)" for name, s in rows.items() for k in STEMS if round(s["si_sdri"][k], 2) < 0]
print("stems below the equal split (0 dB: worse than handing back y/4):", ", ".join(below) or "none")

# %% [markdown]
# **The claim to check:** separation with the joint model must beat the floor on *every* stem —
# otherwise it would be better to hand back a quarter of the mixture four times. And the course's
# target for the shipped tiny model: an average of at least 9 dB on these songs, issue 12's target at
# ≤ 50 network calls (quick mode, with two short excerpts, asks for 3 dB). The model shipped
# until 2026-12-03 averaged 8.67 dB on the whole test songs and would fail it.

# %%
MIN_GAIN_OVER_EQUAL_SPLIT_DB = 0.0          # per stem: Dirac − equal split
MIN_DIRAC_AVERAGE_DB = course.size(9.0, 3.0)   # the course's target for the shipped tiny model

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
# grid sizes, on the first song, whose chunks are separated independently as in the paper (this
# section compares samplers, not chunkings, and independent chunks cost 4 runs instead of 5).
# The curves vary with the seed: read the trend, not the decimals.
# Why not fewer steps than these? The end of this section shows that below some step count the
# Dirac ODE blows up, whatever the model.

# %%
NFE_SONGS = [0]
GRID = course.size((16, 24), (16, 32))
curves = {"euler": ([], []), "heun": ([], [])}
for n in GRID:
    for sampler in curves:
        cfg = tasks.SeparationConfig.paper_dirac().with_steps(n)
        cfg = cfg.with_heun() if sampler == "heun" else cfg
        curves[sampler][0].append(cfg.nfe)
        curves[sampler][1].append(score(separate(D, cfg, songs=NFE_SONGS, chunking="independent"), songs=NFE_SONGS)["average"])
for sampler, (nfe, sdri) in curves.items():
    print(f"{sampler:>5}: " + ", ".join(f"{n} NFE → {v:.2f} dB" for n, v in zip(nfe, sdri)))

paper_cfg = tasks.SeparationConfig.paper_dirac()                   # Table 1: 150 Euler steps × R 2
paper_db = score(separate(D, paper_cfg, songs=NFE_SONGS, chunking="independent"), songs=NFE_SONGS)["average"]
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
# **Equal budgets.** Each Euler grid (R = 2, 2N network calls) has a Heun twin with one call fewer
# (2N − 1). Which sampler is ahead at each budget, in this run:

# %%
ahead = []
for (n_e, db_e), (n_h, db_h) in zip(zip(*curves["euler"]), zip(*curves["heun"])):
    winner = "Euler, R = 2" if db_e > db_h else "Heun"
    ahead.append(winner)
    print(f"{n_e:4d} vs {n_h:4d} NFE: Euler, R = 2 {db_e:5.2f} dB | Heun {db_h:5.2f} dB → {winner} ahead by {abs(db_e - db_h):.2f} dB")
print(f"Euler with R = 2 is ahead at {ahead.count('Euler, R = 2')} of {len(ahead)} budgets, Heun at {ahead.count('Heun')}.")

# %% [markdown]
# **The claim to check:** with the shipped model the paper's setting is worth its cost: it separates
# better than any Heun setting with at most a third of its 300 network calls (the cell below prints
# both). That is a claim against the paper's *setting*; against Euler at the *same* budget, read the
# equal-budget printout above. It was not always so. The model shipped until 2026-12-03 (`tiny`,
# trained on 24 songs) separated as well with Heun at 47 calls as with the paper's 300: more steps
# follow the model's score more faithfully, and so integrate its errors more faithfully too. On
# Gaussian stems with the exact denoiser the paper's grid is the most accurate
# (`docs/tasks_closed_form.md`), so the paper's setting should pull ahead as a model improves; with
# the `tiny-wide` model it does (`docs/training_recipe.md`, "With the better model, the sampler
# matters more", measured it on the whole test set before the fine-tune: 13.21 dB at 300 calls against
# 10.52 dB for Heun at 47; the cell below checks it for the shipped model).
#
# One 1.5-s excerpt (quick mode) is too little audio to rank two samplers: single excerpts swing by
# several dB either way. So the check runs in full mode only.

# %%
cheap = [db for n, db in zip(*curves["heun"]) if n <= paper_cfg.nfe / 3]
print(f"best Heun at ≤ {paper_cfg.nfe // 3} NFE: {max(cheap):.2f} dB vs the paper's {paper_db:.2f} dB at {paper_cfg.nfe} NFE")
if not course.QUICK:
    assert paper_db > max(cheap), "with the shipped model the paper's 300-NFE setting should beat Heun at a third of the cost"
    print(f"the paper's setting is ahead of Heun at a third of its cost by {paper_db - max(cheap):.2f} dB ✓")

# %% [markdown]
# **Where the grid ends: σ_min.** The recommended setting takes only 12 steps, and on 12 steps the
# paper's grid (ρ = 7 from 1 down to 10⁻⁴) ends badly: its last steps shrink σ by a factor of 3–5 each
# (the cell prints the smallest ratio σ_{i+1}/σ_i of each grid). A likely cause, not shown here: the
# stiffness that the end of this section derives for the top of the grid can return at the bottom —
# wherever the model removes what is left of the noise entirely (in a rest, at frequencies a stem does
# not play) the Dirac derivative has the same K/σ mode, and an Euler step that more than halves σ
# amplifies it. (The exact Gaussian denoiser of that section keeps the noise at small σ, so its table
# cannot show this.) Ending the grid at 3·10⁻³, well below the stems' level (printed), gives those steps
# to σ that matter: its smallest ratio is the 24-step paper grid's, at half the calls. `docs/benchmarks.md` ("Separation: choosing the
# recommended setting") measures what it is worth on 16 songs; `tests/test_shipped_quality.py` checks on
# the whole test set that the recommended setting beats the paper's grid and churn at the same 24 calls
# by more than 1 dB.
# The cell runs both on the first song (independent chunks, as the curves above; one song is an
# illustration, not a ranking).
#
# The top of the grid stays the paper's σ_max = 1. For the model shipped until 2026-12-03 starting
# lower (0.5) paid, because the toy stems are quieter than the σ_data = 0.2 the paper tuned σ_max for;
# for today's model the same benchmark finds it no longer does.

# %%
def smallest_ratio(cfg):
    """The smallest σ_{i+1}/σ_i of a grid, before its final step to σ = 0."""
    s = cfg.sigmas()
    return float((s[1:-1] / s[:-2]).min())


quietest = min(float(X[:, i].pow(2).mean().sqrt()) for i in range(len(STEMS)))
paper_grid = dirac_cfg.replace(sigma_min=tasks.SeparationConfig.paper_dirac().sigma_min)   # the paper's grid
assert torch.equal(paper_grid.sigmas(), tasks.SeparationConfig.paper_dirac().with_steps(STEPS).sigmas())  # σ grid only
print(f"σ_min {dirac_cfg.sigma_min:g} is {20 * math.log10(quietest / dirac_cfg.sigma_min):.0f} dB below the "
      f"quietest stem's RMS ({quietest:.3f})")
end_db = {}
for label, cfg in {"recommended": dirac_cfg, "paper's grid": paper_grid}.items():
    end_db[label] = score(separate(D, cfg, songs=NFE_SONGS, chunking="independent"), songs=NFE_SONGS)["average"]
    print(f"  {label:>13}: {settings_text(cfg)}, smallest σ ratio {smallest_ratio(cfg):.2f} → "
          f"{end_db[label]:.2f} dB on {names[NFE_SONGS[0]]}")
longer = tasks.SeparationConfig.paper_dirac().with_steps(2 * STEPS)
print(f"  the paper's grid on {2 * STEPS} steps: smallest σ ratio {smallest_ratio(longer):.2f}")
assert smallest_ratio(dirac_cfg) > 0.45 > 0.3 > smallest_ratio(paper_grid), \
    "the recommended grid should end with steps as fine as the 24-step paper grid's, the 12-step paper grid coarser"
assert abs(smallest_ratio(dirac_cfg) - smallest_ratio(longer)) < 0.01

# %% [markdown]
# **Why not fewer steps?** The Dirac constraint makes the ODE *stiff* at large σ. There the denoiser
# barely moves the stems, $s \approx x/\sigma$, and since $x_k = y - \sum_{j\neq k} x_j$ each free stem's
# derivative $s_n - s_k$ contains the sum of all of them: the Jacobian is $(I + \mathbf{1}\mathbf{1}^\top)/\sigma$,
# with an eigenvalue $K/\sigma$ instead of the prior's $1/\sigma$. An Euler step from $\hat\sigma$ to
# $\sigma_{i+1}$ multiplies that mode by $1 - K(1 - \sigma_{i+1}/\hat\sigma)$, which grows unless
# $\sigma_{i+1}/\hat\sigma \ge 1 - 2/K = \tfrac12$ — a grid too coarse at the top makes the free stems
# blow up while they still sum to $y$. The Gaussian likelihood adds a pull that grows like $1/\sigma$.
#
# From how many steps is a grid fine enough? The model's errors would blur the answer, so the cell
# below uses a model without errors: the exact denoiser of independent Gaussian stems,
# $D_k(x;\sigma) = x_k\, v_k/(v_k + \sigma^2)$, whose Dirac posterior is known in closed form
# (variance $v_k - v_k^2/\sum_j v_j$; `docs/tasks_closed_form.md`). A setting *blows up* when a stem's
# output variance exceeds `BLOW_UP` times that exact posterior variance. The calibration, printed
# under the table: bounded settings come out near 1 (off by the samplers' bias), diverged ones grow by
# orders of magnitude within a few grid sizes; at the edge of stability the ratio passes the
# threshold continuously, so a step count moves by about one grid size with it. Each row keeps a preset's churn per step
# (`with_steps`), except the one that holds S_churn = 20 fixed, as a slider does; the numbers are
# the smallest step count of the grid from which every finer grid stays bounded.

# %%
class GaussianStems:
    """The exact denoiser of independent Gaussian stems N(0, v_k): D_k(x; σ) = x_k·v_k / (v_k + σ²)."""
    stems = STEMS

    def __init__(self, var):
        self.var = var.view(1, -1, 1)

    def __call__(self, x, sigma):
        return x * self.var / (self.var + float(sigma) ** 2)


BLOW_UP = 2.0
var = torch.tensor([0.3, 0.2, 0.12, 0.06]) ** 2                         # bass … piano, loudest first
exact_var = var - var ** 2 / var.sum()                                  # the Dirac posterior's variance
gaussian_stems = GaussianStems(var)
y_grid = var.sum().sqrt() * torch.linspace(-2, 2, 32).expand(512, 1, 32)   # mixtures from −2 to +2 sd


def variance_ratio(config):
    """The largest per-stem output variance over the exact posterior's (512 draws per mixture value)."""
    x = tasks.separate(gaussian_stems, y_grid, config, generator=torch.Generator().manual_seed(0))
    return float((x.var(0).mean(-1) / exact_var).max())


STIFF_GRID = (4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48)
dirac_preset, isdm_preset, gauss_preset = (tasks.SeparationConfig.paper_dirac(), tasks.SeparationConfig.paper_isdm_dirac(),
                                           tasks.SeparationConfig.paper_gaussian())
stiff_settings = {   # label -> steps -> config
    "Dirac, Euler R = 1": lambda n: dirac_preset.with_steps(n).replace(num_resamples=1),
    "Dirac, Euler R = 2": lambda n: dirac_preset.with_steps(n),
    "Dirac, Heun": lambda n: dirac_preset.with_steps(n).with_heun(),
    "Dirac, Euler R = 1, S_churn 20 fixed": lambda n: dirac_preset.replace(num_steps=n, num_resamples=1),
    "Dirac, ISDM's churn, Euler R = 2": lambda n: isdm_preset.with_steps(n),
    "Dirac, ISDM's churn, Heun": lambda n: isdm_preset.with_steps(n).with_heun(),
    "Gaussian, Euler R = 1": lambda n: gauss_preset.with_steps(n).replace(num_resamples=1),
    "Gaussian, Euler R = 2": lambda n: gauss_preset.with_steps(n),
}
ratios = {label: [variance_ratio(make(n)) for n in STIFF_GRID] for label, make in stiff_settings.items()}
bounded_from = {label: next(n for i, n in enumerate(STIFF_GRID) if max(r[i:]) < BLOW_UP) for label, r in ratios.items()}
print("output variance ÷ exact posterior variance (largest over stems), by number of steps:")
print(f"{'':>38} " + " ".join(f"{n:>7d}" for n in STIFF_GRID) + "   bounded from")
for label, r in ratios.items():
    print(f"{label:>38} " + " ".join(f"{v:7.3g}" for v in r) + f"   {bounded_from[label]} steps")
all_ratios = [v for r in ratios.values() for v in r]
print(f"calibration: bounded settings {min(all_ratios):.2f}–{max(v for v in all_ratios if v < BLOW_UP):.2f}, "
      f"blown-up ones {min(v for v in all_ratios if v >= BLOW_UP):.3g}–{max(all_ratios):.3g} (threshold {BLOW_UP})")

# %% [markdown]
# The check pins what the text says: with too few steps every setting blows up, even with a model
# that makes no error; fine grids stay bounded; Heun needs more steps than Euler before it is stable,
# and the Gaussian likelihood more than Dirac.

# %%
for label, r in ratios.items():
    assert r[0] > BLOW_UP and r[-1] < BLOW_UP, f"{label}: expected a blow-up at {STIFF_GRID[0]} steps only, got {r}"
assert bounded_from["Dirac, Heun"] > bounded_from["Dirac, Euler R = 2"], bounded_from
assert bounded_from["Gaussian, Euler R = 1"] > bounded_from["Dirac, Euler R = 1"], bounded_from
assert max(bounded_from[k] for k in ("Dirac, Euler R = 2", "Dirac, Heun")) <= min(GRID), \
    "section 5's smallest grid should be a stable one"
print("Too few steps blow up, fine grids do not ✓ | Dirac from", bounded_from["Dirac, Euler R = 2"],
      "Euler (R = 2) and", bounded_from["Dirac, Heun"], "Heun steps; Gaussian (R = 1) from",
      bounded_from["Gaussian, Euler R = 1"], "✓")

# %% [markdown]
# ## 6. Try it
#
# **Exercise 1.** The Dirac method defines one stem as the leftover $y - \sum_{j\ne k} x_j$. Constrain
# the **piano** instead of the bass (`source_id="piano"` in the config) and separate the first chunk of
# the first song. Predict first: do the stems still sum to the mixture? Does the leftover stem, which
# takes whatever the others miss, come out worst? Store the estimates `(1, 4, CHUNK)` in `my_piano_constrained`.

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
# Solution: any stem can be the leftover — the sum constraint holds either way. Whether the leftover
# comes out worst is not fixed: its error is minus the sum of the sampled stems' errors, and those can
# partly cancel, so the last line ranks the stems as this run measures them. (On Gaussian sources,
# docs/tasks_closed_form.md, constraining the loudest stem gave the smallest error; the paper's code
# constrains the bass.)
cfg = tasks.SeparationConfig.paper_dirac().replace(source_id="piano").with_steps(16)
y0 = Y[:1, :, :CHUNK].to(device)
my_piano_constrained = tasks.separate(D, y0, cfg, generator=torch.Generator(device=device).manual_seed(0)).cpu()
check_constrained(my_piano_constrained)
sdri = dict(zip(STEMS, metrics.si_sdr_improvement(my_piano_constrained[0], X[0, :, :CHUNK], y0[0].cpu()).tolist()))
ranked = sorted(sdri, key=sdri.get, reverse=True)
print(f"Ranked by SI-SDRi: {', '.join(f'{k} {sdri[k]:.1f} dB' for k in ranked)}; the leftover (piano) ranks "
      f"{ranked.index('piano') + 1} of {len(STEMS)} — it {'is' if ranked[-1] == 'piano' else 'is not'} the worst stem here.")

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
print(f"Average SI-SDRi of 2 × the Dirac estimates: {my_scaled_average:.2f} dB; unscaled: {ours['average']:.2f} dB.")

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
