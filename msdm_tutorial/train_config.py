"""What defines a training run: :class:`TrainConfig` and its presets.

A run's configuration is stored in ``RUN_DIR/config.json`` (``to_dict``) and checked on resume
(``msdm_tutorial.runs.prepare_run_dir``); ``msdm train --preset NAME`` starts from ``PRESETS[NAME]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from . import SAMPLE_RATE, STEMS
from .unet import get_config

TRAIN_DATA = ("files", "toy-stream")  # the values of TrainConfig.train_data


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in RUN_DIR/config.json)."""

    model: str = "tiny"                      # U-Net preset (msdm_tutorial.unet.PRESETS)
    stems: tuple[str, ...] = STEMS           # one stem → an ISDM (single-source) model
    sample_rate: int = SAMPLE_RATE
    chunk_length: int = 32768                # samples per training chunk
    batch_size: int = 8                      # global batch (split over processes)
    steps: int = 2000
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 0
    grad_clip: float = 1.0                   # max global grad norm (0 = off)
    ema_decay: float = 0.999
    sigma_data: float = 0.2
    sigma_mean: float = -3.0                 # ln σ ~ N(sigma_mean, sigma_std²)
    sigma_std: float = 1.0
    sigma_high_fraction: float = 0.0         # share of draws log-uniform on sigma_high_range (HighSigmaMixture)
    sigma_high_range: tuple[float, float] = (1.0, 20.0)
    stem_loss_weights: tuple[float, ...] | None = None  # per-stem weight of the loss (None = equal; edm_loss)
    autocast: str = "bf16"                   # "bf16" or "none"
    num_workers: int = 0
    log_every: int = 10
    val_every: int = 250
    val_batches: int = 4
    save_every: int = 250
    keep_checkpoints: int = 3
    sample_steps: int = 0                    # Heun steps for audio samples at validation (0 = none)
    seed: int = 0
    init_from: str | None = None             # fine-tune: start from this checkpoint's weights (and EMA)
    train_data: str = "files"                # "files": DATA/train; "toy-stream": new toy songs on the fly

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        for k in ("stems", "betas", "stem_loss_weights", "sigma_high_range"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


PRESETS: dict[str, TrainConfig] = {
    # A laptop CPU on data_small's toy songs (speed: docs/benchmarks.md, "Training speed").
    "tiny": TrainConfig(warmup_steps=100),
    # The paper's run (Slakh2100, one model for 4 stems): 262144-sample chunks, batch 8, Adam 1e-4.
    "paper": TrainConfig(model="paper", chunk_length=262144, batch_size=8, steps=1_000_000, lr=1e-4,
                         warmup_steps=0, grad_clip=0.0, ema_decay=0.9999, num_workers=8, log_every=50,
                         val_every=5000, val_batches=16, save_every=5000, sample_steps=50),
    # A middle ground for one GPU and a few hours.
    "small": TrainConfig(model="small", chunk_length=131072, batch_size=16, steps=200_000, lr=2e-4,
                         ema_decay=0.9995, num_workers=8, log_every=50, val_every=2000, save_every=2000,
                         sample_steps=50),
}
# ISDM ("weakly supervised"): one single-stem model per stem; pick the stem with --stems.
PRESETS["tiny-isdm"] = replace(PRESETS["tiny"], model="tiny-isdm", stems=("bass",))
PRESETS["paper-isdm"] = replace(PRESETS["paper"], model="paper-isdm", stems=("bass",))
# `tiny` with wider finest levels (unet.PRESETS["tiny-wide"]); trains from scratch (other shapes).
PRESETS["tiny-wide"] = replace(PRESETS["tiny"], model="tiny-wide")
# `tiny-wide` with wider attention levels (unet.PRESETS["tiny-wide-ctx"]); trains from scratch.
PRESETS["tiny-wide-ctx"] = replace(PRESETS["tiny"], model="tiny-wide-ctx")
# `tiny-wide` at half its widths (unet.PRESETS["tiny-wide-half"]): an autoguidance guide; from scratch.
PRESETS["tiny-wide-half"] = replace(PRESETS["tiny"], model="tiny-wide-half")
# ISDM at the widths of `tiny-wide` (halved, one stem): pick the stem with --stems.
PRESETS["tiny-wide-isdm"] = replace(PRESETS["tiny"], model="tiny-wide-isdm", stems=("bass",))
# `tiny` with local GroupNorm statistics (unet.PRESETS["tiny-localnorm"]); `tiny` weights fine-tune into it.
PRESETS["tiny-localnorm"] = replace(PRESETS["tiny"], model="tiny-localnorm")


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def unet_config_for(cfg: TrainConfig):
    """The U-Net configuration of a run: the preset with in_channels = number of stems."""
    return get_config(cfg.model).replace(in_channels=len(cfg.stems))


__all__ = ["TrainConfig", "PRESETS", "TRAIN_DATA", "get_preset", "unet_config_for"]
