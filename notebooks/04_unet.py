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
# # 04 · Anatomy of the waveform U-Net
#
# **At the end of this notebook you can** follow a waveform through every level of the network
# MSDM uses for its denoiser, say where its 405 million parameters live and how far each sample
# "sees", build a small version of it, and load the paper's own checkpoints.
#
# *Prerequisites:* notebooks [01](01_diffusion_basics.ipynb)–[03](03_samplers.ipynb) (the EDM denoiser
# $D(x;\sigma)$ and its preconditioning, [02](02_schedules_and_preconditioning.ipynb)).
# *Run time:* 9 s in default mode on an idle 2-core CPU (`benchmarks/notebook_times.py`); a GPU is not needed, because the
# paper-sized model is only ever run on PyTorch's *meta* device (shapes without memory).

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
# ## 1. The idea: one network on raw waveforms
#
# Notebook 02 wrapped a network $F_\theta$ into the denoiser (Karras et al., 2022, "EDM"):
#
# $$D_\theta(x;\sigma) = c_\text{skip}(\sigma)\,x + c_\text{out}(\sigma)\,F_\theta\big(c_\text{in}(\sigma)\,x;\ c_\text{noise}(\sigma)\big),
# \qquad c_\text{noise}(\sigma) = \tfrac14 \ln\sigma .$$
#
# In MSDM, $x$ holds the $K = 4$ stems of a song as the channels of one waveform tensor
# $(K, T)$ at 22050 Hz, and $F_\theta$ is the 1-D U-Net of the *audio-diffusion-pytorch* package
# (v0.0.43, Schneider et al.), which the paper used unchanged. Its job: map a noisy $(4, T)$
# waveform and one number, $c_\text{noise}$, to a $(4, T)$ waveform.
#
# Our clean reimplementation is `msdm_tutorial.unet.UNet` (configuration `unet.UNetConfig`,
# named presets `unet.PRESETS`, `unet.build(name)`). It computes the same function as the
# original to ~1e-6 and loads its weights (`tests/test_unet.py` checks both).

# %%
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from msdm_tutorial import STEMS, checkpoints, plotting, unet
from msdm_tutorial.denoiser import EDMDenoiser, c_out, c_skip

SR = 22050

for name, cfg in unet.PRESETS.items():
    n = unet.num_parameters(unet.build(name, device="meta"))  # meta: no memory, no initialisation
    print(f"{name:>10}: {n:>13,} parameters, input length a multiple of {cfg.downsampling}")

assert unet.num_parameters(unet.build("paper", device="meta")) == 405_497_700, "the paper's MSDM model"
assert unet.num_parameters(unet.build("paper-isdm", device="meta")) == 405_491_100, "one ISDM model per stem"

# %% [markdown]
# `paper` is the MSDM model (four stems in, four out); `paper-isdm` is one of the four
# single-stem models of the "weakly supervised" ISDM baseline: it differs only in its first and
# last blocks. `small`, `tiny` and `tiny-isdm` (one stem, half of `tiny`'s width) keep the shape of
# the architecture at a fraction of the width and depth; the tiny ones train on a laptop CPU.
#
# ## 2. See it: a waveform's journey through the U
#
# The paper trains on chunks of $2^{18} = 262144$ samples (11.9 s). Follow one through the
# paper's model. `unet.describe` runs the forward pass on the meta device and records each
# stage's output shape:
#
# * **patch**: a ResnetBlock at full rate (4 → 16 channels), then every 16 consecutive samples
#   are *folded into channels*: $(16, T) \to (256, T/16)$;
# * **down 0…5**: a strided convolution (kernel $2f+1$, stride $f$) shortens the signal by
#   $f = 4,4,4,2,2,2$ and widens it, then two ResnetBlocks, plus a Transformer at the three
#   deepest levels; every block output is kept as a *skip*;
# * **mid**: ResnetBlock → self-attention → ResnetBlock at $T/8192$;
# * **up 5…0**: ResnetBlocks on [x, skip·$2^{-1/2}$], a Transformer where the down level had
#   one, then a transposed convolution back up by $f$;
# * **unpatch**: add the patch-level skip, unfold channels back into samples, ResnetBlock → 4.

