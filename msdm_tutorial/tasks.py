"""The three MSDM inference tasks, each a derivative function around the shared sampler loops.

One model learns the joint score of K stems, ``D(x, σ) ≈ E[x0 | x]`` with x of shape (B, K, T).
Every task integrates the probability-flow ODE of some density down a σ grid; only the
*derivative* ``deriv(x, σ) = dx/dσ`` and an optional *projection* ``project(x, σ)`` change
(see :mod:`msdm_tutorial.samplers`). With the joint score written  s = (x − D(x, σ)) / σ  (= −σ∇log p_σ):

=====================  ===========================================  ===============================
task                   derivative  dx/dσ                            projection (before each use)
=====================  ===========================================  ===============================
generation             s                                            —
imputation             s  (+ (1−m)·(w/2σ)·∇ₓ‖m⊙(known − D)‖²,       x ← m·(known + σε) + (1−m)·x
                       with reconstruction guidance w > 0)
separation, Dirac      d_n = s_n − s_k,  d_k = 0                    x_k ← y − Σ_{j≠k} x_j
separation, Gaussian   s − c·σ/γ² · (y − Σ_j x_j),  γ = 0.75σ       —
outpainting            s                                            x ← h·(known + σε) + (1−h)·x
=====================  ===========================================  ===============================

(c = ½ in the paper's code, c = 1 for the exact Gaussian-likelihood gradient; see
:func:`gaussian_derivative`. h: 1 on the samples of a chunk that neighbouring chunks already
finished, every stem; seamless chunked separation adds this projection after the method's own.)
ISDM separation is Dirac or Gaussian separation with the joint denoiser replaced by K independent
single-stem denoisers (:class:`ISDMDenoiser`). Autoguidance replaces it by D_0 + w·(D_1 − D_0), the model
extrapolated from a weaker version of itself (:class:`~msdm_tutorial.autoguidance.AutoguidedDenoiser`).

Paper settings (Mariani et al. 2024 and their code) are the presets of :class:`GenerationConfig`,
:class:`ImputationConfig` and :class:`SeparationConfig` (:mod:`msdm_tutorial.configs`). Long recordings are cut into chunks and
processed in batches (:func:`separate_long`, :func:`impute_long`, :func:`generate` with a
``chunk_length``). The paper's chunks are independent, so stems jump where chunks meet; here the
default is *seamless*: a chunk that overlaps finished audio holds that overlap as known, exactly as
imputation holds known stems (:mod:`msdm_tutorial.chunking`). Generation of any length is the same
idea run forwards: *outpainting*, each chunk continuing the previous one.

Every task takes ``precision`` (``"auto"``, ``"bf16"``, ``"fp32"``; :mod:`msdm_tutorial.precision`).
Inputs are checked by :mod:`msdm_tutorial.task_inputs` (stem names, masks, silent mixtures).
The public names of those modules (configs, task_inputs, chunking, precision) and
:class:`~msdm_tutorial.isdm.ISDMDenoiser` are importable from here too (``__all__``).

``docs/tasks_closed_form.md`` reports how close each task gets to the exact answer on Gaussian
sources, where everything is known in closed form.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ._checks import check_finite
from .autoguidance import AutoguidedDenoiser
from .chunking import (CHUNKINGS, DEFAULT_OVERLAP, PAPER_CHUNK_LENGTH, SEAMLESS, chunk_joins, chunk_passes,
                       chunk_runs, default_overlap, join_chunks, map_chunks, run_chunked, split_chunks)
from .configs import GenerationConfig, ImputationConfig, SamplingConfig, SeparationConfig
from .isdm import ISDMDenoiser
from .models import length_multiple
from .unet import round_up
from .precision import PRECISIONS, cpu_has_native_bf16, resolve_precision, with_precision
from .samplers import STEPPERS, initial_noise, run, score_derivative
from .task_inputs import (SILENT_PEAK, as_mixture, check_stems_shape, resolve_stems, silent_items, stem_index,
                          stem_mask)

Denoiser = Callable[[Tensor, float], Tensor]
Derivative = Callable[[Tensor, float], Tensor]
Project = Callable[[Tensor, float], Tensor]


# ----------------------------------------------------------------------------------------------
# Running a task on the shared loops
# ----------------------------------------------------------------------------------------------

def _sample(deriv: Derivative, shape: Sequence[int], config: SamplingConfig, project: Project | None = None,
            generator: torch.Generator | None = None, callback=None, device=None, dtype=torch.float32) -> Tensor:
    """Integrate  dx/dσ = deriv(x, σ)  from x(σ_0) = σ_0·n down ``config``'s σ grid with its sampler
    (``samplers.STEPPERS``); ``callback(step)`` sees every :class:`~msdm_tutorial.samplers.Step`."""
    sigmas = config.sigmas(device)
    x = initial_noise(shape, sigmas, generator=generator, device=device).to(dtype)
    steps = STEPPERS[config.sampler](deriv, x, sigmas, generator=generator, project=project,
                                     **config.sampler_kwargs())
    with torch.no_grad():
        return run(steps, callback)


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------

def generate(denoiser: Denoiser, shape: Sequence[int], config: SamplingConfig | None = None,
             generator: torch.Generator | None = None, callback=None, device=None, precision: str = "auto",
             chunk_length: int | None = None, overlap: int | None = None,
             progress: Callable[[int, int], None] | None = None, margin: int | None = None) -> Tensor:
    """Total generation: sample all K stems jointly from the prior.

        x(σ_0) = σ_0·n,   dx/dσ = (x − D(x; σ)) / σ,   mix = Σ_k x_k  (``stems.sum(1)``)

    ``shape`` is (B, K, T); ``config`` the σ grid and sampler (default ``GenerationConfig.paper()``).
    Returns the stems (B, K, T); ``generator`` must live on ``device``.

    Songs longer than ``chunk_length`` are *outpainted*: the first chunk is generated, then each
    next chunk starts ``overlap`` samples (default a quarter chunk) before the end of the song so
    far and generates the rest with those samples held as known, all stems, by the imputation
    projection  x ← m·(known + σε) + (1 − m)·x  with m = 1 on the overlap (:func:`outpaint`).
    ``progress(done, total)`` counts chunks.

    The network's estimate is worst near the ends of its input, where it sees zeros beyond them, and
    generated stems used to spike there (up to the ±1 clamp; docs/training_recipe.md, section 2). So
    every song is generated ``margin`` samples longer at each end, which are dropped (default
    :func:`generation_margin`: an eighth of a chunk; 0 turns it off). An outpainted song is the
    middle of a longer outpainted one, so its joins lie at :func:`outpainting_joins`.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be (batch, stems, samples), got {shape}")
    stems = getattr(denoiser, "stems", None)
    if stems is not None and len(stems) != shape[1]:
        raise ValueError(f"the model has {len(stems)} stems {tuple(stems)} but shape asks for {shape[1]}")
    config = config or GenerationConfig.paper()
    b, k, t = shape
    long = chunk_length is not None and t > chunk_length
    margin = generation_margin(denoiser, chunk_length if long else t, margin)
    if long:
        known = torch.zeros((b, k, t + 2 * margin), device=device)
        x = outpaint(denoiser, known, torch.zeros(k), config, generator, callback, chunk_length, overlap,
                     precision, progress)
        return x[..., margin:margin + t]
    denoiser = with_precision(denoiser, precision, device)
    x = _sample(score_derivative(denoiser), (b, k, t + 2 * margin), config, generator=generator, callback=callback,
                device=device)
    return x[..., margin:margin + t]


