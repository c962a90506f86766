"""The three MSDM inference tasks, each a derivative function around the shared sampler loops.

One model learns the joint score of K stems, ``D(x, σ) ≈ E[x0 | x]`` with x of shape (B, K, T).
Every task integrates the probability-flow ODE of some density down a σ grid; only the
*derivative* ``deriv(x, σ) = dx/dσ`` and an optional *projection* ``project(x, σ)`` change
(see :mod:`msdm_tutorial.samplers`). With the joint score written  s = (x − D(x, σ)) / σ  (= −σ∇log p_σ):

=====================  ===========================================  ===============================
task                   derivative  dx/dσ                            projection (before each use)
=====================  ===========================================  ===============================
generation             s                                            —
imputation             s                                            x ← m·(known + σε) + (1−m)·x
separation, Dirac      d_n = s_n − s_k,  d_k = 0                    x_k ← y − Σ_{j≠k} x_j
separation, Gaussian   s − c·σ/γ² · (y − Σ_j x_j),  γ = 0.75σ       —
outpainting            s                                            x ← h·(known + σε) + (1−h)·x
=====================  ===========================================  ===============================

(c = ½ in the paper's code, c = 1 for the exact Gaussian-likelihood gradient; see
:func:`gaussian_derivative`. h: 1 on the samples of a chunk that neighbouring chunks already
finished, every stem; seamless chunked separation adds this projection after the method's own.)
ISDM separation is Dirac or Gaussian separation with the joint denoiser replaced by K independent
single-stem denoisers (:class:`ISDMDenoiser`).

Paper settings (Mariani et al. 2024 and their code) are the presets of :class:`GenerationConfig`,
:class:`ImputationConfig` and :class:`SeparationConfig`. Long recordings are cut into chunks and
processed in batches (:func:`separate_long`, :func:`impute_long`, :func:`generate` with a
``chunk_length``). The paper's chunks are independent, so stems jump where chunks meet; here the
default is *seamless*: a chunk that overlaps finished audio holds that overlap as known, exactly as
imputation holds known stems (:func:`chunk_passes`, :func:`run_chunked`). Generation of any length
is the same idea run forwards: *outpainting*, each chunk continuing the previous one.

Every task takes ``precision``: ``"bf16"`` runs the network under bfloat16 autocast (the sampler's
state stays float32), ``"fp32"`` in float32, ``"auto"`` picks bf16 on CUDA and on CPUs with
native bf16 instructions (:func:`resolve_precision`) for denoisers with learned weights, and
leaves closed-form denoisers in fp32 (:func:`with_precision`).

``docs/tasks_closed_form.md`` reports how close each task gets to the exact answer on Gaussian
sources, where everything is known in closed form.
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from . import STEMS
from ._checks import check_finite
from .samplers import SAMPLERS, STEPPERS, Step, initial_noise, score_derivative
from .schedules import karras_sigmas

Denoiser = Callable[[Tensor, float], Tensor]
Derivative = Callable[[Tensor, float], Tensor]
Project = Callable[[Tensor, float], Tensor]

#: A mixture whose peak |y| is below this (−120 dBFS) is treated as silent: nothing to separate.
SILENT_PEAK = 1e-6
#: The paper separates non-overlapping chunks of this many samples (≈ 11.9 s at 22050 Hz).
PAPER_CHUNK_LENGTH = 262144
#: How long inputs are cut: ``seamless`` (the default, see :data:`SEAMLESS`), ``independent`` (the
#: paper), and the designs compared in benchmarks/long_form.py.
CHUNKINGS = ("seamless", "independent", "crossfade", "sequential", "bridge")
#: The design ``"seamless"`` stands for (the winner of benchmarks/long_form.py).
SEAMLESS = "bridge"
#: Default overlap of neighbouring chunks, as a fraction of the chunk length.
DEFAULT_OVERLAP = 0.25
PRECISIONS = ("auto", "bf16", "fp32")


# ----------------------------------------------------------------------------------------------
# Configurations (paper presets)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SamplingConfig:
    """A Karras σ grid plus a sampler and its options.

    ``num_resamples`` (R) is the paper's "correction" loop of the Euler sampler: each step is
    taken R times, re-noising from σ_{i+1} back to σ_i in between. The Heun sampler has no such
    loop (R must be 1). NFE: Euler N·R, Heun 2N − 1.
    """

    num_steps: int = 150
    sigma_min: float = 1e-4
    sigma_max: float = 1.0
    rho: float = 7.0
    sampler: str = "euler"
    s_churn: float = 0.0
    num_resamples: int = 1

    def __post_init__(self):
        if self.sampler not in ("euler", "heun"):
            raise ValueError(f"sampler must be 'euler' or 'heun', got {self.sampler!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if self.s_churn < 0:
            raise ValueError(f"s_churn must be >= 0, got {self.s_churn}")
        if self.num_resamples < 1:
            raise ValueError(f"num_resamples must be >= 1, got {self.num_resamples}")
        if self.sampler == "heun" and self.num_resamples != 1:
            raise ValueError("the heun sampler has no correction resamples: set num_resamples=1 "
                             "(or use config.with_heun(num_steps))")
        karras_sigmas(1, self.sigma_min, self.sigma_max, self.rho)   # validates the grid parameters

    def sigmas(self, device=None) -> Tensor:
        """The grid σ_0 > … > σ_{N−1} = σ_min, σ_N = 0."""
        return karras_sigmas(self.num_steps, self.sigma_min, self.sigma_max, self.rho, device=device)

    def sampler_kwargs(self) -> dict:
        """Keyword arguments for ``samplers.euler`` / ``samplers.heun``."""
        kwargs = {"s_churn": self.s_churn}
        if self.sampler == "euler":
            kwargs["num_resamples"] = self.num_resamples
        return kwargs

    @property
    def nfe(self) -> int:
        """Denoiser evaluations per sample."""
        return self.num_steps * self.num_resamples if self.sampler == "euler" else 2 * self.num_steps - 1

    def replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    def with_steps(self, num_steps: int):
        """The same task with ``num_steps`` steps and the same churn *per step*: γ = S_churn / N is kept,
        so S_churn scales with N (the paper's 150 steps with S_churn 20 → 24 steps with S_churn 3.2)."""
        return replace(self, num_steps=num_steps, s_churn=self.s_churn * num_steps / self.num_steps)

    def with_heun(self, num_steps: int | None = None):
        """The same task with EDM's Heun sampler (R = 1), optionally with a different step count."""
        return replace(self, sampler="heun", num_resamples=1, num_steps=num_steps or self.num_steps)


@dataclass(frozen=True)
class GenerationConfig(SamplingConfig):
    """Total generation. ``paper()``: the authors' generation notebook (σ_max 20, 150 steps, S_churn 20)."""

    num_steps: int = 150
    sigma_max: float = 20.0
    s_churn: float = 20.0

    @classmethod
    def paper(cls) -> "GenerationConfig":
        return cls(num_steps=150, sigma_min=1e-4, sigma_max=20.0, rho=7.0, s_churn=20.0, num_resamples=1)


@dataclass(frozen=True)
class ImputationConfig(SamplingConfig):
    """Partial generation. ``paper()``: σ_max 20, σ_min 1e-4 (the authors' notebook), ρ 7, 256 steps, S_churn 10."""

    num_steps: int = 256
    sigma_max: float = 20.0
    s_churn: float = 10.0

    @classmethod
    def paper(cls) -> "ImputationConfig":
        return cls(num_steps=256, sigma_min=1e-4, sigma_max=20.0, rho=7.0, s_churn=10.0, num_resamples=1)


@dataclass(frozen=True)
class SeparationConfig(SamplingConfig):
    """Separation settings; ``method`` is ``"dirac"`` or ``"gaussian"``.

    ``source_id``: the constrained stem of the Dirac method (index or stem name).
    ``gamma``: the Gaussian likelihood width as a multiple of σ (γ = gamma·σ).
    ``likelihood``: ``"paper"`` uses σ/(2γ²) as the authors' code does, ``"exact"`` uses σ/γ².

    Presets follow the authors' evaluation configs (``exp/eval_*.yaml``): Karras σ ∈ [1e-4, 1],
    ρ 7, 150 steps, R = 2 (300 NFE); S_churn 20 for MSDM Dirac, 40 for MSDM Gaussian and for
    both ISDM variants.
    """

    num_steps: int = 150
    sigma_max: float = 1.0
    s_churn: float = 20.0
    num_resamples: int = 2
    method: str = "dirac"
    source_id: int | str = 0
    gamma: float = 0.75
    likelihood: str = "paper"

    def __post_init__(self):
        super().__post_init__()
        if self.method not in ("dirac", "gaussian"):
            raise ValueError(f"method must be 'dirac' or 'gaussian', got {self.method!r}")
        if not self.gamma > 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma}")
        if self.likelihood not in ("paper", "exact"):
            raise ValueError(f"likelihood must be 'paper' or 'exact', got {self.likelihood!r}")

    @classmethod
    def paper_dirac(cls) -> "SeparationConfig":
        """MSDM Dirac, Table 1: 150 steps × R 2, S_churn 20, constrained source 0."""
        return cls(method="dirac", s_churn=20.0, source_id=0)

    @classmethod
    def paper_gaussian(cls) -> "SeparationConfig":
        """MSDM Gaussian, Table 1: 150 steps × R 2, S_churn 40, γ = 0.75σ."""
        return cls(method="gaussian", s_churn=40.0, gamma=0.75)

    @classmethod
    def paper_isdm_dirac(cls) -> "SeparationConfig":
        """ISDM Dirac (use with :class:`ISDMDenoiser`): as MSDM Dirac but S_churn 40."""
        return cls(method="dirac", s_churn=40.0, source_id=0)

    @classmethod
    def paper_isdm_gaussian(cls) -> "SeparationConfig":
        """ISDM Gaussian (use with :class:`ISDMDenoiser`): S_churn 40, γ = 0.75σ."""
        return cls(method="gaussian", s_churn=40.0, gamma=0.75)


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------