# %%
T = 262144
rows = unet.describe("paper", T)
print(f"{'stage':>14} | {'channels':>8} | {'length':>7} | {'ms/pos':>8} | {'parameters':>12} | attention tokens")
for r in rows:
    ms = 1000 * T / r["length"] / SR if r["length"] > 1 else float("nan")
    print(f"{r['stage']:>14} | {r['channels']:>8} | {r['length']:>7} | {ms:8.2f} | {r['parameters']:>12,} | "
          f"{r['tokens'] or '-'}")

# %%
stages = [r for r in rows if r["stage"] != "time embedding"]
fig, ax = plt.subplots(figsize=(11, 3.6))
x_pos = np.arange(len(stages))
ax.plot(x_pos, [r["length"] for r in stages], "o-", label="length (positions)")
ax.plot(x_pos, [r["channels"] for r in stages], "s--", label="channels")
ax.set_yscale("log", base=2)
ax.set_xticks(x_pos, [r["stage"] for r in stages], rotation=45, ha="right")
ax.set_ylabel("size (log₂ scale)")
ax.set_title(f"The paper's U-Net on {T} samples ({T / SR:.1f} s): time shrinks 8192×, channels grow to 1024")
for i, r in enumerate(stages):
    if r["tokens"]:
        ax.annotate("attn", (i, r["length"]), textcoords="offset points", xytext=(0, 8), ha="center", color="C3")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Check it: shapes, and where the parameters live
#
# The output has the input's shape; the deepest position summarises $8192$ samples (0.37 s);
# and the parameters sit where the channels are wide — the levels at 1024 channels — not where
# the signal is long.

# %%
by_stage = {r["stage"]: r for r in rows}
assert (by_stage["unpatch 0"]["channels"], by_stage["unpatch 0"]["length"]) == (4, T)
assert by_stage["mid"]["length"] == T // unet.PRESETS["paper"].downsampling == 32
assert sum(r["parameters"] for r in rows) == 405_497_700

wide = sum(r["parameters"] for r in rows if r["channels"] == 1024 and r["stage"] != "time embedding")
print(f"stages at 1024 channels hold {wide / 405_497_700:.0%} of the parameters")
assert wide / 405_497_700 > 0.8, "most parameters should be in the 1024-channel levels"

fig, ax = plt.subplots(figsize=(11, 3))
ax.bar([r["stage"] for r in rows], [r["parameters"] / 1e6 for r in rows], color="C2")
ax.set_ylabel("parameters (millions)")
ax.set_title("Parameters per stage (the time embedding is shared by every ResnetBlock)")
plt.xticks(rotation=45, ha="right")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. How far does a sample see?
#
# **Receptive field.** Through its convolutions alone, one output sample depends on a window
# of input samples: each convolution widens it by (kernel − 1) × the current stride.
# `unet.receptive_field` walks the deepest path. On top of that, GroupNorm statistics span the
# whole signal, and the **attention** at the deepest levels lets every position look at every
# other one — so the deep levels are global. Attention is affordable there because the
# sequence is short: the number of *tokens* is the signal length *where the Transformer runs*. In a
# down level that is the level's output length (the strided convolution comes first); in an up level
# it is the level's *input* length, because the transposed convolution that doubles or quadruples
# the length comes after the Transformer. That is why the table above shows `up 3` with 128 tokens
# next to an output length of 256: its Transformer runs at 128 positions, like `down 3`'s.

# %%
cfg = unet.PRESETS["paper"]
rf = unet.receptive_field(cfg)
print(f"convolutional receptive field: {rf:,} samples = {rf / SR:.1f} s (the chunk is {T / SR:.1f} s)")
tokens = {r["stage"]: r["tokens"] for r in rows if r["tokens"]}
print("attention tokens per stage:", tokens)
print(f"largest attention matrix: {max(tokens.values())}² = {max(tokens.values()) ** 2:,} entries per head "
      f"(vs {T:,}² = {T ** 2:.1e} at full rate)")
