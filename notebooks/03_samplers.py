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
# # 03 · Samplers: Euler, Heun, churn and ADPM2
#
# **At the end of this notebook you can** run the four samplers MSDM uses or builds on, count
# their network evaluations (NFE), and measure how their error falls as you spend more
# evaluations — against an *exact* denoiser, so that every bit of error you see is the sampler's.
#
# *Prerequisites:* [01 · Diffusion basics](01_diffusion_basics.ipynb),
# [02 · Schedules](02_schedules_and_preconditioning.ipynb). 
# *Run time:* 29 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`); a GPU is not needed.

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from msdm_tutorial import plotting, samplers, schedules, toy2d

torch.set_num_threads(1)  # the 2-D tensors here are tiny: extra threads cost more than they save

# %% [markdown]
# ## 1. The idea: four ways to walk down the σ grid
#
# Every sampler here integrates the probability-flow ODE of notebook 01 down a Karras grid
# $\sigma_0 > \dots > \sigma_{N-1} > \sigma_N = 0$ (notebook 02):
#
# $$ \frac{\mathrm dx}{\mathrm d\sigma} = d(x,\sigma) = \frac{x - D(x;\sigma)}{\sigma} .$$
#
# * **Euler** (first order): $x_{i+1} = x_i + (\sigma_{i+1}-\sigma_i)\,d(x_i,\sigma_i)$ — one
#   evaluation of $D$ per step; its error shrinks like $1/N$.
# * **Heun** (second order, EDM's Algorithm 2): take the Euler step, evaluate $d$ again at the
#   end point, and redo the step with the average slope — two evaluations per step (one on the
#   last step, which lands on σ = 0), error shrinking like $1/N^2$.
# * **Churn** (stochastic): before each step, add fresh noise to climb from $\sigma_i$ to
#   $\hat\sigma = \sigma_i(1+\gamma)$, $\gamma = \min(S_{\text{churn}}/N, \sqrt2-1)$, then step down.
#   The new noise washes out errors made earlier. MSDM's separation sampler is this Euler loop,
#   optionally repeated $R$ times per step ("resamples", re-noising back up in between).
# * **ADPM2** (ancestral DPM-Solver-2, as in audio-diffusion-pytorch 0.0.43, which MSDM's code
#   uses): a midpoint step down to a lower $\sigma_{\text{down}}$, then fresh noise $\sigma_{\text{up}}$
#   back up to $\sigma_{i+1}$; two evaluations per step; it stops at $\sigma_{\min}$.
#
# In the library they are `samplers.euler`, `samplers.heun`, `samplers.adpm2` (and `*_steps`
# generators that yield a `Step` per σ step, whose `nfe` field counts evaluations so far). They
# take the derivative function, not the network: `samplers.score_derivative(D)` builds it.
#
# Our test bench: the ring mixture of notebook 01 with its **exact** denoiser.

# %%
gm = toy2d.ring_mixture()      # notebook 01's ring (the defaults): 8 Gaussians of std 0.15 on a circle of radius 2
deriv = samplers.score_derivative(gm.denoiser)
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0


def grid(n):
    """The Karras grid with n steps (n + 1 values, the last one 0)."""
    return schedules.karras_sigmas(n, SIGMA_MIN, SIGMA_MAX, RHO)


B = course.size(10_000, 2_000)                       # samples per run
noise0 = torch.randn(B, 2, generator=gen)           # one fixed draw of initial noise for every run
x_start = SIGMA_MAX * noise0


def fresh_gen(seed=1):
    return torch.Generator().manual_seed(seed)


SAMPLERS = {                                         # name -> function(n steps) -> list of Steps
    "euler": lambda n: list(samplers.euler_steps(deriv, x_start, grid(n))),
    "heun": lambda n: list(samplers.heun_steps(deriv, x_start, grid(n))),
    "euler + churn (S=20, R=2)": lambda n: list(samplers.euler_steps(
        deriv, x_start, grid(n), s_churn=20.0, num_resamples=2, generator=fresh_gen())),
    "adpm2": lambda n: list(samplers.adpm2_steps(deriv, x_start, grid(n), generator=fresh_gen())),
}

