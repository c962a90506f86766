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
# # 01 · Diffusion basics: noise, scores and denoisers in 2-D
#
# **At the end of this notebook you can** add noise to data at any level σ, say what the score
# and the denoiser are and how Tweedie's formula links them, train a denoiser by denoising score
# matching, and turn it into a sampler that carries noise back to data.
#
# *Prerequisites:* [00 · Tour](00_tour.ipynb). *Run time:* 22 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`)
# (training a small MLP takes most of it); a GPU is not needed.
#
# Everything happens on 2-D points, where the true density is known in closed form, so every
# claim can be checked exactly. MSDM does the same on `(4, T)` audio tensors.

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
import torch

from msdm_tutorial import plotting, samplers, schedules, toy2d

torch.set_num_threads(1)  # the 2-D tensors here are tiny: extra threads cost more than they save

# %% [markdown]
# ## 1. The idea: blur the data with noise, learn to undo it
#
# Take a data point $x_0 \sim p_{\text{data}}$ and add Gaussian noise of standard deviation
# $\sigma$:
#
# $$ x = x_0 + \sigma\, n, \qquad n \sim \mathcal N(0, I) .$$
#
# The noisy points follow $p_\sigma = p_{\text{data}} * \mathcal N(0, \sigma^2 I)$: for small σ
# almost the data, for large σ almost a wide Gaussian. A diffusion model learns the **denoiser**
# $D(x;\sigma) = \mathbb E[x_0 \mid x]$, the best guess of the clean point, at *every* σ.
# **Tweedie's formula** says this is the same as knowing the **score** of the noisy density:
#
# $$ \nabla_x \log p_\sigma(x) \;=\; \frac{D(x;\sigma) - x}{\sigma^2} .$$
#
# Sampling then starts from pure noise at a large σ and follows the *probability-flow ODE*
# (Song et al. 2021, in the form of EDM, Karras et al. 2022) down to σ = 0:
#
# $$ \frac{\mathrm d x}{\mathrm d\sigma} = \frac{x - D(x;\sigma)}{\sigma} .$$
#
# In the library: `toy2d.GaussianMixture.denoiser` is the exact $D$ of a Gaussian mixture,
# `toy2d.train_mlp_denoiser` learns one, `samplers.score_derivative` builds $\mathrm dx/\mathrm d\sigma$
# from any $D$, and `samplers.heun` integrates it.

# %% [markdown]
# ## 2. Two data sets
# A mixture of eight Gaussians on a ring (`toy2d.ring_mixture`, each of standard deviation 0.15 on
# a circle of radius 2), whose density we know exactly, and a spiral (`toy2d.spiral`), whose
# density we do not.

# %%
gm = toy2d.ring_mixture(num=8, radius=2.0, std=0.15)
N_DATA = course.size(20_000, 20_000)
ring = gm.sample(N_DATA, generator=gen)
swirl = toy2d.spiral(N_DATA, generator=gen)

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
plotting.scatter2d(axes[0], ring[:4000], lim=3, title="ring mixture (exact density known)")
plotting.scatter2d(axes[1], swirl[:4000], lim=1.5, title="spiral")
plt.show()

# %% [markdown]
# ## 3. See it: the forward process
# Add noise of growing σ. The structure dissolves from the small scales up: first the eight blobs
# merge into a ring, then the ring into one Gaussian blob of variance ≈ σ².

# %%
SIGMAS_SHOWN = [0.0, 0.1, 0.3, 1.0, 3.0]
noise = torch.randn(4000, 2, generator=gen)
fig, axes = plt.subplots(2, len(SIGMAS_SHOWN), figsize=(15, 6.2))
for j, s in enumerate(SIGMAS_SHOWN):
    plotting.scatter2d(axes[0, j], ring[:4000] + s * noise, lim=5, title=f"σ = {s}")
    plotting.scatter2d(axes[1, j], swirl[:4000] + s * noise, lim=max(1.5, 3 * s))
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check it.** Noise is independent of the data, so variances add: each coordinate of the noisy
# data has variance $\operatorname{Var}[x_0] + \sigma^2$. For the ring, $\operatorname{Var}[x_0]$
# per coordinate is $r^2/2 + s^2 = 2.0225$ (`gm.covariance()`).