def resolve_stems(denoiser, stems: Sequence[str] | None = None) -> tuple[str, ...]:
    """The stem names a task works with: ``stems`` if given, else ``denoiser.stems``, else STEMS.

    Raises ValueError when both are given and differ (e.g. a checkpoint trained on other stems).
    """
    own = getattr(denoiser, "stems", None)
    if stems is not None:
        stems = tuple(stems)
        if own is not None and tuple(own) != stems:
            raise ValueError(f"the model's stems {tuple(own)} differ from the requested stems {stems}")
        return stems
    return tuple(own) if own is not None else tuple(STEMS)


def stem_index(stem: int | str, stems: Sequence[str]) -> int:
    """Index of a stem given by name or by index, with a clear error for unknown names."""
    if isinstance(stem, str):
        if stem not in stems:
            raise ValueError(f"unknown stem {stem!r}; the stems are {', '.join(stems)}")
        return list(stems).index(stem)
    if not 0 <= int(stem) < len(stems):
        raise ValueError(f"stem index {stem} out of range for {len(stems)} stems")
    return int(stem)


def stem_mask(keep: Iterable[str] | Tensor, stems: Sequence[str]) -> Tensor:
    """The (K,) 0/1 mask of the kept stems; ``keep`` is stem names or already a mask."""
    if isinstance(keep, Tensor):
        return keep.float()
    if isinstance(keep, str):
        keep = [s.strip() for s in keep.split(",") if s.strip()]
    keep = list(keep)
    unknown = [s for s in keep if s not in stems]
    if unknown:
        raise ValueError(f"unknown stem(s) {', '.join(map(repr, unknown))} in keep; "
                         f"the stems are {', '.join(stems)}")
    return torch.tensor([1.0 if s in keep else 0.0 for s in stems])