# %% [markdown]
# ## 2. Counting evaluations
#
# The cost of a sampler is the number of times it calls the network, the NFE. With $N$ steps:
# Euler $N$; Heun $2N-1$; churn with $R$ resamples $RN$; ADPM2 $2(N-1)$. Check it with `Step.nfe`:

# %%
N_SHOW = 18
nfe = {name: run(N_SHOW)[-1].nfe for name, run in SAMPLERS.items()}
print(f"N = {N_SHOW} steps:", nfe)
assert nfe == {"euler": N_SHOW, "heun": 2 * N_SHOW - 1, "euler + churn (S=20, R=2)": 2 * N_SHOW,
               "adpm2": 2 * (N_SHOW - 1)}, nfe

# %% [markdown]
# ## 3. See it: Euler vs Heun at the same cost
#
# Start 40 points from the same noise and compare Euler with 20 steps and Heun with 10 steps
# (about 20 evaluations each) to a reference — Heun with a very fine grid, which is as close to
# the exact ODE solution as we need. Only the last part of the paths (σ ≤ 3) is drawn, where the
# blobs form.

# %%
N_REF = course.size(1024, 512)
reference_late = []                                  # the reference runs once: its first 40 paths below σ = 3 are drawn,
for st in samplers.heun_steps(deriv, x_start, grid(N_REF)):   # its end points are what section 4 measures against
    if st.sigma <= 3.0:
        reference_late.append(st.x[:40].clone())
reference = st.x
euler20, heun10 = SAMPLERS["euler"](20), SAMPLERS["heun"](10)
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (title, late) in zip(axes, [
        (f"Euler, 20 steps (NFE {euler20[-1].nfe})", [st for st in euler20 if st.sigma <= 3.0]),
        (f"Heun, 10 steps (NFE {heun10[-1].nfe})", [st for st in heun10 if st.sigma <= 3.0]),
        (f"reference: Heun, {N_REF} steps", reference_late)]):
    plotting.trajectory_plot(ax, late, num_paths=40, data=gm.sample(3000, generator=gen), lim=3, title=title)
    ax.scatter(reference[:40, 0], reference[:40, 1], marker="x", color="#e4572e", s=25, zorder=4, label="reference end")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.02))  # off the data
fig.subplots_adjust(bottom=0.16)
plt.show()

# %% [markdown]
# ## 4. Measure it: error against the exact solution, as a function of NFE
#
# For the deterministic samplers the comparison can be made point by point: same initial noise,
# same ODE, so the error is the mean distance $\mathbb E\|x^{\text{sampler}} - x^{\text{ref}}\|$
# of the final samples. We compare Euler and Heun **at equal NFE**: Heun with $N$ steps against
# Euler with $2N-1$ steps.

# %%
HEUN_STEPS = course.size([4, 8, 16, 32, 64, 128, 256], [4, 8, 16, 32, 64, 128])
path_error = {"euler": ([], []), "heun": ([], [])}
for n in HEUN_STEPS:
    for name, steps in [("heun", n), ("euler", 2 * n - 1)]:
        out = SAMPLERS[name](steps)[-1]
        path_error[name][0].append(out.nfe)
        path_error[name][1].append((out.x - reference).norm(dim=1).mean().item())
for k, n in enumerate(HEUN_STEPS):
    print(f"NFE {path_error['heun'][0][k]:4d}: Euler error {path_error['euler'][1][k]:.2e} | "
          f"Heun error {path_error['heun'][1][k]:.2e}")

fig, ax = plt.subplots(figsize=(6.5, 4.2))
plotting.loglog_error(ax, path_error, ylabel="mean ‖x − x_ref‖ (same noise)")
ax.set_title("deterministic samplers vs the exact ODE solution")
plt.show()

# %% [markdown]
# What you see: with very few evaluations Heun is *worse* than Euler — its big steps overshoot
# where the ring's blobs form (σ around their spacing and width), and its correction evaluates
# $D$ at a point that has already flown off. Once the steps are fine enough to resolve that region
# (the check prints the first budget where Heun wins), Heun's second order takes over: doubling
# the NFE divides Euler's error by about 2 and Heun's by about 4 (slopes −1 and −2 on the log-log plot).
#
# **Check it.** At the smallest budget Euler beats Heun; at every matched budget of at least 30
# evaluations Heun beats Euler, the gap grows with NFE (at the largest budget at least ×4), and the
# fitted slopes over the finest budgets are those of a first- and a second-order method.

