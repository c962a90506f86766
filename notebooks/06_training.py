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
# # 06 · Training: from toy songs on a CPU to Slakh2100 on GPUs
#
# **At the end of this notebook you can** say what one training step of MSDM optimises and why
# the loss is weighted the way it is, run the course's training loop on the shipped toy songs
# with a live loss plot, read a training log, listen to what the shipped tiny model generates,
# and launch the paper's run on Slakh2100 on one or several GPUs — with the same code.
#
# *Prerequisites:* [02](02_schedules_and_preconditioning.ipynb) (preconditioning, λ(σ)),
# [03](03_samplers.ipynb) (samplers), [04](04_unet.ipynb) (the U-Net), [05](05_data.ipynb) (the data).
# *Run time:* 49 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`),
# most of it the live training run and sampling. Not yet measured on a GPU. The GPU section trains the paper's model only when a GPU *and*
# Slakh2100 are there; otherwise it prints what it would run.

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
# ## 1. The idea: denoise real stems at every noise level
#
# MSDM trains one denoiser $D_\theta(x; \sigma)$ on all $K = 4$ stems of a chunk at once, with the
# objective of EDM (Karras et al., 2022), which the paper adopts unchanged. One step draws a batch
# of clean chunks $x_0$ of shape $(B, K, T)$, a noise level per item with
# $\ln\sigma \sim \mathcal N(-3, 1^2)$, Gaussian noise $n$, and minimises
#
# $$
# \mathcal L(\theta) = \mathbb E_{\sigma, x_0, n}\Big[\lambda(\sigma)\,\big\lVert D_\theta(x_0 + \sigma n;\sigma) - x_0\big\rVert^2\Big],
# \qquad \lambda(\sigma) = \frac{\sigma^2 + \sigma_d^2}{(\sigma\,\sigma_d)^2},\quad \sigma_d = 0.2 .
# $$
#
# This is denoising score matching (Vincent, 2011): the best $D$ is $\mathbb E[x_0 \mid x]$, and
# $(D(x;\sigma) - x)/\sigma^2$ is then the score $\nabla_x \log p_\sigma(x)$ of the *joint* density of
# the stems that the samplers of notebook 03 follow. Nothing in the loss is specific to music:
# MSDM's idea is only that $x_0$ holds all stems of a song, so the model learns how they fit together.
#
# In the library: `msdm_tutorial.denoiser.edm_loss` (the bracket), `denoiser.loss_weight` (λ),
# `schedules.LogNormalSigma` (the σ distribution), `data.TrainChunks` (the chunks) and
# `msdm_tutorial.train.train` (the loop around them: Adam, EMA, logs, checkpoints, GPUs).

# %%
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from torch import nn

from msdm_tutorial import STEMS, cli, plotting, quality, train
from msdm_tutorial.checkpoints import load
from msdm_tutorial.data import EvalChunks, TrainChunks
from msdm_tutorial.denoiser import EDMDenoiser, edm_loss, loss_weight
from msdm_tutorial.samplers import heun, initial_noise, score_derivative
from msdm_tutorial.schedules import LogNormalSigma, karras_sigmas
from msdm_tutorial.unet import build, num_parameters

DATA = course.data_small()
TOY = DATA / "toy"
SR = 22050
SIGMA_D = train.PRESETS["tiny"].sigma_data          # 0.2, the paper's σ_d
work = Path(tempfile.mkdtemp(prefix="msdm06_"))      # runs of this notebook go here (removed at the end)

chunks = TrainChunks(TOY, "train", chunk_length=32768, seed=0)   # ~1.5 s chunks, as the tiny model sees
x0 = torch.stack([chunks[i] for i in range(8)])                  # a batch (B, K, T) = (8, 4, 32768)
rms = x0.pow(2).mean().sqrt().item()
print(f"batch {tuple(x0.shape)}; RMS of the stems: {rms:.3f} (σ_d = {SIGMA_D}); per stem:",
      {s: round(v, 3) for s, v in zip(STEMS, x0.pow(2).mean((0, 2)).sqrt().tolist())})

# %% [markdown]
# ## 2. See it and hear it: one chunk at four noise levels
# Here is what the network is shown during training. Take the bass of one chunk and add
# $\sigma n$ for four values of σ. The training distribution puts most of its mass between
# σ ≈ 0.02 and 0.14 (ln σ within −3 ± 1), where the noise is about as loud as the music: that is
# where the denoiser must decide *what* the stems are. The players are normalised one by one, so
# you hear the signal-to-noise ratio, not the level.

# %%
i = int(x0.pow(2).mean(2).min(1).values.argmax())                # the chunk whose quietest stem is loudest
bass = x0[i, 0]
noise = torch.randn(bass.shape, generator=gen)
show_sigmas = [0.01, 0.05, 0.2, 1.0]
noisy = {f"σ = {s}": bass + s * noise for s in show_sigmas}