def generation_margin(denoiser: Denoiser, chunk_length: int, margin: int | None = None) -> int:
    """Samples generated beyond each end of a song and dropped (:func:`generate`): ``margin`` when
    given (≥ 0), else an eighth of a chunk rounded up to the U-Net's valid-length multiple (4096
    samples for the tiny model's 32768-sample chunks). ``benchmarks/generation_edges.py`` measures what
    it removes; notebook 07 checks it."""
    if margin is None:
        return round_up(chunk_length // 8, length_multiple(denoiser))
    if int(margin) < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return int(margin)


def outpainting_joins(denoiser: Denoiser, length: int, chunk_length: int, overlap: int | None = None,
                      margin: int | None = None) -> list[int]:
    """Where a song that :func:`generate` outpainted passes from one chunk's samples to the next's:
    the joins (``chunk_joins``, sequential) of the song with its ``margin`` at each end, shifted back."""
    overlap = default_overlap(chunk_length) if overlap is None else overlap
    margin = generation_margin(denoiser, chunk_length, margin)
    joins = chunk_joins(length + 2 * margin, chunk_length, overlap, "sequential")
    return [j - margin for j in joins if 0 < j - margin < length]


def outpainting_chunks(denoiser: Denoiser, length: int, chunk_length: int, overlap: int | None = None,
                       margin: int | None = None) -> int:
    """How many chunks (sampler runs, a batch of songs at a time) :func:`generate` makes for a song of
    ``length`` samples: 1 up to a chunk, else the sequential chunks of the song with its margins."""
    if length <= chunk_length:
        return 1
    overlap = default_overlap(chunk_length) if overlap is None else overlap
    margin = generation_margin(denoiser, chunk_length, margin)
    return chunk_runs(length + 2 * margin, chunk_length, overlap, "sequential", 1, 1)


def outpaint(denoiser: Denoiser, known: Tensor, keep_mask: Tensor, config: SamplingConfig, generator=None,
             callback=None, chunk_length: int = PAPER_CHUNK_LENGTH, overlap: int | None = None,
             precision: str = "auto", progress=None, chunking: str = "sequential",
             batch_size: int | None = None) -> Tensor:
    """Generate (B, K, T) of any length chunk by chunk, each chunk holding what is already finished.

    In every chunk the mask is  m = max(stem_mask_k, h_t):  the kept stems (``keep_mask``;
    all zeros for total generation) and, at every stem, the samples h_t = 1 that earlier chunks
    finished. Imputation along time and across stems are one projection. ``known`` holds the kept
    stems (other values are ignored); ``keep_mask`` is (K,) 0/1. ``chunking`` is
    ``"sequential"`` (outpainting: every chunk continues the previous one) or any of
    :data:`CHUNKINGS` (imputation of long tracks, where the kept stems already tie chunks together).
    Nothing pins the free samples where held ones end (in separation the mixture does), and the
    replacement method follows known samples loosely, so a small step could remain there: the
    first O/4 free samples are crossfaded with the finished chunk's own (``run_chunked(blend=…)``).
    """
    b, k, t = known.shape
    overlap = default_overlap(chunk_length) if overlap is None else overlap
    keep = keep_mask.to(known).view(1, k, 1)

    def fn(part: Tensor, finished: Tensor | None, held: Tensor) -> Tensor:
        mask = torch.maximum(keep, held.to(part))
        given = part if finished is None else torch.where(held.bool(), finished, part)
        return impute(denoiser, given, mask.expand_as(given), config, generator=generator, callback=callback,
                      precision=precision)

    return run_chunked(fn, known, chunk_length, overlap, chunking, batch_size or b, progress, blend=overlap // 4)


# ----------------------------------------------------------------------------------------------
# Imputation (partial generation)
# ----------------------------------------------------------------------------------------------

def imputation_project(known: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> Project:
    """The replacement method: re-insert the known stems, noised to the current σ.

        project(x, σ) = m·(known + σ·ε) + (1 − m)·x,   ε ~ N(0, I) fresh at every call

    At σ = 0 (the end of the grid) this is  m·known + (1 − m)·x.  The known stems are noised
    independently of the trajectory, so the generated stems only see them through the score;
    on correlated Gaussian sources, at the paper's settings, the imputed stems' mean moves only
    ~75–80 % of the way to the exact conditional mean (more churn or resamples shrink this
    bias; docs/tasks_closed_form.md).
    """

    def project(x: Tensor, sigma: float) -> Tensor:
        if sigma == 0:
            noisy = known
        else:
            noisy = known + sigma * torch.randn(known.shape, generator=generator, device=known.device,
                                                dtype=known.dtype)
        return mask * noisy + (1.0 - mask) * x

    return project


def reconstruction_guidance(denoiser: Denoiser, known: Tensor, mask: Tensor, weight: float) -> Derivative:
    """Imputation's derivative with *reconstruction guidance* (Ho et al. 2022, "Video Diffusion Models",
    section 3.1): the joint score plus a Gaussian likelihood of the known samples around the model's own
    estimate of them,

        log p(known | x) ≈ −w · ‖m⊙(known − D(x; σ))‖² / (2σ²)
        dx/dσ = −σ ∇ₓ[log p_σ(x) + log p(known | x)]
              = s + (1 − m) · (w / 2σ) · ∇ₓ ‖m⊙(known − D(x; σ))‖²,        s = (x − D(x; σ)) / σ.

    The replacement method (:func:`imputation_project`, still applied) lets the free stems see the known
    ones only as the network's input at the same σ, where at high σ they are buried in noise. The
    gradient goes back through the network: the free stems move so that the model's estimate of the
    *known* stems comes out right, i.e. towards what fits them. Each evaluation adds one backward pass
    (about twice the compute per step); ``weight`` is w (``ImputationConfig.guidance``).
    """
    weight = float(weight)

    def deriv(x: Tensor, sigma: float) -> Tensor:
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            denoised = denoiser(x_in, sigma)
            error = (mask * (known - denoised)).square().sum()
            (grad,) = torch.autograd.grad(error, x_in)
        return (x - denoised.detach()) / sigma + (1.0 - mask) * (weight / (2.0 * sigma)) * grad

    return deriv


def imputation_mask(keep: Iterable[str] | Tensor, stems: Sequence[str], known: Tensor) -> Tensor:
    """The 0/1 mask m of the known samples, broadcast to ``known`` (B, K, T), from stem names or a
    mask of shape (K,), (B, K, 1) or (B, K, T); at least one sample must be left to impute."""
    mask = stem_mask(keep, stems).to(device=known.device, dtype=known.dtype)
    if mask.ndim == 1:
        if mask.shape[0] != len(stems):
            raise ValueError(f"mask has {mask.shape[0]} entries for {len(stems)} stems")
        mask = mask.view(1, -1, 1)
    try:
        mask = torch.broadcast_to(mask, known.shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit known stems {tuple(known.shape)}") from None
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError("the mask must hold only 0 and 1")
    if bool((mask == 1).all()):
        raise ValueError("every stem is kept; there is nothing to impute")
    return mask


def impute(denoiser: Denoiser, known: Tensor, keep: Iterable[str] | Tensor, config: SamplingConfig | None = None,
           generator: torch.Generator | None = None, callback=None, stems: Sequence[str] | None = None,
           precision: str = "auto") -> Tensor:
    """Source imputation: generate the stems not in ``keep``, consistent with the kept ones.

        dx/dσ = (x − D(x; σ)) / σ   on   x ← m·(known + σε) + (1 − m)·x   (:func:`imputation_project`)
        result = m·known + (1 − m)·x(0)

    with ``config.guidance`` w > 0, the derivative also carries reconstruction guidance
    (:func:`reconstruction_guidance`), which makes the free stems follow the known ones more closely.

    ``known`` is (B, K, T) (the values of the non-kept stems are ignored). ``keep`` is a list of
    stem names (checked against ``stems`` / ``denoiser.stems``), or a 0/1 mask of shape (K,),
    (B, K, 1) or (B, K, T) (a mask over time too: outpainting, :func:`outpaint`). ``config``:
    default ``ImputationConfig.paper()``. Tracks longer than a chunk: :func:`impute_long`.
    """
    stems = resolve_stems(denoiser, stems)
    if not isinstance(known, Tensor):
        raise ValueError(f"known must be a torch.Tensor, got {type(known).__name__}")
    check_stems_shape(known, len(stems), "known stems")
    check_finite(known, "known stems")
    mask = imputation_mask(keep, stems, known)
    config = config or ImputationConfig.paper()
    project = imputation_project(known, mask, generator)
    denoiser = with_precision(denoiser, precision, known.device)
    guided = config.guidance and bool(mask.any())          # nothing known (an outpainted song's first chunk): no pull
    deriv = reconstruction_guidance(denoiser, known, mask, config.guidance) if guided else score_derivative(denoiser)
    return _sample(deriv, known.shape, config, project, generator, callback, known.device, known.dtype)


# ----------------------------------------------------------------------------------------------
# Separation
# ----------------------------------------------------------------------------------------------

def dirac_derivative(denoiser: Denoiser, mixture: Tensor, source_id: int = 0) -> tuple[Derivative, Project]:
    """MSDM Dirac separation: the likelihood p(y | x) = δ(y − Σ_n x_n) removes one stem.

    Constrain stem k:  x_k = y − Σ_{j≠k} x_j  (``project``). The free stems x_{−k} have the
    posterior  p(x_{−k} | y) ∝ p(x_1, …, y − Σ_{j≠k} x_j, …, x_K),  whose score by the chain rule
    (∂x_k/∂x_n = −1) is  ∇_n log p − ∇_k log p,  both evaluated at the constrained point. MSDM
    plugs in the model's score at level σ, ∇log p_σ(x) = (D(x; σ) − x)/σ², so with
    s = (x − D(x; σ))/σ = −σ∇log p_σ the ODE derivative  dx/dσ = −σ ∇ log p  is

        d_n = s_n − s_k   (n ≠ k),      d_k = 0.

    (The constraint would move x_k by −Σ_{n≠k} d_n; setting d_k = 0 is equivalent because the
    projection overwrites x_k before it is ever used.) x_k is re-derived from the others before every evaluation and at the end, so Σ_n x_n = y
    exactly (to float rounding) in the output. This is the authors' ``differential_with_dirac``;
    their Algorithm 1 constrains the last source, their code (Table 1) source 0, our default.
    Plugging the σ-level prior score in at the constrained point only approximates the score of
    the noised posterior. On Gaussian sources, at the paper's settings, the samples' means are off
    by ≤ 0.11 posterior sd and variances are 8–17 % too small (about 8 % of which is the Euler +
    churn discretization, seen in plain generation too); the choice of k matters
    (docs/tasks_closed_form.md).
    """
    k = int(source_id)

    def project(x: Tensor, sigma: float) -> Tensor:
        others = x.sum(1, keepdim=True) - x[:, k:k + 1]
        return torch.cat([x[:, :k], mixture - others, x[:, k + 1:]], dim=1)

    def deriv(x: Tensor, sigma: float) -> Tensor:
        s = (x - denoiser(x, sigma)) / sigma
        return s - s[:, k:k + 1]            # row k becomes s_k − s_k = 0

    return deriv, project


def gaussian_derivative(denoiser: Denoiser, mixture: Tensor, gamma: float = 0.75,
                        likelihood: str = "paper") -> Derivative:
    """MSDM Gaussian separation: likelihood p(y | x) = N(y; Σ_n x_n, γ²I) with γ = gamma·σ.

    Its gradient is the same for every stem,  ∇_{x_n} log p(y | x) = (y − Σ_j x_j) / γ²,  so the
    posterior ODE derivative  dx/dσ = −σ(∇log p_σ(x) + ∇log p(y | x))  is

        d = s − c · σ/γ² · (y − Σ_j x_j),    s = (x − D(x; σ)) / σ,

    with c = 1 for this exact gradient (``likelihood="exact"``) and c = ½ in the authors' code
    (``likelihood="paper"``, the default; it equals the exact gradient with γ enlarged by √2).
    The sign pulls Σx towards y as σ decreases. With γ ∝ σ the likelihood term is stiff
    (∝ 1/σ): at the paper's grid (150 steps × R 2, S_churn 40) Euler is stable with c = ½ but
    diverges with c = 1 (stable from 200 steps, or with S_churn ≤ 20); where both are stable,
    c = 1 is closer to the exact posterior by only ~0.025 sd in mean, variances agree within 1 %
    (docs/tasks_closed_form.md). Heun with churn needs ≳ 75 steps here. Σx = y holds only up
    to ~γ(σ_min).
    """
    if likelihood not in ("paper", "exact"):
        raise ValueError(f"likelihood must be 'paper' or 'exact', got {likelihood!r}")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    c = 0.5 if likelihood == "paper" else 1.0

    def deriv(x: Tensor, sigma: float) -> Tensor:
        s = (x - denoiser(x, sigma)) / sigma
        g = gamma * sigma
        return s - c * sigma / g ** 2 * (mixture - x.sum(1, keepdim=True))

    return deriv


def separate(denoiser: Denoiser, mixture: Tensor, config: SeparationConfig | None = None,
             generator: torch.Generator | None = None, callback=None, stems: Sequence[str] | None = None,
             check_silence: bool = True, known: Tensor | None = None, held: Tensor | None = None,
             precision: str = "auto") -> Tensor:
    """Separate mixtures y of shape (B, 1, T) (or (B, T), (T,)) into stems (B, K, T).

    ``config`` picks the method (:func:`dirac_derivative` or :func:`gaussian_derivative`) and the
    sampler; default ``SeparationConfig.paper_dirac()``. Starts from x = σ_0·n for all K stems.
    For ISDM pass an :class:`ISDMDenoiser`. Long inputs: :func:`separate_long`.

    ``known`` (B, K, T) with ``held`` (B, 1, T) 0/1: the stems are already known where h_t = 1
    (the overlap with a finished neighbouring chunk). After the method's projection, those
    samples are replaced as in imputation,  x ← h·(known + σε) + (1 − h)·x,  so the free samples
    are separated in agreement with them; at σ = 0 they are ``known`` exactly.
    """
    config = config or SeparationConfig.paper_dirac()
    stems = resolve_stems(denoiser, stems)
    y = as_mixture(mixture, check_silence=check_silence)
    shape = (y.shape[0], len(stems), y.shape[-1])
    denoiser = with_precision(denoiser, precision, y.device)
    if config.method == "dirac":
        deriv, project = dirac_derivative(denoiser, y, stem_index(config.source_id, stems))
    else:
        deriv, project = gaussian_derivative(denoiser, y, config.gamma, config.likelihood), None
    if known is not None and held is not None and bool(held.any()):
        check_stems_shape(known, len(stems), "known stems")
        hold = imputation_project(known, torch.broadcast_to(held.to(known), shape), generator)
        project = hold if project is None else _then(project, hold)
    return _sample(deriv, shape, config, project, generator, callback, y.device, y.dtype)


def _then(first: Project, second: Project) -> Project:
    """The projection ``second ∘ first``."""
    return lambda x, sigma: second(first(x, sigma), sigma)


# ----------------------------------------------------------------------------------------------
# Inputs longer than one chunk (placed and stitched by msdm_tutorial.chunking)
# ----------------------------------------------------------------------------------------------

def separate_long(denoiser: Denoiser, mixture: Tensor, config: SeparationConfig | None = None,
                  chunk_length: int = PAPER_CHUNK_LENGTH, batch_size: int = 8,
                  generator: torch.Generator | None = None, progress: Callable[[int, int], None] | None = None,
                  callback=None, stems: Sequence[str] | None = None, chunking: str = "seamless",
                  overlap: int | None = None, precision: str = "auto") -> Tensor:
    """Separate mixtures of any length: (T,), (B, T) or (B, 1, T) → stems (B, K, T).

    ``chunking="independent"`` is the paper: non-overlapping ``chunk_length`` chunks (paper:
    262144 samples; the last one zero-padded), separated independently ``batch_size`` at a time
    and concatenated, so stems can jump at chunk borders. (The authors' evaluation drops the
    incomplete last chunk instead; crop to a multiple of the chunk length first to reproduce it.)

    The default ``"seamless"`` (:data:`SEAMLESS`) overlaps chunks by ``overlap`` samples (default a
    quarter chunk) and separates each chunk holding its overlap with finished chunks as known
    (``separate(known=…, held=…)``: for Dirac the overlap's stems are given), see
    :func:`chunk_passes` for the designs. It costs L / (L − O) times the paper's network calls.
    """
    stems = resolve_stems(denoiser, stems)
    y = as_mixture(mixture, check_silence=True)
    config = config or SeparationConfig.paper_dirac()
    overlap = default_overlap(chunk_length) if overlap is None else overlap

    def fn(part: Tensor, finished: Tensor | None, held: Tensor) -> Tensor:
        return separate(denoiser, part, config, generator=generator, callback=callback, stems=stems,
                        check_silence=False, known=finished, held=held, precision=precision)

    if chunking == "independent":
        return map_chunks(lambda c: fn(c, None, c[:, :0]), y, chunk_length, batch_size, progress)
    return run_chunked(fn, y, chunk_length, overlap, chunking, batch_size, progress)


def impute_long(denoiser: Denoiser, known: Tensor, keep: Iterable[str] | Tensor, config: SamplingConfig | None = None,
                chunk_length: int = PAPER_CHUNK_LENGTH, batch_size: int = 8, generator: torch.Generator | None = None,
                progress=None, callback=None, stems: Sequence[str] | None = None, chunking: str = "seamless",
                overlap: int | None = None, precision: str = "auto") -> Tensor:
    """Impute the stems not in ``keep`` for (B, K, T) ``known`` of any length.

    ``"independent"``: :func:`impute` per chunk (:func:`map_chunks`); only the kept stems tie the
    chunks together. Otherwise each chunk also holds its overlap with finished chunks, all stems
    (:func:`outpaint` with m = max(kept stem, finished sample)); ``"sequential"`` is outpainting.
    """
    stems = resolve_stems(denoiser, stems)
    config = config or ImputationConfig.paper()
    check_stems_shape(known, len(stems), "known stems")
    if chunking == "independent":
        return map_chunks(lambda c: impute(denoiser, c, keep, config=config, generator=generator, callback=callback,
                                           stems=stems, precision=precision), known, chunk_length, batch_size, progress)
    mask = stem_mask(keep, stems)
    if mask.ndim != 1:
        raise ValueError("impute_long takes the kept stems as names or a (K,) mask")
    return outpaint(denoiser, known, mask, config, generator, callback, chunk_length, overlap, precision, progress,
                    chunking=chunking, batch_size=batch_size)


__all__ = [
    # the tasks (this module)
    "generate", "generation_margin", "outpainting_joins", "outpainting_chunks", "outpaint", "imputation_project",
    "reconstruction_guidance", "imputation_mask", "impute",
    "dirac_derivative", "gaussian_derivative", "separate", "separate_long", "impute_long",
    # their settings (configs), inputs (task_inputs), chunks (chunking), precision and ISDM
    "SamplingConfig", "GenerationConfig", "ImputationConfig", "SeparationConfig",
    "SILENT_PEAK", "silent_items", "as_mixture", "resolve_stems", "stem_index", "stem_mask", "check_stems_shape",
    "PAPER_CHUNK_LENGTH", "CHUNKINGS", "SEAMLESS", "DEFAULT_OVERLAP", "split_chunks", "join_chunks", "map_chunks",
    "default_overlap", "chunk_passes", "chunk_joins", "chunk_runs", "run_chunked",
    "PRECISIONS", "cpu_has_native_bf16", "resolve_precision", "with_precision", "ISDMDenoiser", "AutoguidedDenoiser",
]