assert rf > T, "every output sample of a training chunk is influenced by the whole chunk"
assert max(tokens.values()) == T // (16 * 4 * 4 * 4 * 2), "attention starts after the 4th downsampling"
for name, r in by_stage.items():
    if name.startswith("down") or name == "mid":
        assert r["tokens"] in (0, r["length"]), f"{name}: attention runs at the level's output length"
    elif name.startswith("up"):
        f = cfg.factors[int(name.split()[1])]
        assert r["tokens"] in (0, r["length"] // f), f"{name}: attention runs before the ×{f} upsampling"
        assert r["tokens"] == tokens.get("down " + name.split()[1], 0), f"{name} attends like its down level"
print("tokens = output length in down levels and the bottleneck, = output length / f in up levels ✓")

# %% [markdown]
# ## 5. The time embedding
#
# The network learns how much to denoise from $t = c_\text{noise} = \tfrac14\ln\sigma$ alone.
# `unet.TimeEmbedding` expands it into learned Fourier features, $[\,t,\ \sin 2\pi w_i t,\ \cos 2\pi w_i t\,]$
# with $C/2 = 128$ frequencies $w_i \sim \mathcal N(0, 1)$, then three Linear + GELU layers give
# a 1024-vector. Every ResnetBlock turns it into a per-channel scale and shift of its second half:
# $h \leftarrow \mathrm{GN}(h)\,(1 + \text{scale}) + \text{shift}$.
#
# Below: the Fourier features of a freshly built `tiny` model over the σ range used in sampling.
# Low frequencies vary slowly with σ, high ones oscillate: together they tell σ apart at every scale.

# %%
tiny_net = unet.build("tiny")
sigmas = torch.logspace(-4, math.log10(80), 400)
t = 0.25 * sigmas.log()
with torch.no_grad():
    feats = tiny_net.time.fourier(t)  # (400, C + 1)
order = torch.argsort(tiny_net.time.freqs.abs())
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
for j in [order[0], order[len(order) // 2], order[-1]]:
    w = tiny_net.time.freqs[j].item()
    axes[0].plot(sigmas, feats[:, 1 + j], label=f"sin 2π·({w:+.2f})·t")
axes[0].set(xscale="log", xlabel="σ", ylabel="feature", title="three Fourier features vs σ")
axes[0].legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=3)  # above the plot, off the curves
axes[1].imshow(feats[:, 1 + order].T.numpy(), aspect="auto", cmap="RdBu_r",
               extent=[math.log10(1e-4), math.log10(80), 0, len(order)], origin="lower")
axes[1].set(xlabel="log₁₀ σ", ylabel="sin features, sorted by |w|", title="all sine features")
plt.tight_layout()
plt.show()
assert torch.equal(feats[:, 0], t), "the first feature is c_noise itself"

# %% [markdown]
# ## 6. A tiny model on real audio
#
# `tiny` (3.8 M parameters, printed in section 1) has the same anatomy: patches of 8, four levels
# (factors 4, 4, 4, 2), attention at the two deepest, 1024× downsampling (the next cell checks its
# configuration). Wrap it into the EDM denoiser and feed it a toy song (notebook 05 makes them) with
# noise at σ = 0.1. It is untrained, so its guess $F_\theta$ is noise of order 1 (printed below)
# — yet $D$ is already sensible at small σ, because
# $c_\text{skip}\to 1$ and $c_\text{out} \approx \sigma \to 0$ as $\sigma \to 0$: the preconditioning makes
# "return the input" the default, and the error $c_\text{out}\,F$ shrinks with σ.

# %%
from msdm_tutorial.data import synthesize_song

tiny_cfg = unet.PRESETS["tiny"]
assert (tiny_cfg.patch_factor, tiny_cfg.factors, tiny_cfg.attentions, tiny_cfg.downsampling) == \
    (8, (4, 4, 4, 2), (False, False, True, True), 1024), tiny_cfg
n = 32768  # 1.49 s, a multiple of tiny's 1024
song, meta = synthesize_song(seed=3, seconds=n / SR + 0.1, sample_rate=SR)
x0 = song[:, :n][None]  # (1, 4, 32768)
D = EDMDenoiser(tiny_net, sigma_data=0.2, stems=STEMS, sample_rate=SR).eval()
sigma = 0.1
noisy = x0 + sigma * torch.randn(x0.shape, generator=gen)
start = time.perf_counter()
with torch.no_grad():
    denoised = D(noisy, sigma)
print(f"tiny forward on {tuple(x0.shape)}: {1000 * (time.perf_counter() - start):.0f} ms on {device.type}")
F_guess = (denoised - c_skip(torch.tensor(sigma), 0.2) * noisy) / c_out(torch.tensor(sigma), 0.2)   # D = c_skip·x + c_out·F
print(f"the untrained network's F: standard deviation {F_guess.std():.2f}, largest |F| {F_guess.abs().max():.1f}")
assert 0.1 < F_guess.std() < 10, "an untrained network's output should be noise of order 1"

width = int(0.06 * SR)                          # 60 ms, to see individual periods: where every stem plays
start_at = max(range(0, n - width, width), key=lambda i: x0[0, :, i:i + width].pow(2).mean(1).min().item())
window = slice(start_at, start_at + width)
fig, axes = plt.subplots(4, 1, figsize=(11, 6), sharex=True)
time_ms = 1000 * np.arange(n)[window] / SR
for k, ax in enumerate(axes):
    ax.plot(time_ms, noisy[0, k, window], lw=0.8, color="0.75", label="x + σn (input)")
    ax.plot(time_ms, x0[0, k, window], lw=1.6, color=plotting.STEM_COLORS[STEMS[k]], label="clean x")
    ax.plot(time_ms, denoised[0, k, window], lw=0.8, color="k", alpha=0.7, label="D(x + σn; σ), untrained")
    ax.set_ylabel(STEMS[k])
axes[-1].set_xlabel("time (ms)")
fig.suptitle(f"σ = {sigma}: the untrained D returns c_skip·input ({c_skip(torch.tensor(sigma), 0.2):.2f}×) plus c_out·F")
plt.tight_layout(rect=(0, 0, 1, 0.93))
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=3)  # off the data
plt.show()
print("noisy mixture, then the untrained denoiser's mixture (true levels)")
display(plotting.play(noisy[0].sum(0), SR, normalize=False))
display(plotting.play(denoised[0].sum(0), SR, normalize=False))

# %%
assert denoised.shape == x0.shape
print(" σ      | c_skip   | c_out    | max |D(x; σ) − x|")
errors = []
with torch.no_grad():
    for sig in [1e-1, 1e-2, 1e-3, 1e-4]:
        s = torch.tensor(sig)
        errors.append((D(x0, sig) - x0).abs().max().item())
        print(f" {sig:.0e} | {c_skip(s, 0.2):.6f} | {c_out(s, 0.2):.2e} | {errors[-1]:.2e}")
assert all(a > 5 * b for a, b in zip(errors, errors[1:])), "the error should shrink about 10× per decade of σ"
assert errors[-1] < 0.01, "at tiny σ the denoiser returns (almost) its input, even untrained"

# %% [markdown]
# ## 7. Lengths, padding, and what goes wrong
#
# Every level divides the length exactly, so the input length must be a multiple of the total
# downsampling (8192 for the paper, 1024 for `tiny`). The network says so rather than silently
# misaligning skips; `UNet.pad` pads with zeros (crop the output back afterwards).

# %%
try:
    tiny_net(torch.zeros(1, 4, 30000), 0.0)
except ValueError as err:
    print("ValueError:", err)
padded = tiny_net.pad(torch.zeros(1, 4, 30000))
print("padded to", padded.shape[-1], "=", padded.shape[-1] // 1024, "× 1024")
assert padded.shape[-1] == tiny_net.valid_length(30000) == 30720

# %% [markdown]
# ## 8. Checkpoints: ours and the paper's
#
# `checkpoints.save(path, denoiser, config)` writes one file with the configuration, the stem
# names, the sample rate, the weights and (when training kept one) the EMA weights; it loads with
# `torch.load(weights_only=True)`. `checkpoints.load(path)` gives back the denoiser — for our
# files and for the paper's original PyTorch-Lightning `.ckpt` files alike. Those files contain
# pickled Python objects, and unpickling can run code, so they are read with a restricted
# unpickler that never imports or calls anything outside plain data types (the foreign objects
# become inert stubs). `msdm convert-checkpoint ORIGINAL.ckpt OUT.pt` converts them once.

# %%
tmp = Path(tempfile.mkdtemp())
path = checkpoints.save(tmp / "tiny.pt", D, "tiny")
D2 = checkpoints.load(path)
print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, stems {D2.stems}, {D2.sample_rate} Hz, "
      f"preset {checkpoints.preset_name(D2.net.config)}")
with torch.no_grad():
    assert torch.allclose(D2(noisy, sigma), denoised, atol=1e-6), "a reloaded checkpoint computes the same function"

# %% [markdown]
# The paper's checkpoints (links in the MSDM repository's `ckpts/README.md`) are 1.6 GB each and
# a GPU makes them practical. This cell uses one when you point `MSDM_PAPER_CKPT` at it.

# %%
import os

ckpt = os.environ.get("MSDM_PAPER_CKPT")
if ckpt and Path(ckpt).exists():
    paper_D = checkpoints.load(ckpt, device=device)
    print(f"loaded {ckpt}: stems {paper_D.stems}, {unet.num_parameters(paper_D.net):,} parameters")
else:
    weights_gib = unet.num_parameters(unet.build("paper", device="meta")) * 4 / 2**30
    print("No paper checkpoint given (MSDM_PAPER_CKPT is not set), so this cell loads nothing.\n"
          "To use one: download msdm.tar (see the MSDM repository's ckpts/README.md), extract it, then either\n"
          "run `msdm convert-checkpoint <file>.ckpt msdm.pt` or set MSDM_PAPER_CKPT=<file>.ckpt and re-run this cell.\n"
          f"Its fp32 weights alone take {weights_gib:.1f} GiB of (GPU) memory.")

# %% [markdown]
# ## 9. Try it
#
# **Exercise 1.** You want to process 5 s of audio at 22050 Hz with the paper's model. What is
# the shortest valid input length, and how many positions will the bottleneck attend over?

# %%
my_length, my_tokens = None, None  # your predictions: two integers

# %%
from msdm_tutorial import exercises

exercises.paper_input(my_length, my_tokens, seconds=5.0, sample_rate=SR)   # self-check with valid_length and describe

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: 5 s = 110250 samples; the next multiple of 8192 is 14 · 8192 = 114688, and the
# bottleneck has 114688 / 8192 = 14 positions.
my_length, my_tokens = 14 * 8192, 14
exercises.paper_input(my_length, my_tokens, seconds=5.0, sample_rate=SR)

# %% [markdown]
# **Exercise 2.** Make `tiny` cheaper on long inputs by changing its last factor from 2 to 4
# (`unet.PRESETS["tiny"].replace(factors=(4, 4, 4, 4))`). Predict: does the parameter count change?
# And the number of attention tokens at the bottleneck for a 32768-sample chunk? Check with
# `unet.describe(cfg, 32768)`.

# %%
my_cfg = None  # build it
my_params_change, my_mid_tokens = None, None  # True/False, an integer

# %%
exercises.wider_last_factor(my_cfg, my_params_change, my_mid_tokens, length=32768)   # self-check with describe

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution: a factor of 4 makes the last strided conv's kernel 2·4+1 = 9 instead of 5 and the
# transposed conv's 8 instead of 4, so the count grows; the total downsampling becomes
# 8·4·4·4·4 = 2048, so the bottleneck gets 32768 / 2048 = 16 tokens (instead of 32).
my_cfg = unet.PRESETS["tiny"].replace(factors=(4, 4, 4, 4))
my_params_change, my_mid_tokens = True, 16
exercises.wider_last_factor(my_cfg, my_params_change, my_mid_tokens, length=32768)

# %%
import shutil

shutil.rmtree(tmp, ignore_errors=True)

# %% [markdown]
# ## Summary
# * MSDM's denoiser is a 1-D U-Net on raw waveforms (audio-diffusion-pytorch 0.0.43): patching
#   folds 16 samples into channels, six levels shorten the signal 8192× while widening it to 1024
#   channels, attention runs only where the sequence is short, and σ enters every ResnetBlock as
#   a scale and shift computed from learned Fourier features of ¼ ln σ.
# * Most of the 405 M parameters sit in the 1024-channel levels; the input length must be a
#   multiple of the total downsampling (`UNet.pad`), and each output sample sees more than a
#   training chunk.
# * `checkpoints.load` reads our files and the paper's Lightning checkpoints (safely), so you can
#   use the authors' trained models; `tiny` has the same anatomy and trains on a CPU.
#
# **Next:** [05 · Data](05_data.ipynb) builds the data these models learn from — songs whose
# stems share tempo, key and chords.
