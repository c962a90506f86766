"""Sampling configurations: a Karras σ grid, a sampler and its options, and the paper's presets per task.

The σ grid is EDM's (:func:`msdm_tutorial.schedules.karras_sigmas`); the sampler one of the loops of
:mod:`msdm_tutorial.samplers` (Euler with churn and R resamples, or Heun). The presets reproduce
Mariani et al. 2024 and their code: :class:`GenerationConfig`, :class:`ImputationConfig`
(``paper()``) and :class:`SeparationConfig` (``paper_dirac()``, ``paper_gaussian()``,
``paper_isdm_dirac()``, ``paper_isdm_gaussian()``). The tasks that use them: :mod:`msdm_tutorial.tasks`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import Tensor

from .schedules import check_grid, karras_sigmas


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
    s_tmin: float = 0.0          # EDM's S_tmin: steps with σ_i < S_tmin take no churn (0: every step does)
    s_noise: float = 1.0         # EDM's S_noise: the churn's noise is scaled by it (> 1 offsets a denoiser
                                 # that removes a little too much noise)
    guidance: float = 0.0        # reconstruction guidance weight w of the known samples (imputation and
                                 # outpainting; tasks.reconstruction_guidance); 0: the replacement method alone

    def __post_init__(self):
        if self.sampler not in ("euler", "heun"):
            raise ValueError(f"sampler must be 'euler' or 'heun', got {self.sampler!r}")
        check_grid(self.num_steps, self.sigma_min, self.sigma_max, self.rho)
        if self.s_churn < 0:
            raise ValueError(f"s_churn must be >= 0, got {self.s_churn}")
        if self.num_resamples < 1:
            raise ValueError(f"num_resamples must be >= 1, got {self.num_resamples}")
        if not self.s_tmin >= 0:
            raise ValueError(f"s_tmin must be >= 0, got {self.s_tmin}")
        if not self.s_noise > 0:
            raise ValueError(f"s_noise must be > 0, got {self.s_noise}")
        if not 0 <= self.guidance < float("inf"):
            raise ValueError(f"guidance must be a finite number >= 0, got {self.guidance}")
        if self.sampler == "heun" and self.num_resamples != 1:
            raise ValueError("the heun sampler has no correction resamples: set num_resamples=1 "
                             "(or use config.with_heun(num_steps))")

    def sigmas(self, device=None) -> Tensor:
        """The grid σ_0 > … > σ_{N−1} = σ_min, σ_N = 0."""
        return karras_sigmas(self.num_steps, self.sigma_min, self.sigma_max, self.rho, device=device)

    def sampler_kwargs(self) -> dict:
        """Keyword arguments for ``samplers.euler`` / ``samplers.heun``."""
        kwargs = {"s_churn": self.s_churn}
        if self.s_tmin:
            kwargs["s_tmin"] = self.s_tmin
        if self.s_noise != 1.0:
            kwargs["s_noise"] = self.s_noise
        if self.sampler == "euler":
            kwargs["num_resamples"] = self.num_resamples
        return kwargs

    @property
    def nfe(self) -> int:
        """Denoiser evaluations per sample."""
        return self.num_steps * self.num_resamples if self.sampler == "euler" else 2 * self.num_steps - 1

    @classmethod
    def paper(cls):
        """The paper's settings for a task: the defaults of its config class (``GenerationConfig.paper()``,
        ``ImputationConfig.paper()``; separation has one preset per method, ``SeparationConfig.paper_*``)."""
        return cls()

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


@dataclass(frozen=True)
class ImputationConfig(SamplingConfig):
    """Partial generation. ``paper()``: σ_max 20, σ_min 1e-4 (the authors' notebook), ρ 7, 256 steps, S_churn 10.
    ``recommended()``: the course's setting, with reconstruction guidance."""

    num_steps: int = 256
    sigma_max: float = 20.0
    s_churn: float = 10.0

    @classmethod
    def recommended(cls) -> "ImputationConfig":
        """The course's recommended imputation, the default of ``msdm impute`` and the lab: the paper's
        settings with reconstruction guidance w = 2 (``tasks.reconstruction_guidance``), about twice the
        paper's compute (a guided step costs a forward and a backward pass). On Gaussian stems w = 2
        removes most of the replacement method's bias (``tests/test_tasks.py``, notebook 08); on the tiny
        model it lifts the imputed piano's key fit at an unchanged distance to real pianos
        (docs/training_recipe.md, "… reconstruction guidance brings the piano's"). ``.replace(guidance=0.0)`` is
        the paper's."""
        return cls(guidance=2.0)


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
        if self.guidance:
            raise ValueError("guidance is for imputation and outpainting; separation's likelihood is its method")

    @classmethod
    def paper(cls, method: str = "dirac", isdm: bool = False) -> "SeparationConfig":
        """The authors' preset (Table 1) for ``method`` with the joint model, or with ISDM's single-stem
        models (``isdm``): 150 steps × R 2, γ = 0.75σ, constrained source 0, and S_churn 20 for MSDM
        Dirac, 40 for the other three."""
        return cls(method=method, s_churn=20.0 if method == "dirac" and not isdm else 40.0)

    @classmethod
    def paper_dirac(cls) -> "SeparationConfig":
        """MSDM Dirac, Table 1: 150 steps × R 2, S_churn 20, constrained source 0."""
        return cls.paper("dirac")

    @classmethod
    def paper_gaussian(cls) -> "SeparationConfig":
        """MSDM Gaussian, Table 1: 150 steps × R 2, S_churn 40, γ = 0.75σ."""
        return cls.paper("gaussian")

    @classmethod
    def paper_isdm_dirac(cls) -> "SeparationConfig":
        """ISDM Dirac (use with :class:`~msdm_tutorial.isdm.ISDMDenoiser`): as MSDM Dirac but S_churn 40."""
        return cls.paper("dirac", isdm=True)

    @classmethod
    def paper_isdm_gaussian(cls) -> "SeparationConfig":
        """ISDM Gaussian (use with :class:`~msdm_tutorial.isdm.ISDMDenoiser`): S_churn 40, γ = 0.75σ."""
        return cls.paper("gaussian", isdm=True)
