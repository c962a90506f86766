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
# # 02 · Noise schedules and preconditioning
#
# **At the end of this notebook you can** explain why EDM wraps the network in the factors
# $c_{\text{skip}}, c_{\text{out}}, c_{\text{in}}, c_{\text{noise}}$, why the loss is weighted by
# $\lambda(\sigma)$, which noise levels MSDM trains on (ln σ ~ N(−3, 1)) and which it samples on
# (the Karras grid), and check each of these against its formula.
#
# *Prerequisites:* [01 · Diffusion basics](01_diffusion_basics.ipynb). 
# *Run time:* 8 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`); a GPU is not needed.

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
from torch import nn

from msdm_tutorial import denoiser, plotting, schedules, toy2d
from msdm_tutorial.denoiser import c_in, c_noise, c_out, c_skip, loss_weight

torch.set_num_threads(1)  # small tensors: extra threads cost more than they save
SIGMA_DATA = 0.2          # MSDM's σ_d: the standard deviation of its (normalised) audio

# %% [markdown]
# ## 1. The idea: make the network's job the same at every σ
#
# A diffusion model must denoise at noise levels from σ ≈ 0.0001 (a whisper of noise) to
# σ ≈ 80 (nothing but noise). Feeding the noisy $x$ straight to a network and asking it for
# $x_0$ is a bad deal at both ends: its input would have a standard deviation anywhere from
# $\sigma_d$ to 80, and at small σ it would have to copy $x$ through many layers with an error
# far above the noise it should remove. EDM (Karras et al., NeurIPS 2022, Table 1) wraps a
# network $F_\theta$ instead:
#
# $$ D(x;\sigma) = c_{\text{skip}}(\sigma)\,x + c_{\text{out}}(\sigma)\,F_\theta\big(c_{\text{in}}(\sigma)\,x;\ c_{\text{noise}}(\sigma)\big), $$
#
# $$ c_{\text{skip}} = \frac{\sigma_d^2}{\sigma^2+\sigma_d^2},\quad
#    c_{\text{out}} = \frac{\sigma\,\sigma_d}{\sqrt{\sigma^2+\sigma_d^2}},\quad
#    c_{\text{in}} = \frac{1}{\sqrt{\sigma^2+\sigma_d^2}},\quad
#    c_{\text{noise}} = \tfrac14 \ln\sigma , $$
#
# trained with the weighted loss $\lambda(\sigma)\,\|D(x_0+\sigma n;\sigma) - x_0\|^2$,
# $\lambda(\sigma) = (\sigma^2+\sigma_d^2)/(\sigma\sigma_d)^2$. MSDM uses exactly this with
# $\sigma_d = 0.2$ (`denoiser.EDMDenoiser`; the factors are `denoiser.c_skip`, … ,
# `denoiser.loss_weight`).

# %% [markdown]
# ## 2. See it: the four factors against σ
# The skip connection $c_{\text{skip}}$ passes $x$ through at small σ (where $x$ is almost clean)
# and fades out at large σ (where $x$ is almost pure noise). $c_{\text{out}}$ is the gain on the
# network's output: it never exceeds $\sigma_d$, so the network's errors are never amplified.
#
# Where does the network take over? Not where the drawn curves $c_{\text{skip}}$ and
# $c_{\text{out}}/\sigma_d$ cross: that happens below $\sigma_d$ (the check cell finds it, and
# exercise 1 derives it). Compare what each path *contributes* instead. The skip path adds
# $c_{\text{skip}}\,x$, whose standard deviation is $c_{\text{skip}}\sqrt{\sigma^2+\sigma_d^2}$ for data of
# standard deviation $\sigma_d$; the
# network path adds $c_{\text{out}} F$ with a unit-variance $F$ (section 3), so standard deviation
# $c_{\text{out}}$. Their ratio is $\sigma_d/\sigma$: the two paths have equal say exactly at
# $\sigma = \sigma_d$, where $c_{\text{skip}} = \tfrac12$. In the figure that is where
# $c_{\text{out}}/\sigma_d$ and $c_{\text{in}}\cdot\sigma_d$ cross (both $1/\sqrt2$), at the dashed line.