def as_mixture(mixture: Tensor, check_silence: bool = True) -> Tensor:
    """Bring a mixture to shape (B, 1, T) — accepts (T,), (B, T) or (B, 1, T) — and check it.

    Raises ValueError for NaN/Inf samples and (``check_silence``) for an item whose peak is
    below ``SILENT_PEAK``: a silent mixture has no sources to find.
    """
    if not isinstance(mixture, Tensor):
        raise ValueError(f"mixture must be a torch.Tensor, got {type(mixture).__name__}")
    if mixture.ndim == 1:
        mixture = mixture[None, None]
    elif mixture.ndim == 2:
        mixture = mixture[:, None]
    if mixture.ndim != 3 or mixture.shape[1] != 1:
        raise ValueError(f"mixture must have shape (T,), (B, T) or (B, 1, T), got {tuple(mixture.shape)}")
    if mixture.shape[-1] < 1:
        raise ValueError("mixture is empty (0 samples)")
    check_finite(mixture, "mixture")
    if check_silence:
        peak = mixture.abs().flatten(1).amax(1)
        silent = (peak < SILENT_PEAK).nonzero().flatten().tolist()
        if silent:
            which = "the mixture is" if mixture.shape[0] == 1 else f"mixture item(s) {silent} are"
            raise ValueError(f"{which} silent (peak below {SILENT_PEAK:g}); there is nothing to separate")
    return mixture


def _check_stems_shape(x: Tensor, num_stems: int, what: str) -> None:
    if x.ndim != 3 or x.shape[1] != num_stems:
        raise ValueError(f"{what} must have shape (B, {num_stems}, T) for {num_stems} stems, got {tuple(x.shape)}")