# %%
var_data = float(gm.covariance()[0, 0])
assert abs(var_data - (2.0 ** 2 / 2 + 0.15 ** 2)) < 1e-5, f"Var[x0] per coordinate should be r²/2 + s², got {var_data}"
for s in [0.1, 0.5, 2.0]:
    noisy = ring + s * torch.randn(ring.shape, generator=gen)
    measured, predicted = noisy.var(0).mean().item(), var_data + s ** 2
    print(f"σ = {s:3}: measured variance {measured:.3f}, predicted {predicted:.3f}")
    assert abs(measured / predicted - 1) < 0.03, "variances of independent data and noise should add"

# %% [markdown]
# ## 4. The score and the denoiser
#
# The score $\nabla_x \log p_\sigma(x)$ is a vector field pointing uphill in the noisy density.
# For the mixture we can draw it: at σ = 0.3 it points to the nearest blob, at σ = 1.5 only
# towards the ring. The denoiser is one step along it: $D(x;\sigma) = x + \sigma^2 \nabla_x \log p_\sigma(x)$.

# %%
grid = torch.linspace(-3.5, 3.5, 21)
gx, gy = torch.meshgrid(grid, grid, indexing="xy")
pts = torch.stack([gx.flatten(), gy.flatten()], dim=1)
fine = torch.linspace(-3.5, 3.5, 200)
fx, fy = torch.meshgrid(fine, fine, indexing="xy")
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
for ax, s in zip(axes, [0.3, 1.5]):
    logp = gm.log_prob(torch.stack([fx.flatten(), fy.flatten()], 1), sigma=s).reshape(200, 200)
    ax.contourf(fx, fy, logp.exp(), levels=20, cmap="Blues")
    score = gm.score(pts, s)
    score = score / score.norm(dim=1, keepdim=True).clamp_min(1e-8) ** 0.5   # compress lengths for display
    ax.quiver(pts[:, 0], pts[:, 1], score[:, 0], score[:, 1], color="#e4572e", width=0.003)
    ax.set(aspect="equal", title=f"$p_\\sigma$ and its score, σ = {s}", xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %% [markdown]
# **Check it: Tweedie's formula.** `gm.log_prob` computes $\log p_\sigma$ directly (a log-sum-exp
# of Gaussians); `gm.denoiser` computes the posterior mean $\mathbb E[x_0\mid x]$ directly (a
# responsibility-weighted shrinkage). Differentiate the first with autograd and compare with
# $(D - x)/\sigma^2$ from the second:

# %%
x = (3 * torch.randn(500, 2, generator=gen)).requires_grad_()
for s in [0.1, 0.5, 2.0]:
    (autograd_score,) = torch.autograd.grad(gm.log_prob(x, sigma=s).sum(), x)
    tweedie_score = (gm.denoiser(x.detach(), s) - x.detach()) / s ** 2
    err = (autograd_score - tweedie_score).abs().max().item()
    print(f"σ = {s}: max |∇ log p_σ − (D − x)/σ²| = {err:.2e}")
    assert torch.allclose(autograd_score, tweedie_score, rtol=1e-3, atol=1e-3 / s ** 2), "Tweedie's formula"

# %% [markdown]
# ## 5. Learning a denoiser: denoising score matching
#
# For real data you do not know $p_\sigma$. But the posterior mean is the minimiser of a plain
# regression loss — predict the clean point from the noisy one:
#
# $$ D^\star = \arg\min_D \; \mathbb E_{x_0, n}\,\big\| D(x_0 + \sigma n; \sigma) - x_0 \big\|^2 ,$$
#
# and for any other $D$ the loss is larger by exactly $\mathbb E\|D - D^\star\|^2$. So by
# Tweedie, regressing clean data from noisy data *is* learning the score: **denoising score
# matching** (Hyvärinen 2005; Vincent 2011; Song & Ermon 2019). `toy2d.train_mlp_denoiser` trains
# a small residual MLP this way, over σ drawn from a log-normal distribution, with EDM's
# preconditioning and loss weight (the subject of notebook 02). Watch the loss: it starts near 1,
# the score of a network whose output is still close to zero (with $\sigma_d$ set to the data's
# standard deviation, notebook 02 shows that such a network scores 1 at every σ), falls fastest in
# the first few hundred steps and then levels off — one smooth decay, with the noise of each
# batch's random σ's on top. The cell after the plot checks all three.

# %%
TRAIN_STEPS, LR = course.size((2000, 3e-3), (800, 4e-3))   # fewer steps (quick mode): a larger step size
mlp, losses = toy2d.train_mlp_denoiser(ring, steps=TRAIN_STEPS, lr=LR, seed=0, log_every=TRAIN_STEPS // 4)
D_mlp = lambda x, sigma: mlp(x, sigma).detach()   # no gradients needed from here on

smooth = torch.tensor(losses).unfold(0, 50, 1).mean(1)
plt.figure(figsize=(6, 3))
plt.plot(smooth)
plt.gca().set(xlabel="training step", ylabel="weighted loss (50-step mean)", title="denoising score matching")
plt.show()

# %%
quarter = len(smooth) // 4
start, at_quarter, end = smooth[0].item(), smooth[quarter].item(), smooth[-1].item()
print(f"50-step mean of the loss: {start:.3f} at the start, {at_quarter:.3f} after a quarter of the steps, "
      f"{end:.3f} at the end")
assert abs(start - 1) < 0.3, "an MLP whose output is near zero scores about 1"
assert start - at_quarter > at_quarter - end > 0, "the loss falls, and falls most in the first quarter"
assert end < 0.8 * start, "training should cut the loss by more than a fifth"

# %% [markdown]
# **See it.** How far is the learned denoiser from the exact one, at each σ? Three curves, all
# mean squared distances on noisy ring points:
# * MLP vs exact $D^\star$ — the learning error;
# * the *linear* denoiser $x\,\operatorname{Var}[x_0]/(\operatorname{Var}[x_0]+\sigma^2)$ vs exact — what the
#   untrained network gives (its output starts near 0, leaving the skip connection $c_{\text{skip}}\,x$,
#   see notebook 02);
# * exact vs the clean $x_0$ — the error nobody can avoid (the MMSE): noise destroys information.

# %%
g_eval = torch.Generator().manual_seed(1)
x0_eval = gm.sample(course.size(20_000, 8_000), generator=g_eval)
n_eval = torch.randn(x0_eval.shape, generator=g_eval)
sigma_grid = torch.logspace(-1.5, 0.7, 12).tolist()
curves = {"MLP vs exact": [], "linear vs exact": [], "exact vs clean (MMSE)": []}
for s in sigma_grid:
    xs = x0_eval + s * n_eval
    d_star = gm.denoiser(xs, s)
    curves["MLP vs exact"].append(((D_mlp(xs, s) - d_star) ** 2).sum(1).mean().item())
    curves["linear vs exact"].append(((xs * var_data / (var_data + s ** 2) - d_star) ** 2).sum(1).mean().item())
    curves["exact vs clean (MMSE)"].append(((d_star - x0_eval) ** 2).sum(1).mean().item())
plt.figure(figsize=(6, 3.6))
for name, c in curves.items():
    plt.loglog(sigma_grid, c, "o-", ms=3, label=name)
plt.gca().set(xlabel="σ", ylabel="mean squared distance", title="learned vs exact denoiser")
plt.legend()
plt.show()

# %% [markdown]
# **Check it.** At a moderate noise level, σ = 0.5 (where the blobs are just starting to merge):
# 1. the decomposition behind denoising score matching holds,
#    $\mathbb E\|D_{\text{mlp}} - x_0\|^2 = \text{MMSE} + \mathbb E\|D_{\text{mlp}} - D^\star\|^2$
#    (the cross term averages to zero, up to Monte-Carlo error);
# 2. the MLP's excess error is under a tenth of the unavoidable MMSE — its denoising error is
#    within 10 % of the best possible one — and far below the linear denoiser's.

# %%
s = 0.5
xs = x0_eval + s * n_eval
d_star, d_mlp = gm.denoiser(xs, s), D_mlp(xs, s)
mse_mlp_clean = ((d_mlp - x0_eval) ** 2).sum(1).mean().item()
mmse = ((d_star - x0_eval) ** 2).sum(1).mean().item()
excess = ((d_mlp - d_star) ** 2).sum(1).mean().item()
linear_excess = ((xs * var_data / (var_data + s ** 2) - d_star) ** 2).sum(1).mean().item()
cross = 2 * ((d_mlp - d_star) * (d_star - x0_eval)).sum(1)          # per sample; its mean should be ≈ 0
cross_se = (cross.std() / math.sqrt(len(cross))).item()            # Monte-Carlo standard error
print(f"σ = {s}: E|D_mlp − x0|² = {mse_mlp_clean:.4f} = MMSE {mmse:.4f} + excess {excess:.4f} "
      f"+ cross term {cross.mean():+.4f} (± {cross_se:.4f}); linear excess {linear_excess:.4f}")
assert abs(cross.mean()) < 4 * cross_se, "the cross term should vanish (within 4 standard errors): D* is the posterior mean"
assert excess < 0.1 * mmse, f"the MLP is too far from the exact denoiser: {excess:.4f} vs MMSE {mmse:.4f}"
assert excess < 0.25 * linear_excess, "training should beat the linear (untrained) denoiser by far"

# %% [markdown]
# ## 6. Sampling: from noise back to data
#
# Start from $x \sim \mathcal N(0, \sigma_{\max}^2 I)$ with $\sigma_{\max} = 80$ — at that level
# the data are invisible — and integrate the ODE down a grid of 18 noise levels
# (`schedules.karras_sigmas`, notebook 02) with Heun's method (`samplers.heun`, notebook 03).
# The generator `samplers.heun_steps` yields every step, so you can draw the paths.

# %%
N_SAMPLES = course.size(10_000, 4_000)
sigmas = schedules.karras_sigmas(18, sigma_min=0.002, sigma_max=80.0)
x_init = samplers.initial_noise((N_SAMPLES, 2), sigmas, generator=gen)
steps_exact = list(samplers.heun_steps(samplers.score_derivative(gm.denoiser), x_init, sigmas))
samples_exact = steps_exact[-1].x
samples_mlp = samplers.heun(samplers.score_derivative(D_mlp), x_init, sigmas)
print(f"{steps_exact[-1].nfe} denoiser evaluations per sample")

fig, axes = plt.subplots(1, 3, figsize=(15, 5))
plotting.trajectory_plot(axes[0], steps_exact, x_init=x_init, num_paths=40, data=ring[:3000],
                         lim=4, title="Heun paths with the exact denoiser")
plotting.scatter2d(axes[1], samples_exact[:4000], lim=3, title="samples, exact denoiser")
plotting.scatter2d(axes[2], samples_mlp[:4000], lim=3, title="samples, learned MLP denoiser")
plt.show()

# %% [markdown]
# The paths start far outside the picture (σ = 80) and bend towards the blobs only in the last few
# steps, when σ is comparable with the distance between blobs. Zoom in on the last steps:

# %%
fig, ax = plt.subplots(figsize=(5, 5))
tail = [st for st in steps_exact if st.sigma <= 2.0]
plotting.trajectory_plot(ax, tail, num_paths=60, data=ring[:3000], lim=3,
                         title=f"the last {len(tail)} steps (σ ≤ 2)")
plt.show()

# %% [markdown]
# **Check it.** The samples should have the mixture's moments: mean $0$ and covariance
# $2.0225\, I$. The mean may be off by Monte-Carlo error: we allow 5 standard errors,
# $5\sqrt{2.0225/N}$. The covariance may be off by Monte-Carlo error (the first line below: the
# same measure on $N$ fresh samples of the mixture itself) plus the discretisation bias of 18 Heun
# steps (notebook 03 measures how that bias shrinks with more steps): we allow 10 %, and 15 % for
# the learned denoiser.

# %%
def check_moments(samples, name, cov_tol):
    mean_tol = 5 * math.sqrt(var_data / len(samples))
    mean_err = (samples.mean(0) - gm.mean()).abs().max().item()
    cov_err = ((torch.cov(samples.T) - gm.covariance()).abs().max() / var_data).item()
    print(f"{name:>6}: max |mean error| = {mean_err:.3f} (allowed {mean_tol:.3f}), "
          f"max |cov error| / variance = {cov_err:.1%} (allowed {cov_tol:.0%})")
    assert mean_err < mean_tol, f"{name}: sample mean off by {mean_err:.3f}"
    assert cov_err < cov_tol, f"{name}: covariance off by {cov_err:.1%}"


check_moments(gm.sample(N_SAMPLES, generator=gen), "true", cov_tol=0.10)   # the Monte-Carlo floor
check_moments(samples_exact, "exact", cov_tol=0.10)
check_moments(samples_mlp, "MLP", cov_tol=0.15)

# %% [markdown]
# ## 7. Try it
#
# **Exercise 1.** Predict the variance of each coordinate of the noisy ring at σ = 1, *before*
# measuring it. Put your number in `my_variance`.

# %%
my_variance = None  # your prediction: a float


# %%
from msdm_tutorial import exercises

exercises.noisy_variance(my_variance, ring, sigma=1.0)   # self-check: measures it with fresh noise, 3 % tolerance

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: Var[x0 + σ n] = Var[x0] + σ² = (r²/2 + s²) + 1 = 2.0225 + 1.
my_variance = var_data + 1.0 ** 2
exercises.noisy_variance(my_variance, ring, sigma=1.0)

# %% [markdown]
# **Exercise 2.** What does the exact denoiser return at a huge noise level, σ = 100, for noisy
# points $x = 100\,n$? Predict a single 2-D point `my_far_guess` (a tensor of shape `(2,)`), then
# compare with `gm.denoiser(x, 100.0)`. *Hint:* when the noise swamps everything, what is the best
# guess of $x_0$?

# %%
my_far_guess = None  # your prediction: torch.tensor([?, ?])


# %%
exercises.far_guess(my_far_guess, gm, sigma=100.0)   # self-check: every D(x; 100) within 0.1 of your guess

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: with σ ≫ the data's scale, x carries almost no information about x0, so the posterior
# mean is the prior mean: E[x0] = Σ_k w_k μ_k = (0, 0) for the symmetric ring.
my_far_guess = gm.mean()
exercises.far_guess(my_far_guess, gm, sigma=100.0)

# %% [markdown]
# ## Summary
# * The forward process $x = x_0 + \sigma n$ blurs data from the small scales up; variances add.
# * The denoiser $D(x;\sigma) = \mathbb E[x_0\mid x]$ and the score are two views of one object
#   (Tweedie: $\nabla\log p_\sigma = (D - x)/\sigma^2$), and regressing clean data from noisy data
#   learns it (denoising score matching) — you checked both against closed forms.
# * Integrating $\mathrm dx/\mathrm d\sigma = (x - D)/\sigma$ from σ = 80 to 0 turns noise into
#   samples with the data's moments.
#
# **Next:** [02 · Schedules and preconditioning](02_schedules_and_preconditioning.ipynb) — why
# EDM wraps the network in $c_{\text{skip}}, c_{\text{out}}, c_{\text{in}}$, and which σ to train and sample on.