# %%
sig = torch.logspace(-4, 2, 400)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
ax = axes[0]
ax.semilogx(sig, c_skip(sig, SIGMA_DATA), label="$c_{skip}$")
ax.semilogx(sig, c_out(sig, SIGMA_DATA) / SIGMA_DATA, label="$c_{out} / \\sigma_d$")
ax.semilogx(sig, c_in(sig, SIGMA_DATA) * SIGMA_DATA, label="$c_{in} \\cdot \\sigma_d$")
ax.semilogx(sig, c_noise(sig), label="$c_{noise} = \\frac{1}{4}\\ln\\sigma$")
ax.axvline(SIGMA_DATA, color="0.5", ls="--", lw=1)
ax.text(SIGMA_DATA * 1.15, -2.0, "σ = σ_d", color="0.4")
ax.set(xlabel="σ", ylabel="value (scaled by σ_d to share an axis)", title="EDM preconditioning, σ_d = 0.2")
ax.legend()
ax = axes[1]
ax.loglog(sig, c_out(sig, SIGMA_DATA), label="EDM: $c_{out}$ (≤ σ_d)")
ax.loglog(sig, sig, label="predict the noise: $D = x - \\sigma F$ (gain σ)")
ax.loglog(sig, torch.ones_like(sig), label="predict $x_0$ directly: $D = F(x)$ (gain 1)")
ax.set(xlabel="σ", ylabel="$|\\partial D / \\partial F|$", title="how much a network error moves D")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check it, pinned to the formulas.** At $\sigma = \sigma_d$: $c_{\text{skip}} = \tfrac12$,
# $c_{\text{out}} = \sigma_d/\sqrt2$, $c_{\text{in}} = 1/(\sigma_d\sqrt2)$, $\lambda = 2/\sigma_d^2 = 50$.
# At every σ, $\lambda(\sigma)\,c_{\text{out}}(\sigma)^2 = 1$ — the identity behind the loss
# weight (section 4) — and the two paths' standard deviations have the ratio $\sigma_d/\sigma$.
# Then the crossings, found numerically by bisection (`exercises.crossing`): $c_{\text{out}}/\sigma_d$
# and $c_{\text{in}}\sigma_d$ cross at $\sigma_d$ (closed form: $\sigma = \sigma_d$); $c_{\text{skip}}$
# and $c_{\text{out}}/\sigma_d$ cross below it.

# %%
sd = torch.tensor(SIGMA_DATA)
assert torch.isclose(c_skip(sd, SIGMA_DATA), torch.tensor(0.5))
assert torch.isclose(c_out(sd, SIGMA_DATA), sd / math.sqrt(2))
assert torch.isclose(c_in(sd, SIGMA_DATA), 1 / (sd * math.sqrt(2)))
assert torch.isclose(loss_weight(sd, SIGMA_DATA), torch.tensor(50.0))
assert torch.isclose(c_noise(torch.tensor(math.e ** 4)), torch.tensor(1.0))
sig64 = sig.double()
assert torch.allclose(loss_weight(sig64, SIGMA_DATA) * c_out(sig64, SIGMA_DATA) ** 2, torch.ones_like(sig64)), "λ·c_out² = 1"
assert torch.allclose(c_skip(sig64, SIGMA_DATA) ** 2 * sig64 ** 2 + (1 - c_skip(sig64, SIGMA_DATA)) ** 2 * SIGMA_DATA ** 2,
                      c_out(sig64, SIGMA_DATA) ** 2), "c_out² is the error of the skip path alone"
skip_std = c_skip(sig64, SIGMA_DATA) * (sig64 ** 2 + SIGMA_DATA ** 2).sqrt()    # std of c_skip·x
assert torch.allclose(skip_std / c_out(sig64, SIGMA_DATA), SIGMA_DATA / sig64), "skip/network contributions: σ_d/σ"
print("c_skip(σ_d) = 1/2, c_out(σ_d) = σ_d/√2, c_in(σ_d) = 1/(σ_d√2), λ(σ_d) = 50, λ·c_out² = 1 at every σ, "
      "contributions in the ratio σ_d/σ ✓")

from msdm_tutorial import exercises

at_sd = exercises.crossing(lambda s: c_out(s, SIGMA_DATA) / SIGMA_DATA, lambda s: c_in(s, SIGMA_DATA) * SIGMA_DATA,
                           1e-4, 1e2)