fig, axes = plt.subplots(len(show_sigmas), 1, figsize=(9, 5.5), sharex=True)
t = np.arange(bass.numel()) / SR
zoom = t < 0.25
for ax, (name, xs), s in zip(axes, noisy.items(), show_sigmas):
    snr = 20 * np.log10(bass.pow(2).mean().sqrt().item() / s)
    ax.plot(t[zoom], xs[zoom], lw=0.7, color="0.5", label="bass + σn")
    ax.plot(t[zoom], bass[zoom], lw=1.0, color=plotting.STEM_COLORS["bass"], label="bass")
    ax.set_title(f"{name}   (SNR {snr:+.0f} dB)", loc="left")
    ax.set_ylabel("amplitude")
axes[-1].set_xlabel("time (s)")
fig.suptitle(f"the bass of chunk {i}, first 0.25 s")
fig.tight_layout()
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncols=2)
plt.show()
plotting.players({"clean": bass, **noisy}, SR, normalize="each", columns=5)

# %% [markdown]
# ## 3. Check it: why λ(σ)?
# Without a weight, the squared error $\lVert D - x_0\rVert^2$ lives on wildly different scales:
# at σ = 0.001 even a perfect copy of the input is only 10⁻⁶ away from $x_0$, at σ = 10 the
# error can be as large as the music itself. λ(σ) rescales each σ so that the *do-nothing* network —
# $F \equiv 0$, i.e. $D(x;\sigma) = c_\text{skip}(\sigma)\,x$ — scores exactly **1** at every σ,
# *if the data has RMS $\sigma_d$*. With RMS $s$ the weighted loss of that network is
#
# $$\lambda(\sigma)\,\mathbb E\lVert c_\text{skip}(\sigma)(x_0 + \sigma n) - x_0\rVert^2
#   = \frac{\sigma^2 s^2 + \sigma_d^4}{(\sigma^2 + \sigma_d^2)\,\sigma_d^2}
#   \;\xrightarrow{\;\sigma\to 0\;}\; 1,\qquad \xrightarrow{\;\sigma\to\infty\;}\; s^2/\sigma_d^2 .$$
#
# Measure it on the real batch with `edm_loss` and a network that outputs zeros, then rescale
# the batch to RMS σ_d and measure again.

# %%
class ZeroNet(nn.Module):
    """F ≡ 0: the EDM denoiser around it is D(x; σ) = c_skip(σ)·x."""

    def forward(self, x, c_noise):
        return torch.zeros_like(x)


zero = EDMDenoiser(ZeroNet(), sigma_data=SIGMA_D, clamp=False)
grid = torch.logspace(-3, 1, 17)
n_batch = torch.randn(x0.shape, generator=gen)


def weighted_loss(D, x, sigma, n):
    """The EDM loss of D on batch x at one σ, with fixed noise n."""
    return edm_loss(D, x, torch.full((x.shape[0],), float(sigma)), n, SIGMA_D).item()


def zero_net_loss(sigma, s2, sd=SIGMA_D):
    """The closed form above; s2 is the data's mean square."""
    return (sigma ** 2 * s2 + sd ** 4) / ((sigma ** 2 + sd ** 2) * sd ** 2)


x_sd = x0 * SIGMA_D / rms                                          # the same music at RMS σ_d
measured = np.array([weighted_loss(zero, x0, s, n_batch) for s in grid])
measured_sd = np.array([weighted_loss(zero, x_sd, s, n_batch) for s in grid])
formula = np.array([zero_net_loss(float(s), rms ** 2) for s in grid])
unweighted = measured / loss_weight(grid, SIGMA_D).numpy()
for s, m, f, m1 in list(zip(grid.tolist(), measured, formula, measured_sd))[::4]:
    print(f"σ = {s:7.3f}:  zero-net loss {m:.4f} (formula {f:.4f});  at RMS σ_d: {m1:.4f}")
assert np.allclose(measured, formula, rtol=0.02), "the zero network's loss should follow the closed form"
assert np.allclose(measured_sd, 1.0, atol=0.02), "at RMS σ_d the do-nothing network must score 1 at every σ"

# %% [markdown]
# The toy songs are quieter than σ_d (their RMS is printed in section 1 and checked below), so at
# large σ doing nothing already scores below 1 — the model has nothing left to learn there.
# Slakh2100 is louder; σ_d = 0.2 is the paper's choice for it. On the left, the σ distribution
# training draws from; in the middle, the raw error spans orders of magnitude (the cell prints how
# many); on the right, λ brings every σ to the same footing.

# %%
assert rms < SIGMA_D and measured[-1] < 1, f"the toy stems (RMS {rms:.3f}) are quieter than σ_d = {SIGMA_D}"
print(f"unweighted error of F ≡ 0: {unweighted.min():.1e} at σ = {grid[0]:.0e} to {unweighted.max():.1e} at σ = "
      f"{grid[-1]:.0f}, {np.log10(unweighted.max() / unweighted.min()):.1f} orders of magnitude")
density = (LogNormalSigma().log_prob(grid).exp() * grid).numpy()     # density of ln σ, drawn against σ
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
axes[0].plot(grid, density)
for s in show_sigmas:
    axes[0].axvline(s, ls=":", color="0.5")