# ----------------------------------------------------------------------------------------------
# Precision
# ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (x86 AVX512-BF16 or AMX-BF16; Arm BF16).

    Read from the kernel's CPU flags (``/proc/cpuinfo``, Linux); elsewhere, False. Without these
    instructions oneDNN emulates bf16, which is slower than float32.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = {w for line in f if line.lower().startswith(("flags", "features")) for w in line.split()}
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve_precision(precision: str = "auto", device=None) -> str:
    """``"bf16"`` or ``"fp32"``: ``"auto"`` is bf16 on CUDA (when the GPU supports it) and on CPUs
    with native bf16 (:func:`cpu_has_native_bf16`), fp32 elsewhere (e.g. Apple MPS)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if kind == "cpu" and cpu_has_native_bf16() else "fp32"


def _has_weights(denoiser) -> bool:
    return isinstance(denoiser, nn.Module) and any(True for _ in denoiser.parameters())


def with_precision(denoiser: Denoiser, precision: str = "auto", device=None) -> Denoiser:
    """``D`` run under bfloat16 autocast (``precision`` bf16, or auto where native), else ``D`` itself.

    Only the network's matrix products and convolutions run in bf16; D's output is cast back to
    the dtype of x, so the sampler integrates in float32. ``"auto"`` leaves denoisers without
    learned weights (closed-form ones, plain functions) in fp32: they would only lose accuracy.
    """
    if precision == "auto" and not _has_weights(denoiser):
        return denoiser
    if resolve_precision(precision, device) == "fp32":
        return denoiser

    def bf16_denoiser(x: Tensor, sigma) -> Tensor:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            return denoiser(x, sigma).to(x.dtype)

    return bf16_denoiser


# ----------------------------------------------------------------------------------------------
# Running a task on the shared loops
# ----------------------------------------------------------------------------------------------

def _sampling_args(sigmas, sampler, sampler_kwargs, config, device):
    if config is not None:
        if sigmas is not None or sampler is not None or sampler_kwargs:
            raise ValueError("pass either config or sigmas/sampler options, not both")
        return config.sigmas(device), config.sampler, config.sampler_kwargs()
    if sigmas is None:
        raise ValueError("pass a sigma grid (schedules.karras_sigmas) or a config")
    sampler = sampler or "euler"
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    allowed = set(inspect.signature(STEPPERS[sampler]).parameters) - {"deriv", "x", "sigmas", "project",
                                                                      "generator"}
    bad = sorted(set(sampler_kwargs) - allowed)
    if bad:
        raise ValueError(f"the {sampler} sampler has no option(s) {', '.join(bad)}; it takes {', '.join(sorted(allowed))}")
    return torch.as_tensor(sigmas), sampler, dict(sampler_kwargs)


def sample(deriv: Derivative, x: Tensor, sigmas: Tensor, sampler: str = "euler", project: Project | None = None,
           generator: torch.Generator | None = None, callback: Callable[[Step], None] | None = None,
           **sampler_kwargs) -> Tensor:
    """Run one of the shared loops (``samplers.STEPPERS[sampler]``) to the end.

    ``callback(step)`` sees every :class:`~msdm_tutorial.samplers.Step` (trajectories, progress bars).
    """
    if sampler not in STEPPERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(STEPPERS)}")
    last = None
    steps = STEPPERS[sampler](deriv, x, sigmas, generator=generator, project=project, **sampler_kwargs)
    with torch.no_grad():
        for last in steps:
            if callback is not None:
                callback(last)
    if last is None:
        raise ValueError("the sampler made no step")
    return last.x


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------

def generate(denoiser: Denoiser, shape: Sequence[int], sigmas: Tensor | None = None, sampler: str | None = None,
             generator: torch.Generator | None = None, callback=None, config: SamplingConfig | None = None,
             device=None, precision: str = "auto", chunk_length: int | None = None, overlap: int | None = None,
             progress: Callable[[int, int], None] | None = None, **sampler_kwargs) -> Tensor:
    """Total generation: sample all K stems jointly from the prior.

        x(σ_0) = σ_0·n,   dx/dσ = (x − D(x; σ)) / σ,   mix = Σ_k x_k  (``stems.sum(1)``)

    ``shape`` is (B, K, T). Pass either ``sigmas`` (+ ``sampler``, default ``"euler"``, and its
    options, e.g. ``s_churn``) or ``config`` (e.g. ``GenerationConfig.paper()``). Returns the
    stems (B, K, T); ``generator`` must live on ``device``.

    Songs longer than ``chunk_length`` are *outpainted*: the first chunk is generated, then each
    next chunk starts ``overlap`` samples (default a quarter chunk) before the end of the song so
    far and generates the rest with those samples held as known, all stems, by the imputation
    projection  x ← m·(known + σε) + (1 − m)·x  with m = 1 on the overlap (:func:`outpaint`).
    ``progress(done, total)`` counts chunks.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be (batch, stems, samples), got {shape}")
    stems = getattr(denoiser, "stems", None)
    if stems is not None and len(stems) != shape[1]:
        raise ValueError(f"the model has {len(stems)} stems {tuple(stems)} but shape asks for {shape[1]}")
    sigmas, sampler, kwargs = _sampling_args(sigmas, sampler, sampler_kwargs, config, device)
    if chunk_length is not None and shape[-1] > chunk_length:
        known = torch.zeros(shape, device=device)
        return outpaint(denoiser, known, torch.zeros(shape[1]), sigmas, sampler, kwargs, generator,
                        callback, chunk_length, overlap, precision, progress)
    denoiser = with_precision(denoiser, precision, device)
    x = initial_noise(shape, sigmas, generator=generator, device=device)
    return sample(score_derivative(denoiser), x, sigmas, sampler, generator=generator, callback=callback, **kwargs)