# %%
nfe_h, err_h = map(np.array, path_error["heun"])
nfe_e, err_e = map(np.array, path_error["euler"])
assert np.array_equal(nfe_h, nfe_e), "the comparison must be at equal NFE"
assert err_h[0] > err_e[0], f"at NFE {nfe_h[0]} Heun ({err_h[0]:.2e}) should still lose to Euler ({err_e[0]:.2e})"
heun_wins = nfe_h[err_h < err_e]
print(f"Heun loses at NFE {nfe_h[0]} (error {err_h[0]:.2e} vs Euler's {err_e[0]:.2e}) and wins from NFE {heun_wins.min()} on")
assert all(f in heun_wins for f in nfe_h if f >= heun_wins.min()), "once Heun wins, it keeps winning"
for f, eh, ee in zip(nfe_h, err_h, err_e):
    if f >= 30:
        assert eh < ee, f"at NFE {f} Heun ({eh:.2e}) should beat Euler ({ee:.2e})"
assert err_e[-1] / err_h[-1] > 4, f"at NFE {nfe_h[-1]} Heun is only {err_e[-1] / err_h[-1]:.1f}x better"
slope_e = np.polyfit(np.log(nfe_e[-3:]), np.log(err_e[-3:]), 1)[0]
slope_h = np.polyfit(np.log(nfe_h[-3:]), np.log(err_h[-3:]), 1)[0]
print(f"fitted slopes: Euler {slope_e:.2f} (order 1 → −1), Heun {slope_h:.2f} (order 2 → −2); "
      f"at NFE {nfe_h[-1]} Heun is {err_e[-1] / err_h[-1]:.0f}x more accurate")
assert -1.3 < slope_e < -0.7, slope_e
assert slope_h < -1.6, slope_h

# %% [markdown]
# ## 5. Stochastic samplers: compare distributions, not paths
#
# Churn and ADPM2 inject fresh noise, so their samples do not follow the ODE paths; the right
# question is whether they land on the right *distribution*. Two measures with known targets:
# * **blur**: the mean squared distance of a sample to its nearest blob centre, divided by the
#   value for true data, $2 s^2 = 0.045$. It is 1 for perfect samples, above 1 when samples are
#   left noisy, below 1 when they are pulled too tightly onto the centres;
# * **covariance error**: $\max|\hat C - C|/C_{11}$ against the mixture's covariance $2.0225\,I$.
#
# True samples of the same size give the Monte-Carlo floor of both.

# %%
def blur(x):
    d2 = ((x[:, None] - gm.means[None]) ** 2).sum(-1).min(1).values
    return (d2.mean() / (2 * gm.stds[0] ** 2)).item()


def cov_error(x):
    return ((torch.cov(x.T) - gm.covariance()).abs().max() / gm.covariance()[0, 0]).item()


truth = gm.sample(B, generator=gen)
floor = {"blur": abs(blur(truth) - 1), "cov": cov_error(truth)}
STEPS = course.size([4, 8, 16, 32, 64, 128], [4, 8, 16, 32, 64])
dist = {name: {"nfe": [], "blur": [], "cov": [], "x": {}} for name in SAMPLERS}
for name, run in SAMPLERS.items():
    for n in STEPS:
        out = run(n)[-1]
        dist[name]["nfe"].append(out.nfe)
        dist[name]["blur"].append(blur(out.x))
        dist[name]["cov"].append(cov_error(out.x))
        dist[name]["x"][n] = out.x
    print(f"{name:>26}: blur " + " ".join(f"{b:5.2f}" for b in dist[name]["blur"]) + f"  (NFE {dist[name]['nfe']})")