axes[0].set(xscale="log", xlabel="σ", ylabel="density of ln σ", title="training draws ln σ ~ N(−3, 1)")
axes[1].loglog(grid, unweighted, "o-", ms=3)
axes[1].set(xlabel="σ", ylabel="mean ‖D − x₀‖²", title="unweighted error, F ≡ 0")
axes[2].semilogx(grid, measured, "o", ms=4, label=f"toy batch (RMS {rms:.2f})")
axes[2].semilogx(grid, formula, "-", color="0.4", label="closed form")
axes[2].semilogx(grid, measured_sd, "s", ms=3, label="same batch at RMS σ_d")
axes[2].set(xlabel="σ", ylabel="λ(σ) · mean ‖D − x₀‖²", title="weighted loss, F ≡ 0", ylim=(0, 1.2))
axes[2].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Train it, live
# `msdm_tutorial.train.train(cfg, data, run_dir, callback=...)` is the loop the command
# `msdm train` runs, on a laptop and on a cluster alike. Each step: a batch of chunks, a σ and noise
# per item, the loss above under bf16 autocast, Adam with gradient clipping, then an update of the
# **EMA** (exponential moving average) of the weights, which is what you sample with. Every
# `log_every` steps it appends a line to `log.jsonl` (and TensorBoard), every `val_every` steps it
# measures the validation loss of the EMA weights on *fixed* chunks, σ's and noise — so that
# number, unlike the noisy training loss, is comparable from one step to the next.
#
# We take the `tiny` preset (a 3.8M-parameter U-Net) and shrink the run to a minute.
# `callback(step, record)` sees every logged record; ours redraws a figure in place.
# Press ■ (interrupt) to stop early: the loop saves a checkpoint and returns, and
# `train(..., resume=True)` continues exactly where it stopped.

# %%
cfg = replace(train.PRESETS["tiny"], steps=course.size(60, 8), chunk_length=course.size(32768, 4096),
              batch_size=course.size(8, 4), warmup_steps=course.size(10, 2), log_every=1,
              val_every=course.size(20, 8), val_batches=2, sample_steps=0, save_every=10**9)
run_dir = work / "tiny-run"
print({k: v for k, v in cfg.to_dict().items() if k in ("model", "chunk_length", "batch_size", "steps", "lr",
                                                          "warmup_steps", "ema_decay", "autocast")})

# The validation loss *before* training, for comparison: train() seeds torch with cfg.seed and then
# builds the network, so this is its starting point; validation_batches/validation_loss are what
# train() itself uses every val_every steps.
torch.manual_seed(cfg.seed)
net0 = build(train.unet_config_for(cfg)).to(device)
untrained = EDMDenoiser(net0, SIGMA_D, clamp=False)
val_batches = train.validation_batches(cfg, TOY)
val0 = train.validation_loss(untrained, val_batches, cfg, device)
print(f"validation loss of the untrained network: {val0:.3f}")

# %%
hist = {"step": [], "loss": [], "val_step": [], "val_loss": [], "rate": float("nan")}
fig, ax = plt.subplots(figsize=(8, 3.4))
plt.close(fig)                                   # shown through a display handle, updated in place
handle = display(fig, display_id=True)
redraw_every = course.size(5, 4)


def redraw():
    ax.clear()
    ax.plot(hist["step"], hist["loss"], ".", alpha=0.4, label="training loss (one batch)")
    if len(hist["loss"]) >= 5:
        smooth = np.convolve(hist["loss"], np.ones(5) / 5, mode="valid")
        ax.plot(hist["step"][4:], smooth, label="running mean of 5")
    ax.plot(hist["val_step"], hist["val_loss"], "o-", label="validation loss (EMA weights)")
    ax.axhline(val0, ls="--", color="0.5", label="validation loss, untrained")
    ax.set(xlabel="step", ylabel="weighted loss", title=f"step {hist['step'][-1] if hist['step'] else 0}"
           f" · {hist['rate']:.2f} steps/s")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)   # beside the axes, off the data
    if handle is not None:
        handle.update(fig)


def live_plot(step, record):
    """train() calls this with every logged record: {"loss", "lr", ...} or {"val_loss"}."""
    if "loss" in record:
        hist["step"].append(step)
        hist["loss"].append(record["loss"])
        hist["rate"] = record["steps_per_s"]
    if "val_loss" in record:
        hist["val_step"].append(step)
        hist["val_loss"].append(record["val_loss"])
    if "val_loss" in record or step % redraw_every == 0:
        redraw()


summary = train.train(cfg, TOY, run_dir, device=str(device), callback=live_plot)
redraw()
print(f"{summary['step']} steps in {summary['seconds']:.0f} s ({summary['steps_per_s']:.2f} steps/s); "
      f"validation loss {val0:.3f} -> {hist['val_loss'][-1]:.3f}")