def outpaint(denoiser: Denoiser, known: Tensor, keep_mask: Tensor, sigmas: Tensor, sampler: str, sampler_kwargs: dict,
             generator=None, callback=None, chunk_length: int = PAPER_CHUNK_LENGTH, overlap: int | None = None,
             precision: str = "auto", progress=None, chunking: str = "sequential", batch_size: int | None = None) -> Tensor:
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
        return impute(denoiser, given, mask.expand_as(given), sigmas, sampler, generator=generator, callback=callback,
                      precision=precision, **sampler_kwargs)

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


def impute(denoiser: Denoiser, known: Tensor, keep: Iterable[str] | Tensor, sigmas: Tensor | None = None,
           sampler: str | None = None, generator: torch.Generator | None = None, callback=None,
           config: SamplingConfig | None = None, stems: Sequence[str] | None = None, precision: str = "auto",
           **sampler_kwargs) -> Tensor:
    """Source imputation: generate the stems not in ``keep``, consistent with the kept ones.

        dx/dσ = (x − D(x; σ)) / σ   on   x ← m·(known + σε) + (1 − m)·x   (:func:`imputation_project`)
        result = m·known + (1 − m)·x(0)

    ``known`` is (B, K, T) (the values of the non-kept stems are ignored). ``keep`` is a list of
    stem names (checked against ``stems`` / ``denoiser.stems``), or a 0/1 mask of shape (K,),
    (B, K, 1) or (B, K, T) (a mask over time too: outpainting, :func:`outpaint`). Paper settings:
    ``config=ImputationConfig.paper()``. Tracks longer than a chunk: :func:`impute_long`.
    """
    stems = resolve_stems(denoiser, stems)
    if not isinstance(known, Tensor):
        raise ValueError(f"known must be a torch.Tensor, got {type(known).__name__}")
    _check_stems_shape(known, len(stems), "known stems")
    check_finite(known, "known stems")
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
    sigmas, sampler, kwargs = _sampling_args(sigmas, sampler, sampler_kwargs, config, known.device)
    project = imputation_project(known, mask, generator)
    denoiser = with_precision(denoiser, precision, known.device)
    x = initial_noise(known.shape, sigmas, generator=generator, device=known.device).to(known.dtype)
    return sample(score_derivative(denoiser), x, sigmas, sampler, project=project, generator=generator,
                  callback=callback, **kwargs)


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
        _check_stems_shape(known, len(stems), "known stems")
        hold = imputation_project(known, torch.broadcast_to(held.to(known), shape), generator)
        project = hold if project is None else _then(project, hold)
    sigmas = config.sigmas(y.device)
    x = initial_noise(shape, sigmas, generator=generator, device=y.device).to(y.dtype)
    return sample(deriv, x, sigmas, config.sampler, project=project, generator=generator, callback=callback,
                  **config.sampler_kwargs())


def _then(first: Project, second: Project) -> Project:
    """The projection ``second ∘ first``."""
    return lambda x, sigma: second(first(x, sigma), sigma)