print(f"{'true samples':>26}: blur {blur(truth):5.2f}, covariance error {floor['cov']:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
plotting.loglog_error(axes[0], {k: (v["nfe"], np.abs(np.array(v["blur"]) - 1)) for k, v in dist.items()},
                      ylabel="|blur − 1|", slopes=(1,))
plotting.loglog_error(axes[1], {k: (v["nfe"], v["cov"]) for k, v in dist.items()},
                      ylabel="covariance error", slopes=(1,))
for ax, key, top in zip(axes, ["blur", "cov"], [30, 3]):
    ax.set_ylim(top=top)                             # Heun's blow-up at its smallest budget is off the chart
    ax.axhline(floor[key], color="0.3", ls="--", lw=1)
    ax.text(ax.get_xlim()[0] * 1.1, floor[key] * 1.15, "true samples", color="0.3", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the curves: plain Euler leaves its samples noisy at small budgets (blur ≫ 1) and cleans
# up like NFE⁻¹; Heun again blows up with too few steps and then drops to the Monte-Carlo floor
# fastest; ADPM2 is the most forgiving at tiny budgets. Euler with churn overshoots the other way:
# at moderate budgets its samples sit *too tight* around the centres (blur < 1; the cell below
# prints by how much) — the fresh noise is removed again by Euler steps that each slightly
# over-shrink. EDM saw the same loss of detail with too much churn and counters it with
# $S_{\text{noise}}$ slightly above 1 and a restricted σ range $[S_{t\min}, S_{t\max}]$
# (`samplers.heun` takes all three, `samplers.euler` the last two); MSDM tunes $S_{\text{churn}}$ per
# task. On the music model one $S_{\text{noise}}$ for all stems is no cure: it brings a stem that the
# churn wears down back up and floods the stems that the network already under-denoises
# (`docs/training_recipe.md`, section 4, "Where the generated piano goes quiet").
#
# %%
churn = dist["euler + churn (S=20, R=2)"]
tight = [(f, b) for f, b in zip(churn["nfe"], churn["blur"]) if b < 1]
print("euler + churn, too tight (blur < 1): " + ", ".join(f"NFE {f}: {1 - b:.0%} tighter than the data" for f, b in tight))
assert tight, "churn with S = 20 should over-shrink at some budget"
smallest = {name: (d["nfe"][0], d["blur"][0]) for name, d in dist.items()}
print("smallest budget per sampler (NFE, blur):", {k: (f, round(b, 2)) for k, (f, b) in smallest.items()})
assert min(smallest, key=lambda k: abs(smallest[k][1] - 1)) == "adpm2", "ADPM2 is the most forgiving at tiny budgets"

# %% [markdown]
# And look at the samples themselves at a small budget (about 30 evaluations):

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, (name, n) in zip(axes, [("euler", 32), ("heun", 16), ("euler + churn (S=20, R=2)", 16), ("adpm2", 16)]):
    x = dist[name]["x"][n]
    nfe_used = dist[name]["nfe"][STEPS.index(n)]
    plotting.scatter2d(ax, x[:3000], lim=3, title=f"{name}\n{n} steps, NFE {nfe_used}, blur {blur(x):.2f}")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check it.** With enough evaluations every sampler reaches the target distribution: at the
# largest budget, each one's blur is within 25 % of 1 and its covariance within 10 %, and the
# deterministic Heun — whose paths you measured above — is as good as true samples up to
# Monte-Carlo error. With 4 steps, plain Euler leaves its samples visibly noisy (blur > 2). Does
# fresh noise help against that? Compare at the same number of evaluations, not the same number
# of steps (churn with R = 2 spends two per step):
# * ADPM2 with 4 steps (6 evaluations) is closer to blur 1 than Euler with 8 steps (8 evaluations);
# * churn with 4 steps (8 evaluations) is *further* from it than Euler with 8 steps: so coarse a
#   grid leaves nothing for the resamples to fix;
# * at 16 evaluations churn is closer to blur 1 than Euler; with more, its over-shrinking (below)
#   leaves it further from 1 than Euler at the same cost (checked from 64 evaluations on).

# %%
for name, d in dist.items():
    assert abs(d["blur"][-1] - 1) < 0.25, f"{name}: blur {d['blur'][-1]:.2f} at NFE {d['nfe'][-1]}"
    assert d["cov"][-1] < 0.10, f"{name}: covariance error {d['cov'][-1]:.3f} at NFE {d['nfe'][-1]}"
mc = 5 / math.sqrt(B)                               # 5 standard errors of a mean of B (roughly exponential) terms
assert abs(dist["heun"]["blur"][-1] - 1) < mc + floor["blur"], dist["heun"]["blur"][-1]
assert dist["euler"]["blur"][0] > 2, "coarse Euler should leave visible noise"


def off(name, nfe):
    """|blur − 1| of a sampler at a given NFE."""
    return abs(dist[name]["blur"][dist[name]["nfe"].index(nfe)] - 1)


CHURN = "euler + churn (S=20, R=2)"
print(f"|blur − 1|: ADPM2 at NFE 6 {off('adpm2', 6):.2f}, Euler at NFE 8 {off('euler', 8):.2f}, "
      f"churn at NFE 8 {off(CHURN, 8):.2f}; at NFE 16: churn {off(CHURN, 16):.2f}, Euler {off('euler', 16):.2f}")
assert off("adpm2", 6) < off("euler", 8), "ADPM2 with fewer evaluations should beat Euler"
assert off(CHURN, 8) > off("euler", 8), "4 churned steps (8 NFE) lose to 8 Euler steps (8 NFE)"
assert off(CHURN, 16) < off("euler", 16), "at NFE 16 churn should be closer to blur 1 than Euler"
for f in dist[CHURN]["nfe"]:
    if 64 <= f <= max(dist["euler"]["nfe"]):
        assert off(CHURN, f) > off("euler", f), f"at NFE {f} churn's over-shrinking should leave it behind Euler"
print("all samplers converge to the mixture; at equal NFE ADPM2 beats plain Euler at the smallest budget, "
      "churn only at 16 ✓")

# %% [markdown]
# ## 6. Try it
#
# **Exercise 1.** Heun is a second-order method. If you double its number of steps in the
# range where it has converged, by which factor should its error shrink? Write your prediction
# in `my_ratio`; the check compares it with the ratio measured above between the last two budgets.

# %%
my_ratio = None  # your prediction: a number


# %%
from msdm_tutorial import exercises

exercises.error_ratio(my_ratio, err_h[-2], err_h[-1])   # self-check: within a factor 1.7 of the measured ratio

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: error ∝ h² for a second-order method; halving h divides the error by 2² = 4.
my_ratio = 4
exercises.error_ratio(my_ratio, err_h[-2], err_h[-1])

# %% [markdown]
# **Exercise 2.** How many denoiser evaluations does ADPM2 spend with `grid(50)` (50 steps)?
# Predict `my_adpm2_nfe`, then the check runs it and reads `Step.nfe`.

# %%
my_adpm2_nfe = None  # your prediction: an integer


# %%
exercises.adpm2_nfe(my_adpm2_nfe, deriv, x_start[:10], grid(50))   # self-check: runs ADPM2, reads Step.nfe

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: ADPM2 stops at σ_min, so it makes N − 1 = 49 steps, each with 2 evaluations: 98.
my_adpm2_nfe = 2 * (50 - 1)
exercises.adpm2_nfe(my_adpm2_nfe, deriv, x_start[:10], grid(50))

# %% [markdown]
# ## Summary
# * Every sampler integrates $\mathrm dx/\mathrm d\sigma = (x - D)/\sigma$ down a σ grid; what they
#   cost is counted in denoiser evaluations (NFE), which `Step.nfe` reports.
# * Against the exact ODE solution, Euler's error falls like NFE⁻¹ and Heun's like NFE⁻²: at equal
#   cost Heun wins as soon as its steps resolve the data's structure, by a factor that grows with NFE.
# * Churn and ADPM2 add fresh noise; they do not follow the ODE paths but reach the right
#   distribution. Compare them at equal cost: ADPM2 beats plain Euler at the smallest budget,
#   churn only at moderate ones (too much churn over-shrinks) — MSDM separates with Euler + churn.
#
# **Next:** [04 · The U-Net](04_unet.ipynb) — the waveform U-Net that plays the role of $D$ for music.