# %% [markdown]
# ### Check it: the loss went down, and the run left a usable checkpoint
# The training loss of a single batch jumps with the σ's it drew, so compare the validation loss
# instead: same chunks, same σ's, same noise, before and after.

# %%
first, last = np.mean(hist["loss"][:3]), np.mean(hist["loss"][-3:])
print(f"training loss, mean of the first 3 steps {first:.3f}, of the last 3 {last:.3f} (noisy: shown, not checked)")
assert all(np.isfinite(hist["loss"])), "the training loss must stay finite"
assert hist["val_loss"][-1] < 0.95 * val0, (
    f"the validation loss should fall by more than 5 % (untrained {val0:.3f}, now {hist['val_loss'][-1]:.3f})")

ckpt = Path(summary["checkpoint"])
print("the run folder:", sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())[:8])
ema_model, raw_model = load(ckpt), load(ckpt, ema=False)
gap = max((a - b).abs().max().item() for a, b in zip(ema_model.net.parameters(), raw_model.net.parameters()))
print(f"{ckpt.name}: {ckpt.stat().st_size / 1e6:.0f} MB (weights, EMA, Adam state, RNG states); "
      f"largest |EMA − raw| weight difference {gap:.2e}")
assert gap > 0, "the EMA weights should lag behind the raw weights"
assert len((run_dir / "log.jsonl").read_text().splitlines()) == cfg.steps + len(hist["val_loss"])

# %% [markdown]
# ### Interrupted? Resume
# A checkpoint holds the model, the EMA, Adam's state, the step, the random generators and the
# position in the data order, so a resumed run continues *bit for bit* as if it had never
# stopped (the course's tests check exactly that). Continue this run for a few more steps — the
# same plot goes on:

# %%
more = course.size(20, 2)
summary = train.train(replace(cfg, steps=cfg.steps + more), TOY, run_dir, resume=True, device=str(device),
                      progress=False, callback=live_plot)
redraw()
ckpt = Path(summary["checkpoint"])
assert summary["step"] == cfg.steps + more and hist["step"][-1] == cfg.steps + more

# %% [markdown]
# ## 5. The shipped tiny model
# A minute of training lowers the validation loss (checked above), but it is a start, not a model:
# the loss per noise level below compares it with the shipped one.
# `data_small/checkpoints/msdm-tiny.pt` was trained by the same loop for far more steps (its log
# below says how many, and how long it took on one CPU thread), then exported with
# `msdm_tutorial.checkpoints.export`: only the EMA weights, in float16, with D clamped to [−1, 1] as the
# paper does at inference. It differs from the minute above in three ways, each measured in
# `docs/training_recipe.md`: the `tiny-wide` preset (twice `tiny`'s channels per packed sample at the
# finest levels, so that the network can keep a rest silent), new toy songs synthesised on the fly
# (`--train-data toy-stream`) instead of the 24 of `data_small`, and ln σ ~ N(−2, 1.5²) instead of the
# paper's N(−3, 1), which puts far more of the batches above σ = 1 (the cell prints both shares), where
# separation and generation start. It trained in two phases: from scratch, then on from that export at
# a third of the learning rate (the dashed line in the log below). `data_small/checkpoints/README.md` has
# the commands.

# %%
CKPT = DATA / "checkpoints" / "msdm-tiny.pt"
LOG = DATA / "checkpoints" / "msdm-tiny.log.jsonl"
SHIPPED = CKPT.exists()
above_1 = {name: 1 - float(torch.distributions.Normal(mean, std).cdf(torch.tensor(0.0)))
           for name, mean, std in (("paper, N(−3, 1)", -3.0, 1.0), ("shipped model, N(−2, 1.5²)", -2.0, 1.5))}
print("share of training σ above 1:", {k: f"{v:.2%}" for k, v in above_1.items()})
if SHIPPED:
    model = load(CKPT, device)
    print(f"{CKPT.relative_to(DATA.parent)}: {CKPT.stat().st_size / 1e6:.1f} MB, "
          f"{num_parameters(model.net) / 1e6:.2f}M parameters, stems {model.stems}")
    print("also shipped:", sorted(p.name for p in CKPT.parent.glob("*.pt")))
else:
    print(f"{CKPT} is missing (it ships with the course; a partial checkout?).\n"
          f"Falling back to the model you just trained: after {summary['step']} steps expect mostly noise.")
    model = load(ckpt, device)
    model.clamp = True

# %% [markdown]
# Its training log: the loss of every logged batch (noisy) and the validation loss of the EMA
# weights on fixed chunks.