skip_out = exercises.crossing(lambda s: c_skip(s, SIGMA_DATA), lambda s: c_out(s, SIGMA_DATA) / SIGMA_DATA, 1e-4, 1e2)
print(f"c_out/σ_d = c_in·σ_d at σ = {at_sd:.6f} (σ_d = {SIGMA_DATA}); c_skip = c_out/σ_d at σ = {skip_out:.4f}, "
      f"where c_skip = {c_skip(torch.tensor(skip_out), SIGMA_DATA):.3f}")
assert abs(at_sd - SIGMA_DATA) < 1e-9, "c_out/σ_d and c_in·σ_d cross at σ_d"
assert skip_out < 0.9 * SIGMA_DATA, "c_skip and c_out/σ_d cross below σ_d, not at it"

# %% [markdown]
# ## 3. Why: unit-variance input and unit-variance target
#
# Take data with per-element variance $\sigma_d^2$ (here: the ring of notebook 01, centred and
# shrunk to standard deviation 0.2) and noise it at level σ. Two things hold *at every σ*:
# * the network's **input** $c_{\text{in}}\,x$ has variance $(\sigma_d^2+\sigma^2)\,c_{\text{in}}^2 = 1$;
# * the network's **target** — what $F$ must output for $D$ to equal $x_0$,
#   $F_{\text{target}} = (x_0 - c_{\text{skip}}\,x)/c_{\text{out}}$ — has variance 1 as well:
#   $c_{\text{skip}}$ is chosen to minimise that variance, and $c_{\text{out}}$ to normalise it.
#
# So the network sees the same well-scaled problem at σ = 0.002 and at σ = 80.

# %%
ring = toy2d.ring_mixture()
scale = SIGMA_DATA / math.sqrt(float(ring.covariance()[0, 0]))
gm = toy2d.GaussianMixture(ring.weights, ring.means * scale, ring.stds * scale)   # std 0.2 per coordinate
x0 = gm.sample(course.size(50_000, 20_000), generator=gen)

rows = []
for s in [0.002, 0.02, 0.2, 2.0, 20.0, 80.0]:
    st = torch.tensor(s)
    x = x0 + s * torch.randn(x0.shape, generator=gen)
    var_in = (c_in(st, SIGMA_DATA) * x).var().item()
    var_target = ((x0 - c_skip(st, SIGMA_DATA) * x) / c_out(st, SIGMA_DATA)).pow(2).mean().item()
    rows.append((s, x.std().item(), var_in, var_target))
    print(f"σ = {s:6}: std of raw x {x.std():7.3f} | Var[c_in·x] = {var_in:.3f} | E[F_target²] = {var_target:.3f}")
    assert abs(var_in - 1) < 0.03 and abs(var_target - 1) < 0.03, f"σ = {s}: input/target not unit-variance"

# %% [markdown]
# ## 4. The loss weight λ(σ)
#
# The plain denoising loss $\|D - x_0\|^2$ is tiny at small σ and huge at large σ, so an
# unweighted average would only ever train the large σ's. Substitute the preconditioning:
#
# $$ \lambda(\sigma)\,\|D - x_0\|^2 = \lambda(\sigma)\,c_{\text{out}}^2\,\|F_\theta - F_{\text{target}}\|^2 = \|F_\theta - F_{\text{target}}\|^2 ,$$
#
# because $\lambda\,c_{\text{out}}^2 = 1$. The weighted loss *is* the network's plain regression
# error on a unit-variance target. In particular, a network that outputs **zero** ($D = c_{\text{skip}} x$)
# scores exactly $\mathbb E[F_{\text{target}}^2] = 1$ at every σ — for *any* data with variance
# $\sigma_d^2$, Gaussian or not. Check it with `EDMDenoiser.loss` around a zero network:

# %%
class ZeroNet(nn.Module):
    def forward(self, x_in, c_noise):
        return torch.zeros_like(x_in)


D0 = denoiser.EDMDenoiser(ZeroNet(), sigma_data=SIGMA_DATA, clamp=False)
xt = x0 + 0.3 * torch.randn(x0.shape, generator=gen)
assert torch.allclose(D0(xt, 0.3), c_skip(torch.tensor(0.3), SIGMA_DATA) * xt), "a zero network gives D = c_skip·x"
for s in [0.001, 0.01, 0.1, 1.0, 10.0, 80.0]:
    loss = D0.loss(x0, sigma=torch.full((len(x0),), s), generator=gen).item()
    print(f"σ = {s:6}: zero-network weighted loss = {loss:.4f}")
    assert abs(loss - 1) < 0.03, f"σ = {s}: expected 1 (λ·c_out² = 1 and Var[x0] = σ_d²), got {loss:.4f}"