class ISDMDenoiser(nn.Module):
    """K single-stem denoisers ``D_k(x_k, σ)`` on (B, 1, T) as one K-channel denoiser.

        D(x, σ) = [D_1(x_1, σ), …, D_K(x_K, σ)]

    This is the score of the product prior Π_k p_k(x_k) (independent stems), so the separation
    derivatives above apply unchanged ("ISDM" in the paper). ``denoisers`` is a sequence, or a
    mapping stem name → denoiser (which also sets ``stems``).
    """

    def __init__(self, denoisers: Sequence[Denoiser] | Mapping[str, Denoiser], stems: Sequence[str] | None = None):
        super().__init__()
        if isinstance(denoisers, Mapping):
            if stems is not None and tuple(stems) != tuple(denoisers):
                raise ValueError(f"stems {tuple(stems)} differ from the mapping's keys {tuple(denoisers)}")
            stems, denoisers = tuple(denoisers), list(denoisers.values())
        denoisers = list(denoisers)
        if not denoisers:
            raise ValueError("ISDM needs at least one single-stem denoiser")
        if stems is None:
            own = [getattr(d, "stems", None) for d in denoisers]
            if all(o is not None and len(o) == 1 for o in own):
                stems = tuple(o[0] for o in own)
        if stems is not None and len(stems) != len(denoisers):
            raise ValueError(f"{len(stems)} stem names for {len(denoisers)} denoisers")
        self.stems = tuple(stems) if stems is not None else None
        rates = {getattr(d, "sample_rate", None) for d in denoisers} - {None}
        if len(rates) > 1:
            raise ValueError(f"the single-stem models have different sample rates {sorted(rates)}")
        self.sample_rate = rates.pop() if rates else None
        if all(isinstance(d, nn.Module) for d in denoisers):
            self.denoisers = nn.ModuleList(denoisers)
        else:
            self._plain = denoisers
            self.denoisers = None

    def _list(self):
        return list(self.denoisers) if self.denoisers is not None else self._plain

    def forward(self, x: Tensor, sigma) -> Tensor:
        ds = self._list()
        _check_stems_shape(x, len(ds), "ISDM input")
        return torch.cat([d(x[:, k:k + 1], sigma) for k, d in enumerate(ds)], dim=1)


# ----------------------------------------------------------------------------------------------
# Long inputs
# ----------------------------------------------------------------------------------------------

def split_chunks(signal: Tensor, chunk_length: int) -> Tensor:
    """(B, C, T) → (B·n, C, chunk_length), n = ⌈T / chunk_length⌉, the tail padded with zeros.

    Chunks are ordered item by item: chunk j of item b is row b·n + j.
    """
    if chunk_length < 1:
        raise ValueError(f"chunk_length must be >= 1, got {chunk_length}")
    b, c, t = signal.shape
    n = max(1, math.ceil(t / chunk_length))
    padded = torch.nn.functional.pad(signal, (0, n * chunk_length - t))
    return padded.view(b, c, n, chunk_length).permute(0, 2, 1, 3).reshape(b * n, c, chunk_length)


def join_chunks(chunks: Tensor, batch: int, length: int) -> Tensor:
    """Inverse of :func:`split_chunks`: (B·n, C, L) → (B, C, length), cropping the padding."""
    bn, c, chunk_length = chunks.shape
    if bn % batch:
        raise ValueError(f"{bn} chunks do not split into {batch} items")
    n = bn // batch
    if not (n - 1) * chunk_length < length <= n * chunk_length:
        raise ValueError(f"{n} chunks of {chunk_length} samples cannot hold {length} samples")
    x = chunks.reshape(batch, n, c, chunk_length).permute(0, 2, 1, 3).reshape(batch, c, n * chunk_length)
    return x[..., :length]