# %%
if LOG.exists():
    records = [json.loads(line) for line in LOG.read_text().splitlines() if line.strip()]
    training = [r for r in records if "loss" in r]
    tr = np.array([(r["step"], r["loss"]) for r in training])
    va = np.array([(r["step"], r["val_loss"]) for r in records if "val_loss" in r]).reshape(-1, 2)
    phase = np.array([r.get("phase", "base") for r in records if "val_loss" in r])
    tuned = [r["step"] for r in records if r.get("phase") == "fine-tune"]
    speed = np.array([r["steps_per_s"] for r in training])
    hours = float((np.diff(tr[:, 0], prepend=0.0) / speed).sum()) / 3600     # pauses between runs left out
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(tr[:, 0], tr[:, 1], lw=0.8, alpha=0.5, label="training loss")
    k = len(tr) // 50
    if k > 1:
        ax.plot(tr[k - 1:, 0], np.convolve(tr[:, 1], np.ones(k) / k, mode="valid"), label=f"running mean of {k}")
    for name in dict.fromkeys(phase):                # validation σ follow each phase's distribution
        v = va[phase == name]
        ax.plot(v[:, 0], v[:, 1], "o-", ms=4, label=f"validation loss (EMA, {name})")
    if tuned:
        ax.axvline(min(tuned), color="k", lw=0.8, ls="--")
    ax.set(yscale="log", xlabel="step", ylabel="weighted loss", title=f"msdm-tiny: {int(tr[-1, 0])} steps, "
           f"{hours:.1f} h of training (steps ÷ logged steps/s)")
    ax.legend()
    plt.show()
    if len(va) >= 2:
        for name in dict.fromkeys(phase):        # each phase scores its own σ, so compare within a phase
            v = va[phase == name]
            print(f"{name}: validation loss {v[0, 1]:.3f} at step {int(v[0, 0])} -> {v[-1, 1]:.3f} at step {int(v[-1, 0])}")
            assert len(v) < 2 or v[-1, 1] < v[0, 1], f"the validation loss should fall during the {name} phase"
    else:  # a log without validation records: check the smoothed training loss instead
        n = max(1, len(tr) // 10)
        print(f"no validation records in this log; training loss {tr[:n, 1].mean():.3f} (first tenth) -> "
              f"{tr[-n:, 1].mean():.3f} (last tenth)")
        assert tr[-n:, 1].mean() < tr[:n, 1].mean(), "the shipped model's training loss should fall"
else:
    print(f"{LOG} is missing: no training log to plot.")

# %% [markdown]
# ### Where did it learn? The loss per noise level
# Average the weighted loss at each σ separately, on validation chunks. The do-nothing network
# (§3) is the baseline; an untrained network is worse than that (its random output only adds
# error), and a trained model goes below it where the data has structure it can use.
# Very small σ is hard for everyone — the noise is far below the music and must be *predicted*
# sample by sample — and at very large σ there is nothing left to see.

# %%
val_eval = EvalChunks(TOY, "validation", chunk_length=course.size(32768, 4096))
xv = torch.stack([val_eval[j] for j in range(0, len(val_eval), max(1, len(val_eval) // 4))][:4])
nv = torch.randn(xv.shape, generator=gen)
sig = torch.cat([torch.logspace(-3, 1, course.size(13, 5)), torch.tensor([np.exp(-3.0)])]).sort().values
curves = {"untrained": untrained, f"after {summary['step']} steps (live run)": load(ckpt, device)}
if SHIPPED:
    curves["shipped msdm-tiny"] = model
losses = {}
with torch.no_grad():                  # D.loss is edm_loss without the clamp, at the σ and noise we give
    for name, D in curves.items():
        losses[name] = np.array([D.loss(xv.to(device), sigma=torch.full((len(xv),), float(s), device=device),
                                        noise=nv.to(device)).item() for s in sig])
baseline = np.array([zero_net_loss(float(s), xv.pow(2).mean().item()) for s in sig])
fig, ax = plt.subplots(figsize=(8, 3.4))
ax.semilogx(sig, baseline, "--", color="0.4", label="F ≡ 0 (closed form)")
for name, ls in losses.items():
    ax.semilogx(sig, ls, "o-", ms=3, label=name)
ax.axvspan(np.exp(-4), np.exp(-2), color="0.9", zorder=-1, label="ln σ within −3 ± 1")
ax.set(xlabel="σ", ylabel="weighted loss", ylim=(0, 2.5), title="validation loss per noise level")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))   # beside the axes, off the data
plt.show()
if SHIPPED:
    j = int(np.argmin(np.abs(sig.numpy() - np.exp(-3.0))))   # the median training σ, e^−3 ≈ 0.05
    print(f"at σ = {sig[j]:.3f}: shipped {losses['shipped msdm-tiny'][j]:.3f}, do-nothing {baseline[j]:.3f}")
    assert losses["shipped msdm-tiny"][j] < baseline[j], "the shipped model should beat F ≡ 0 where it trained most"

# %% [markdown]
# ### What does it know, per stem? The best gain
# The loss above averages the four stems. Per stem, one number tells whether the estimate is *honest*
# about what it knows. The ideal denoiser returns the posterior mean $\mathbb{E}[x_0 \mid x]$, and its
# error is uncorrelated with its estimate (the orthogonality principle), so no gain $g$ on the estimate
# could lower the error: the best gain
# $$g_k(\sigma) = \frac{\langle x_{0,k},\, D_k(x;\sigma)\rangle}{\lVert D_k(x;\sigma)\rVert^2}$$
# is 1 at every σ. $g_k > 1$: the estimate of stem $k$ is too quiet for what it knows; $g_k < 1$: it
# passes off noise (or a guess) as the stem; $g_k \approx 0$: a guess unrelated to the truth — where a
# model that knows nothing should return silence. `quality.denoising_error` reports it with the relative
# error. The check at small σ is calibrated against an estimate halved (g = 2) and one that lets the
# noise through (g far below 1); both fail it. `benchmarks/denoising_error.py --per-stem` runs this on
# more chunks and against the Wiener filter (docs/training_recipe.md).

# %%
gain_sigmas = [0.1, 1.0, 10.0]
def on_device(D):                                   # quality.denoising_error adds CPU noise to CPU chunks
    return lambda x, s: D(x.to(device), s).float().cpu()
with torch.no_grad():
    probe = {name: quality.denoising_error(on_device(D), xv, gain_sigmas, generator=torch.Generator().manual_seed(0))
             for name, D in [("shipped" if SHIPPED else "live run", model),
                             ("estimate halved", lambda x, s: 0.5 * model(x, s)),
                             ("noise let through", lambda x, s: x)]}
print("best gain g_k(σ) per stem " + ", ".join(STEMS))
for name, per_sigma in probe.items():
    print(f"  {name:18s}" + "  ".join(f"σ {s:g}: " + " ".join(f"{g:5.2f}" for g in v["best_gain"])
                                      for s, v in per_sigma.items()))
def calibrated(per_sigma, sigma=0.1, tolerance=0.15):
    return all(abs(g - 1) < tolerance for g in per_sigma[sigma]["best_gain"])
assert not calibrated(probe["estimate halved"]) and not calibrated(probe["noise let through"]), \
    "the check must fail a halved estimate and one that lets the noise through"
if SHIPPED:
    assert calibrated(probe["shipped"]), "the shipped model should be calibrated (g ≈ 1) at σ = 0.1"
    guessed = [k for k, g in zip(STEMS, probe["shipped"][10.0]["best_gain"]) if g < 0.5]
    print("at σ = 10 the shipped model's estimate is mostly a guess (g < 0.5) for:", ", ".join(guessed) or "no stem")

# %% [markdown]
# ### Listen: unconditional samples
# Generation is the sampler of notebook 03 on the probability-flow ODE of the learned joint
# density: start from noise at σ_max, integrate $dx/d\sigma = (x - D(x;\sigma))/\sigma$ down to 0 with
# Heun's method (`samplers.heun` + `samplers.score_derivative`), all four stems at once, on a Karras
# grid from the paper's σ_max = 20 down to 10⁻⁴ (ρ = 7), where the paper starts generation.
# A 4.5M-parameter model trained for a few CPU-hours gives a sketch, not a song: listen for
# a bass line, drum hits and chords that move together. Notebook 07 explores generation properly.

# %%
n_steps = course.size(40, 8)
length = course.size(65536, 16384)                         # ~3 s (a multiple of the U-Net's 1024)
sigmas = karras_sigmas(n_steps, 1e-4, 20.0, 7.0)
x_init = initial_noise((course.size(2, 1), len(STEMS), length), sigmas, generator=gen).to(device)
t0 = time.time()
with torch.no_grad():
    y = heun(score_derivative(model), x_init, sigmas).float().cpu()
print(f"{len(y)} sample(s) of {length / SR:.1f} s, {2 * n_steps - 1} denoiser calls, {time.time() - t0:.1f} s")
assert torch.isfinite(y).all() and y.abs().max() <= 1.0, "the last Heun step returns D(x), clamped to [-1, 1]"
level = y.pow(2).mean().sqrt().item()
print(f"RMS of the generated stems {level:.3f}; of the training chunks {rms:.3f}")
assert level < 0.5 * float(sigmas[0]), "a sample should be far quieter than the noise it started from"
if SHIPPED:
    assert rms / 3 < level < 3 * rms, "the shipped model should generate stems about as loud as the training data"

# Loud enough is not music: how tonal are the generated pitched stems? Spectral flatness of the loud
# frames (quality.spectral_flatness, dB): the training chunks against white noise at their level
# calibrate the scale (the check below); the generated stems are placed on it and reported.
pitched = [STEMS.index(s) for s in ("bass", "guitar", "piano")]
tonal = quality.tonality(y[:, pitched], x0[:, pitched].float().cpu(), torch.Generator().manual_seed(5))
print(f"flatness of bass, guitar, piano (dB): training chunks {tonal['real']:.1f}, generated {tonal['candidate']:.1f}, "
      f"white noise {tonal['white noise']:.1f}")
assert tonal["white noise"] - tonal["real"] > 6, "the measure must tell the toy stems from noise"
print(f"the generated stems are {tonal['share']:.0%} of the way from white noise to the training stems' tonality"
      + (" (noise-like: the notes are not there yet; docs/training_recipe.md)" if tonal["share"] < 2 / 3 else ""))
for b in range(len(y)):
    display(plotting.players({**dict(zip(STEMS, y[b])), "mix": y[b].sum(0)}, SR, columns=5))
fig = plotting.stems_figure(dict(zip(STEMS, y[0])), SR, mix=y[0].sum(0), max_freq=8000,
                            title="a generated chunk: four stems and their sum")
plt.show()

# %% [markdown]
# ## 6. Scaling up: the paper's run on Slakh2100 (GPU)
# The paper trains the full 405M-parameter U-Net (notebook 04) on Slakh2100 (Manilow et al.,
# 2019) prepared as in notebook 05: 262144-sample chunks (~11.9 s at 22050 Hz), batch 8, Adam with
# learning rate 10⁻⁴ and β = (0.9, 0.99), bf16 autocast. The `paper` preset holds those values
# (`train.PRESETS["paper"]`); the commands below are all you need. `--batch-size` is the *global*
# batch: under `torchrun` each of N processes takes 1/N of it, and a DistributedDataParallel step
# equals the single-process step on the same batch (tested). Only rank 0 logs and saves.
#
# **How long, how much memory?** Measured numbers, when someone has run
# `benchmarks/train_speed.py` on a GPU, are in `docs/benchmarks.md` ("Training speed"). Until then
# these are **unmeasured estimates** from counting on the meta device: 405.5M parameters need
# ~7.6 GiB for weights, gradients, Adam's two moments and the EMA (20 bytes each); the
# activations saved for the backward pass at batch 8 are ≤ 7.6 GiB in fp32 accounting (less
# under bf16), so expect **~12–20 GiB per GPU** at batch 8. A step is ~5.9 TFLOP; at an assumed
# 30–120 TFLOP/s that is **~0.05–0.2 s per step** on one A100/H100-class GPU, i.e. roughly
# 14–55 hours for the preset's 10⁶ steps. The cell below measures both when it can.
#
# The cell trains only when it sees a GPU **and** the prepared data (set `MSDM_SLAKH` to the
# folder written by `msdm prepare-slakh`); otherwise it prints the commands and runs the same
# command line, small, on the toy songs.

# %%
SLAKH = Path(os.environ.get("MSDM_SLAKH", "/data/slakh2100_msdm"))
have_gpu, have_data = torch.cuda.is_available(), (SLAKH / "train").is_dir()
paper = train.PRESETS["paper"]
n_params = num_parameters(build(train.unet_config_for(paper), device="meta"))
commands = f"""\
# 1. Prepare Slakh2100 once (the official flac_redux release in, MSDM layout out; resumable):
msdm prepare-slakh /data/slakh2100_flac_redux {SLAKH} --workers 8
# 2. One GPU, the paper's run ({paper.steps:,} steps, batch {paper.batch_size}, chunks of {paper.chunk_length} samples):
msdm train --preset paper --data {SLAKH} --out runs/msdm-paper
# 3. Four GPUs on one machine (global batch 8 = 2 per GPU; raise it with --batch-size 32):
torchrun --nproc-per-node 4 -m msdm_tutorial.cli.train --preset paper --data {SLAKH} --out runs/msdm-paper
#    several machines: add --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 to torchrun
# 4. ISDM, the paper's weakly supervised baseline: one single-stem model per stem
for stem in {' '.join(STEMS)}; do msdm train --preset paper-isdm --stems $stem --data {SLAKH} --out runs/isdm-$stem; done
# 5. Stopped (Ctrl-C, a scheduler's SIGTERM, a crash)? Continue exactly where the last checkpoint left off:
msdm train --preset paper --data {SLAKH} --out runs/msdm-paper --resume
# 6. Watch the losses and listen to the validation samples (pip install tensorboard):
tensorboard --logdir runs/msdm-paper/tensorboard"""
print(commands)
print(f"\nThe paper's U-Net: {n_params / 1e6:.1f}M parameters -> {n_params * 20 / 2**30:.1f} GiB for weights, "
      "gradients, Adam and EMA.\nUnmeasured estimate: ~12-20 GiB per GPU at batch 8 and ~0.05-0.2 s per step "
      "(see docs/benchmarks.md for measured numbers).\n")

if have_gpu and have_data:
    gpu_steps = course.size(30, 6)
    gpu_cfg = replace(paper, steps=gpu_steps, log_every=1, val_every=0, sample_steps=0, save_every=10**9)
    stamps = {}
    torch.cuda.reset_peak_memory_stats()
    train.train(gpu_cfg, SLAKH, work / "paper-run", device="cuda",
                callback=lambda step, record: stamps.setdefault(step, time.perf_counter()))
    per_step = (stamps[gpu_steps] - stamps[2]) / (gpu_steps - 2)       # after two warm-up steps
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"measured on {torch.cuda.get_device_name(0)}: {per_step:.3f} s/step, peak {peak:.1f} GiB allocated; "
          f"{paper.steps:,} steps would take {per_step * paper.steps / 3600:.0f} h")
else:
    missing = [m for m, ok in (("no CUDA GPU is visible", have_gpu),
                               (f"no prepared Slakh2100 was found at {SLAKH} (set MSDM_SLAKH to the folder "
                               "`msdm prepare-slakh` wrote)", have_data)) if not ok]
    print(f"Not training the paper's model here: {' and '.join(missing)}.\n"
          f"With both, this cell would run {course.size(30, 6)} steps of the `paper` preset on Slakh2100 "
          "(train.train on device cuda) and print the measured seconds per step and peak GPU memory;\n"
          "for the full run, use the commands above. Instead, the same command line, small, on the toy songs:")
    small = work / "cli-run"
    base = ["train", "--preset", "tiny", "--data", str(TOY), "--chunk-length", "4096", "--batch-size", "4",
            "--val-every", "0", "--log-every", "1"]
    for extra in (["--out", str(small), "--steps", "2"], ["--out", str(small), "--steps", "3", "--resume"]):
        print("  msdm", " ".join(base + extra))
        assert cli.main(base + extra) == 0
    assert [json.loads(line)["step"] for line in (small / "log.jsonl").read_text().splitlines()] == [1, 2, 3]
    if not course.QUICK:  # two CPU processes on the gloo backend: the multi-GPU path, on a laptop
        extra = ["--out", str(work / "ddp-run"), "--steps", "2", "--device", "cpu"]
        print("  torchrun --nproc-per-node 2 -m msdm_tutorial.cli.train", " ".join(base[1:] + extra))
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                               "-m", "msdm_tutorial.cli.train", *base[1:], *extra], capture_output=True, text=True)
        print("  " + (done.stdout.strip().splitlines() or ["(no output)"])[-1])
        assert done.returncode == 0, done.stderr[-2000:]