# %% [markdown]
# So 1 is the baseline at every σ; how far below 1 a *perfect* denoiser gets tells you how much
# there is to learn at that σ. For this toy we have the exact denoiser, so we can draw it: the
# optimal weighted loss $\lambda(\sigma)\,\mathbb E\|D^\star - x_0\|^2/d$ (per element).

# %%
sig_curve = torch.logspace(-3.5, 1, 30)
optimal = []
for s in sig_curve.tolist():
    x = x0 + s * torch.randn(x0.shape, generator=gen)
    optimal.append((loss_weight(torch.tensor(s), SIGMA_DATA) * (gm.denoiser(x, s) - x0).pow(2).mean()).item())
lognormal = schedules.LogNormalSigma(mean=-3.0, std=1.0)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.semilogx(sig_curve, optimal, "o-", ms=3, label="optimal weighted loss (exact $D^\\star$)")
ax.axhline(1, color="0.5", ls=":", label="zero network")
ax2 = ax.twinx()
ax2.semilogx(sig_curve, (sig_curve * lognormal.log_prob(sig_curve).exp()), color="#29a36a", label="MSDM's training density of ln σ")
ax2.set_ylabel("density of ln σ", color="#29a36a")
ax2.grid(False)
ax.set(xlabel="σ", ylabel="weighted loss per element", ylim=(0, 1.1), title="where there is something to learn")
fig.legend(loc="lower right", bbox_to_anchor=(0.86, 0.2))
plt.show()

# %% [markdown]
# At tiny σ the noise is unpredictable and nothing beats the skip connection; at huge σ the best
# guess is the data mean and nothing beats it either. In between lies what the network can learn,
# and that is where training should spend its samples.

# %% [markdown]
# ## 5. Which σ to train on: ln σ ~ N(−3, 1)
#
# EDM draws the training noise level from a log-normal, $\ln\sigma \sim \mathcal N(P_{\text{mean}}, P_{\text{std}}^2)$,
# centred where the loss can be reduced. For images EDM uses $(-1.2, 1.2)$; MSDM, for audio with
# $\sigma_d = 0.2$, uses $(-3, 1)$: median $e^{-3} \approx 0.05$, a quarter of $\sigma_d$
# (`schedules.LogNormalSigma`). Its density in σ is $\mathcal N(\ln\sigma; -3, 1)/\sigma$
# (`LogNormalSigma.log_prob`); the factor $1/\sigma$ moves the peak of $p(\sigma)$ (the mode,
# $e^{-4} \approx 0.018$) below the median — on the right, in $\ln\sigma$, it is a plain bell curve.

# %%
draws = lognormal.sample(course.size(200_000, 100_000), generator=gen)
bins = torch.logspace(-5, 1, 80)
grid = torch.logspace(-5, 1, 400)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
axes[0].hist(draws.numpy(), bins=bins.numpy(), density=True, alpha=0.6, label="samples")
axes[0].plot(grid, lognormal.log_prob(grid).exp(), color="#e4572e", label="density $p(\\sigma)$")
axes[0].set(xscale="log", xlabel="σ", ylabel="density p(σ)", title="ln σ ~ N(−3, 1): density of σ")
axes[1].hist(draws.log().numpy(), bins=80, density=True, alpha=0.6, label="samples of ln σ")
lg = torch.linspace(-8, 2, 200)
axes[1].plot(lg, torch.exp(-0.5 * (lg + 3) ** 2) / math.sqrt(2 * math.pi), color="#e4572e", label="N(−3, 1)")
axes[1].axvline(math.log(SIGMA_DATA), color="0.5", ls="--", lw=1)
axes[1].text(math.log(SIGMA_DATA) + 0.1, 0.3, "ln σ_d", color="0.4")
axes[1].set(xlabel="ln σ", ylabel="density", title="the same, in ln σ")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# **Check it.** The median is $e^{-3}$; the share of training σ above $\sigma_d$ is
# $1 - \Phi(\ln 0.2 + 3) = 0.0822$; the density integrates to 1; and every histogram bin holds
# the count the distribution predicts, $N\,[\Phi(\ln b_{i+1} + 3) - \Phi(\ln b_i + 3)]$, to within
# 5 standard deviations of a Poisson count.

