"""Sampling settings of the tasks: the paper's presets with the command line's overrides.

Every inference run — ``msdm generate / impute / separate / evaluate``, the sampling lab, the
notebooks — starts from a preset of :mod:`msdm_tutorial.tasks` and applies the same six overrides:

* ``steps`` N: the σ grid's number of steps (Euler: N steps × R resamples = N·R network calls); without
  ``churn``, S_churn scales with N so that the churn per step stays the preset's;
* ``sampler="heun"``: EDM's second-order sampler on the same grid, 2N − 1 network calls;
* ``churn``: S_churn, the stochasticity γ_i = min(S_churn / N, √2 − 1) of each step;
* ``resamples``: Euler's correction loop R (each step taken R times, re-noised in between);
* ``sigma_max``: the top of the σ grid, where sampling starts;
* ``sigma_min``: the bottom of the σ grid, the last noise level before the final step to σ = 0.

:func:`recommended_separation` is the course's recommended separation setting
(:data:`msdm_tutorial.options.RECOMMENDED_SEPARATION`) as a config.
"""

from __future__ import annotations

from dataclasses import asdict

from .configs import SeparationConfig
from .options import recommended_sampling


def with_overrides(base, steps: int | None = None, sampler: str | None = None, churn: float | None = None,
                   resamples: int | None = None, sigma_max: float | None = None, sigma_min: float | None = None,
                   guidance: float | None = None):
    """The preset ``base`` with the overrides (None keeps the preset's): ``steps`` N, ``sampler``
    ("euler"/"heun"; Heun has no resamples), ``churn`` S_churn, ``resamples`` Euler's R, ``sigma_max``
    the top of the σ grid, ``sigma_min`` its bottom, ``guidance`` the reconstruction guidance weight of
    imputation and outpainting. New ``steps``
    without ``churn`` keep the churn per step, γ = S_churn / N (``SamplingConfig.with_steps``). The config
    class checks the values (``SamplingConfig.__post_init__``) and raises ValueError for bad ones."""
    cfg = base.with_heun() if sampler == "heun" else base
    if steps is not None and churn is None:
        cfg = cfg.with_steps(steps)              # keeps the preset's churn per step: S_churn scales with N
    changes = {name: value for name, value in (("num_steps", steps), ("sampler", sampler), ("s_churn", churn),
                                               ("num_resamples", resamples), ("sigma_max", sigma_max),
                                               ("sigma_min", sigma_min), ("guidance", guidance))
               if value is not None}
    return cfg.replace(**changes) if changes else cfg


def separation_preset(method: str, isdm: bool):
    """Table 1's preset of a likelihood (``"dirac"``/``"gaussian"``) for MSDM or ISDM models."""
    if method not in ("dirac", "gaussian"):
        raise ValueError(f"--method {method}: choose dirac or gaussian")
    return SeparationConfig.paper(method, isdm=bool(isdm))


def separation_settings(method: str, isdm: bool, steps=None, sampler=None, churn=None, resamples=None,
                        sigma_max=None, sigma_min=None):
    """The separation config of ``msdm separate --method M [--isdm …] --steps --sampler --churn --resamples
    --sigma-max --sigma-min``."""
    return with_overrides(separation_preset(method, isdm), steps, sampler, churn, resamples, sigma_max, sigma_min)


def recommended_separation(isdm: bool = False, method: str = "dirac", **overrides):
    """The course's recommended separation config of a likelihood (``options.recommended_sampling``), with
    ``overrides`` (``steps``, ``sampler``, ``churn``, ``resamples``, ``sigma_max``, ``sigma_min``; None keeps the
    recommended value) — what ``msdm separate --method M`` runs.

    Dirac (``options.RECOMMENDED_SEPARATION``): the paper's Euler sampler on 12 steps × R 2 = 24 NFE, S_churn 0.4
    (for ISDM too), σ ∈ [3e-3, 1] — the paper's Table 1 preset with 12 steps instead of 150, S_churn 0.4 instead of
    20 (40 for ISDM) and σ_min 3e-3 instead of 1e-4. Gaussian (``options.RECOMMENDED_GAUSSIAN``): Euler 48 steps ×
    R 1, the paper's churn per step (12.8), σ ∈ [3e-3, 1]. A given ``steps`` does not rescale the recommended
    S_churn (it is a recommended value, not the preset's churn per step)."""
    r = recommended_sampling(method)
    settings = {"steps": r["steps"], "sampler": r["sampler"], "churn": r["churn"], "resamples": r.get("resamples"),
                "sigma_max": r["sigma_max"], "sigma_min": r["sigma_min"]}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return separation_settings(method, isdm, **settings)


def with_constrained_stem(cfg, stem: str | None, stems: tuple[str, ...]):
    """``cfg`` with the Dirac method's constrained stem (x_stem = y − Σ others) set to ``stem``, if given."""
    if stem is None:
        return cfg
    if cfg.method != "dirac":
        raise ValueError(f"--constrain {stem}: only the dirac method constrains a stem")
    if stem not in stems:
        raise ValueError(f"--constrain {stem}: unknown stem; the model's stems are {', '.join(stems)}")
    return cfg.replace(source_id=stems.index(stem))


def config_record(cfg) -> dict:
    """A config as JSON results record it: its fields plus ``nfe``, the network calls per chunk."""
    record = asdict(cfg)
    record["nfe"] = cfg.nfe
    return record


def settings_text(cfg) -> str:
    """One line naming a sampling config: ``euler 150 steps × R 2, S_churn 20, σ_max 1, σ_min 0.0001 (300 NFE)``."""
    r = f" × R {cfg.num_resamples}" if cfg.sampler == "euler" and cfg.num_resamples > 1 else ""
    guided = f", guidance {cfg.guidance:g}" if cfg.guidance else ""
    return (f"{cfg.sampler} {cfg.num_steps} steps{r}, S_churn {cfg.s_churn:g}, σ_max {cfg.sigma_max:g}, "
            f"σ_min {cfg.sigma_min:g}{guided} ({cfg.nfe} NFE)")


__all__ = ["with_overrides", "separation_preset", "separation_settings", "recommended_separation",
           "with_constrained_stem", "config_record", "settings_text"]