# %% [markdown]
# ## 7. Try it
# **Exercise 1.** Make the toy songs twice as loud as σ_d — RMS $s = 2\sigma_d = 0.4$. What weighted
# loss does the do-nothing network $F \equiv 0$ get at σ = 10? Predict it from the closed form in §3
# (or from its large-σ limit), then run the check.

# %%
my_zero_loss_at_10 = None  # your prediction: a number

# %%
from msdm_tutorial import exercises

x_loud = x0 * 2 * SIGMA_D / rms
at_10 = weighted_loss(zero, x_loud, 10.0, n_batch)               # measured on the louder batch
exercises.zero_net_loss(my_zero_loss_at_10, at_10)            # self-check: within 0.1 of the measurement

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: (σ² s² + σ_d⁴) / ((σ² + σ_d²) σ_d²) with σ = 10, s = 0.4, σ_d = 0.2 gives 16.0016 / 4.0016 ≈ 4.0,
# the large-σ limit s²/σ_d² = 4: with no information left in x, D = c_skip·x ≈ 0 and the error is the music itself.
my_zero_loss_at_10 = zero_net_loss(10.0, (2 * SIGMA_D) ** 2)
exercises.zero_net_loss(my_zero_loss_at_10, at_10)

# %% [markdown]
# **Exercise 2.** You launch `torchrun --nproc-per-node 4 ... --batch-size 8`. Step $s$ of the run
# uses the global samples $8s, \dots, 8s + 7$ of the data order, and rank $r$ takes those
# $\equiv r \pmod 4$. Which two global sample numbers does **rank 1** train on at **step 3**? Check
# your answer against the sampler the loop uses, `data.GlobalIndices(start, rank, world_size)`.