# %%
def Phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


median = draws.median().item()
above = (draws > SIGMA_DATA).float().mean().item()
expected_above = 1 - Phi(math.log(SIGMA_DATA) + 3)
fine = torch.logspace(-8, 3, 20_000, dtype=torch.float64)
integral = torch.trapezoid(lognormal.log_prob(fine).exp(), fine).item()
counts, edges = np.histogram(draws.numpy(), bins=bins.numpy())
cdf = np.array([Phi(math.log(b) + 3) for b in edges])
expected = len(draws) * np.diff(cdf)
z = np.abs(counts - expected) / np.sqrt(np.maximum(expected, 1.0))
print(f"median {median:.4f} (e^-3 = {math.exp(-3):.4f}) | share above σ_d {above:.4f} (expected {expected_above:.4f}) "
      f"| ∫p = {integral:.5f} | histogram vs distribution: worst bin {z.max():.1f} standard deviations off")
assert abs(median / math.exp(-3) - 1) < 0.02
assert abs(above - expected_above) < 0.005
assert abs(integral - 1) < 1e-3
assert z.max() < 5, "every bin should hold the predicted count within Poisson noise"

# %% [markdown]
# ## 6. Which σ to sample on: the Karras grid
#
# Sampling walks down a grid $\sigma_0 > \sigma_1 > \dots > \sigma_{N-1} > \sigma_N = 0$. EDM's
# grid (eq. 5) spaces the $\rho$-th roots of σ evenly:
#
# $$ \sigma_i = \Big(\sigma_{\max}^{1/\rho} + \tfrac{i}{N-1}\big(\sigma_{\min}^{1/\rho} - \sigma_{\max}^{1/\rho}\big)\Big)^{\rho}, \quad i = 0,\dots,N-1, \qquad \sigma_N = 0 .$$
#
# $\rho = 1$ is a linear grid; larger $\rho$ packs more steps at small σ, where the sample's
# fine detail is decided (EDM picks ρ = 7; MSDM's separation walks `KarrasSchedule(1e-4, 1, 7)`,
# σ from 1 down to 0.0001). `schedules.karras_sigmas(N, σ_min, σ_max, ρ)` returns the N+1 values.

# %%
N = 18
fig, ax = plt.subplots(figsize=(7, 4))
for rho in [1, 3, 7, 15]:
    s = schedules.karras_sigmas(N, sigma_min=0.002, sigma_max=80.0, rho=rho)
    ax.semilogy(range(N), s[:-1], "o-", ms=3, label=f"ρ = {rho}")
ax.axhline(SIGMA_DATA, color="0.5", ls="--", lw=1)
ax.text(0.2, SIGMA_DATA * 1.3, "σ_d = 0.2", color="0.4")
ax.set(xlabel="step i", ylabel="$\\sigma_i$", title=f"Karras grids, N = {N}, σ from 80 to 0.002 (then 0)")
ax.legend()
plt.show()

# %% [markdown]
# **Check it.** The grid equals eq. 5 computed independently in float64 numpy, starts at σ_max,
# reaches σ_min at step N−1, ends with 0; ρ = 1 has equal gaps; and the number of steps spent
# below σ_d grows with ρ.