def map_chunks(fn: Callable[[Tensor], Tensor], signal: Tensor, chunk_length: int, batch_size: int = 8,
               progress: Callable[[int, int], None] | None = None) -> Tensor:
    """Apply ``fn`` ((n, C, L) → (n, C', L)) to a (B, C, T) signal of any length, chunk by chunk.

    The signal is cut into chunks of ``chunk_length`` (tail zero-padded), ``fn`` runs on batches of
    at most ``batch_size`` chunks, and the outputs are stitched back and cropped to T.
    ``progress(done, total)`` is called after each batch. With a random ``fn`` the result depends
    on ``batch_size`` (the generator is consumed batch by batch).
    """
    if signal.ndim != 3:
        raise ValueError(f"signal must have shape (B, C, T), got {tuple(signal.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks = split_chunks(signal, chunk_length)
    outs = []
    for start in range(0, chunks.shape[0], batch_size):
        out = fn(chunks[start:start + batch_size])
        if out.ndim != 3 or out.shape[0] != min(batch_size, chunks.shape[0] - start) or out.shape[-1] != chunk_length:
            raise ValueError(f"fn returned shape {tuple(out.shape)} for chunks of shape "
                             f"{tuple(chunks[start:start + batch_size].shape)}")
        outs.append(out)
        if progress is not None:
            progress(min(start + batch_size, chunks.shape[0]), chunks.shape[0])
    return join_chunks(torch.cat(outs), signal.shape[0], signal.shape[-1])


def default_overlap(chunk_length: int) -> int:
    """Samples shared by neighbouring chunks: :data:`DEFAULT_OVERLAP` of a chunk (8192 of 32768)."""
    return int(round(DEFAULT_OVERLAP * chunk_length))


def chunk_passes(length: int, chunk_length: int, overlap: int = 0, chunking: str = "seamless") -> list[list[int]]:
    """Start samples of chunks of L = ``chunk_length`` covering [0, length), in passes.

    Chunks of one pass never overlap each other, so a pass runs as batches; a later pass holds
    what earlier ones finished (O = ``overlap``, h = L − O):

    - ``independent``: one pass, starts 0, L, 2L, …  (the paper; O is ignored);
    - ``crossfade``: one pass, starts every h; each overlap is a sin²/cos² crossfade;
    - ``sequential``: one chunk per pass, starts every h; each holds its first O samples
      (outpainting: every chunk continues the previous one);
    - ``bridge``: two passes. A chunks at 0, P, 2P, … (P = 2L − 2O) first, then B chunks at
      P·i + L − O that fill the gap of L − 2O between A_i and A_{i+1}, holding O samples of each.

    Every design but ``independent`` costs L / (L − O) chunks per L samples; ``seamless`` is
    :data:`SEAMLESS`. The last chunk may reach past ``length`` (zero-padded). A finished chunk's
    outer O/2 samples are never held: the network saw zeros beyond them, so they are its worst;
    the next chunk holds the inner half of the overlap and writes over the outer half
    (:func:`run_chunked`).
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    if chunking not in CHUNKINGS:
        raise ValueError(f"chunking must be one of {', '.join(CHUNKINGS)}, got {chunking!r}")
    if chunk_length < 1 or length < 1:
        raise ValueError(f"chunk_length and length must be >= 1, got {chunk_length} and {length}")
    limit = chunk_length / 2 if chunking == "bridge" else chunk_length
    if chunking != "independent" and not 0 <= overlap < limit:
        raise ValueError(f"overlap {overlap} must be >= 0 and < {limit:g} samples for {chunking} chunks "
                         f"of {chunk_length}")
    if chunking == "independent":
        return [list(range(0, length, chunk_length))]
    if chunking == "bridge":
        period = 2 * (chunk_length - overlap)
        a = list(range(0, length, period))
        b = [s + chunk_length - overlap for s in a if s + chunk_length < length]
        return [a, b] if b else [a]
    starts = [0]
    while starts[-1] + chunk_length < length:
        starts.append(starts[-1] + chunk_length - overlap)
    return [starts] if chunking == "crossfade" else [[s] for s in starts]


def chunk_joins(length: int, chunk_length: int, overlap: int = 0, chunking: str = "seamless") -> list[int]:
    """Where the result passes from one chunk's samples to another's, inside (0, length).

    independent: every L; sequential and bridge: the middle of each overlap (where held samples
    end, :func:`run_chunked`); crossfade: both ends and the middle of each overlap.
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    passes = chunk_passes(length, chunk_length, overlap, chunking)
    starts = sorted(s for p in passes for s in p)
    if chunking == "independent":
        joins = starts[1:]
    elif chunking == "crossfade":
        joins = [s + d for s in starts[1:] for d in (0, overlap // 2, overlap)]
    else:
        joins = [s + overlap // 2 for s in starts[1:]]
    return [j for j in joins if 0 < j < length]


def chunk_runs(length: int, chunk_length: int, overlap: int, chunking: str, items: int, batch_size: int) -> int:
    """How many sampler runs (batches) :func:`run_chunked` makes: progress bars count ``runs × steps``."""
    return sum(math.ceil(len(p) * items / batch_size) for p in chunk_passes(length, chunk_length, overlap, chunking))


def _fade(start: int, starts: set[int], chunk_length: int, overlap: int, like: Tensor) -> Tensor:
    """The crossfade weight of the chunk at ``start``: sin² up over its first O samples when a chunk
    ends there, cos² down over its last O when the next one begins there (the two sum to 1)."""
    w = torch.ones(chunk_length, dtype=like.dtype, device=like.device)
    if overlap:
        ramp = torch.sin(0.5 * math.pi * (torch.arange(overlap, device=like.device) + 0.5) / overlap) ** 2
        if start > 0:
            w[:overlap] = ramp.to(w)
        if start + chunk_length - overlap in starts:
            w[-overlap:] = 1 - ramp.to(w)
    return w


def _blend_weight(held: Tensor, blend: int) -> Tensor:
    """(L,) weight of a chunk's own result: 1, except a sin² ramp over the ``blend`` free samples next to
    each held stretch (0 at the held edge), where the finished neighbour's outer samples fade out."""
    w = torch.ones(held.shape[-1], dtype=torch.float32, device=held.device)
    if blend < 1:
        return w
    ramp = torch.sin(0.5 * math.pi * (torch.arange(blend, device=held.device) + 0.5) / blend) ** 2
    h = held.bool().tolist()
    for t in range(1, len(h)):
        if h[t - 1] and not h[t]:                      # held → free: fade the new chunk in
            n = min(blend, len(h) - t)
            w[t:t + n] = torch.minimum(w[t:t + n], ramp[:n])
        elif not h[t - 1] and h[t]:                    # free → held: fade it out
            n = min(blend, t)
            w[t - n:t] = torch.minimum(w[t - n:t], ramp[:n].flip(0))
    return w


def run_chunked(fn: Callable[[Tensor, Tensor | None, Tensor], Tensor], signal: Tensor, chunk_length: int,
                overlap: int = 0, chunking: str = "seamless", batch_size: int = 8,
                progress: Callable[[int, int], None] | None = None, blend: int = 0) -> Tensor:
    """Run ``fn(part, finished, held) -> (n, K, L)`` on the chunks of :func:`chunk_passes` and stitch.

    ``signal`` (B, C, T) is cut with the chunks (``part``, zero-padded past T). ``finished``
    (n, K, L) is what earlier passes produced there (None in the first pass) and ``held`` (n, 1, L)
    is 1 where they finished it: all of a chunk but its outer O/2 samples on a side where another
    chunk follows. ``fn`` must return ``finished`` exactly where ``held`` (imputation's projection
    at σ = 0 does), and its result is written over the whole chunk, except that over ``blend``
    samples next to a held stretch it is crossfaded with the finished neighbour's outer samples
    (:func:`_blend_weight`; outpainting uses O/4 to smooth the small step the replacement method
    leaves where held samples end). Chunks of a pass go ``batch_size`` at a time; ``progress(done, total)``
    counts chunks after each batch. Returns (B, K, T).
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    b, _, length = signal.shape
    passes = chunk_passes(length, chunk_length, overlap, chunking)
    end = max(s for p in passes for s in p) + chunk_length
    signal = torch.nn.functional.pad(signal, (0, end - length))
    done = torch.zeros(end, dtype=torch.bool, device=signal.device)
    out, total, count = None, b * sum(len(p) for p in passes), 0
    for starts in passes:
        jobs = [(i, s) for i in range(b) for s in starts]
        for first in range(0, len(jobs), batch_size):
            group = jobs[first:first + batch_size]
            part = torch.stack([signal[i, :, s:s + chunk_length] for i, s in group])
            held = torch.stack([done[s:s + chunk_length] for _, s in group])[:, None].to(part.dtype)
            finished = None if out is None else torch.stack([out[i, :, s:s + chunk_length] for i, s in group])
            res = fn(part, finished, held)
            if res.ndim != 3 or res.shape[0] != len(group) or res.shape[-1] != chunk_length:
                raise ValueError(f"fn returned shape {tuple(res.shape)} for chunks of shape {tuple(part.shape)}")
            if out is None:
                out = res.new_zeros(b, res.shape[1], end)
            for (i, s), r, h in zip(group, res, held):
                if chunking == "crossfade":
                    out[i, :, s:s + chunk_length] += _fade(s, set(starts), chunk_length, overlap, r) * r
                elif blend and bool(h.any()):
                    w = _blend_weight(h[0], blend).to(r)
                    old = out[i, :, s:s + chunk_length]
                    out[i, :, s:s + chunk_length] = old + w * (r - old)     # exact where r = old (kept stems)
                else:
                    out[i, :, s:s + chunk_length] = r
            count += len(group)
            if progress is not None:
                progress(count, total)
        for s in starts:    # done, less the outer half-overlap that a neighbouring chunk redoes
            first = s + (overlap // 2 if s > 0 else 0)
            last = s + chunk_length - (overlap // 2 if s + chunk_length < end else 0)
            done[first:last] = True
    return out[..., :length]


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
    _check_stems_shape(known, len(stems), "known stems")
    if chunking == "independent":
        return map_chunks(lambda c: impute(denoiser, c, keep, config=config, generator=generator, callback=callback,
                                           stems=stems, precision=precision), known, chunk_length, batch_size, progress)
    mask = stem_mask(keep, stems)
    if mask.ndim != 1:
        raise ValueError("impute_long takes the kept stems as names or a (K,) mask")
    sigmas, sampler, kwargs = _sampling_args(None, None, {}, config, known.device)
    return outpaint(denoiser, known, mask, sigmas, sampler, kwargs, generator, callback, chunk_length, overlap,
                    precision, progress, chunking=chunking, batch_size=batch_size)