# %%
my_rank1_step3 = None  # your answer: a list of two integers

# %%
exercises.rank_samples(my_rank1_step3, step=3, rank=1, world_size=4, batch_size=8)   # self-check with GlobalIndices

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: step 3 holds samples 24..31; rank 1 takes 25 and 29 (rank 0: 24, 28; rank 2: 26, 30; rank 3: 27, 31).
my_rank1_step3 = [25, 29]
exercises.rank_samples(my_rank1_step3, step=3, rank=1, world_size=4, batch_size=8)

# %%
shutil.rmtree(work, ignore_errors=True)

# %% [markdown]
# ## Summary
# * MSDM trains with the EDM objective on all stems of a chunk at once: noise at ln σ ~ N(−3, 1),
#   denoise, squared error weighted by λ(σ), which puts every noise level on the same footing —
#   the do-nothing network scores exactly 1 when the data has RMS σ_d, as you measured.
# * `msdm_tutorial.train.train` (and `msdm train`) runs it with EMA weights, fixed-σ validation,
#   JSONL/TensorBoard logs and checkpoints that resume bit for bit; the validation loss, not the
#   noisy batch loss, tells you whether training works.
# * The same code scales from a minute on a laptop to the paper's run: `msdm train --preset paper`
#   on one GPU, `torchrun --nproc-per-node N -m msdm_tutorial.cli.train` on many, `--preset paper-isdm
#   --stems STEM` for the single-stem ISDM models, `--resume` after an interruption.
#
# **Next:** [07 · Generation](07_generation.ipynb) — generate all four stems jointly, and see
# what the sampler's knobs do.