# %%
def eq5(n, smin, smax, rho):
    i = np.arange(n)
    return (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho


below = {}
for rho in [1, 3, 7, 15]:
    s = schedules.karras_sigmas(N, 0.002, 80.0, rho)
    assert s.shape == (N + 1,) and s[-1] == 0
    assert np.allclose(s[:-1].numpy(), eq5(N, 0.002, 80.0, rho), rtol=1e-5), f"ρ = {rho}: not eq. 5"
    assert math.isclose(s[0], 80.0, rel_tol=1e-6) and math.isclose(s[N - 1], 0.002, rel_tol=1e-4)
    below[rho] = int((s[:-1] < SIGMA_DATA).sum())
gaps = np.diff(schedules.karras_sigmas(N, 0.002, 80.0, 1)[:-1].numpy())
assert np.allclose(gaps, gaps[0], rtol=1e-4), "ρ = 1 must be linear"
assert list(below.values()) == sorted(below.values()) and below[1] < below[15]
print("steps below σ_d, by ρ:", below)
msdm = schedules.KarrasSchedule(1e-4, 1.0, 7.0)(150)
print(f"MSDM's separation grid: {len(msdm) - 1} steps from {msdm[0]:.3g} to {msdm[-2]:.3g}, then 0")

# %% [markdown]
# ## 7. Try it
#
# **Exercise 1.** Section 2 found numerically that the drawn curves $c_{\text{skip}}$ and
# $c_{\text{out}}/\sigma_d$ cross below $\sigma_d$. Derive the crossing in closed form for any
# $\sigma_d$ with pen and paper (*hint:* write $u = \sigma^2/\sigma_d^2$; both sides become functions
# of $u$ alone), and write it as a function `my_crossing(sigma_data)`. The check compares it with
# the bisection at $\sigma_d$ = 0.05, 0.2, 0.5 and 1, to a relative 10⁻⁶.

# %%
my_crossing = None  # your answer: a function of sigma_data, e.g. lambda sd: ...

# %%
exercises.skip_out_crossing(my_crossing)   # self-check against exercises.crossing (bisection)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: c_skip = 1/(1 + u) and c_out/σ_d = √u/√(1 + u) with u = σ²/σ_d². Equal when
# 1/√(1 + u) = √u, i.e. u² + u − 1 = 0, so u = (√5 − 1)/2 ≈ 0.618 (the golden ratio's inverse)
# and σ = σ_d·√((√5 − 1)/2) ≈ 0.786·σ_d — 0.157 for MSDM's σ_d = 0.2. At σ_d itself the two
# curves read 1/2 and 1/√2.
my_crossing = lambda sd: sd * math.sqrt((math.sqrt(5) - 1) / 2)  # noqa: E731
print(f"closed form for σ_d = {SIGMA_DATA}: σ = {my_crossing(SIGMA_DATA):.6f}; bisection in section 2: {skip_out:.6f}")
assert abs(my_crossing(SIGMA_DATA) - skip_out) < 1e-6 * SIGMA_DATA, "the closed form must match the bisection"
exercises.skip_out_crossing(my_crossing)

# %% [markdown]
# **Exercise 2.** Which fraction of MSDM's training noise levels is *smaller* than 0.01? Compute
# it from the formula ln σ ~ N(−3, 1) with `Phi` above (don't sample), and put it in `my_fraction`.

# %%
my_fraction = None  # your answer: a float in [0, 1]


# %%
exercises.fraction_below(my_fraction, draws, 0.01)   # self-check: against the sampled share (5 standard errors)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: P(σ < 0.01) = P(ln σ < ln 0.01) = Φ((ln 0.01 − (−3)) / 1) = Φ(−1.605) ≈ 0.054.
my_fraction = Phi(math.log(0.01) + 3)
exercises.fraction_below(my_fraction, draws, 0.01)

# %% [markdown]
# ## Summary
# * EDM's $c_{\text{in}}$ and $c_{\text{skip}}, c_{\text{out}}$ make the network's input and target
#   unit-variance at every σ, and $c_{\text{out}} \le \sigma_d$ keeps its errors from being amplified;
#   the skip path carries $x$ at small σ, the network takes over at large σ; their contributions are
#   equal at $\sigma_d$ (where $c_{\text{skip}} = \tfrac12$), while the curves $c_{\text{skip}}$ and
#   $c_{\text{out}}/\sigma_d$ cross lower, at $\sigma_d\sqrt{(\sqrt5-1)/2}$.
# * $\lambda(\sigma) = 1/c_{\text{out}}^2$ turns the weighted denoising loss into the network's
#   plain regression error; a zero network scores 1 at every σ.
# * MSDM trains on ln σ ~ N(−3, 1) (median $e^{-3}$, a share $1-\Phi(\ln 0.2 + 3)$ above σ_d — both
#   measured in section 5) and samples on a Karras grid,
#   whose ρ decides how many steps go to the small σ's.
#
# **Next:** [03 · Samplers](03_samplers.ipynb) — walking down the grid: Euler, Heun, churn and
# ADPM2, and how their error falls with the number of denoiser evaluations.
