"""``msdm train``: train an MSDM (or, with one stem, an ISDM) model with :func:`msdm_tutorial.train.train`.

Multi-GPU: ``torchrun --nproc-per-node N -m msdm_tutorial.cli.train --preset paper --data DIR --out RUN``
(every process parses the same arguments; rank 0 prints and writes ``--json``).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace
from pathlib import Path

from .. import STEMS
from ..denoiser import valid_stem_weights
from ..models import parse_stems
from ..train import train
from ..train_config import PRESETS, TRAIN_DATA, TrainConfig, get_preset
from .common import write_json
from .parsing import COUNT, NON_NEGATIVE, SEED, real

#: Options copied onto the preset when given (attribute names of TrainConfig and of the parsed args).
OVERRIDES = ("steps", "batch_size", "lr", "chunk_length", "num_workers", "seed", "save_every", "val_every",
             "warmup_steps", "sample_steps", "log_every", "sigma_mean", "sigma_std", "ema_decay", "init_from",
             "train_data", "sample_rate", "sigma_data", "sigma_high_fraction")


def comma_floats(text: str) -> tuple[float, ...]:
    """``"1,1,1,4"`` → (1.0, 1.0, 1.0, 4.0); ``()`` when a part is not a number (the caller names the option)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        return ()


def config_from_args(args) -> TrainConfig:
    """The preset ``--preset`` with every option that was given."""
    cfg = get_preset(args.preset)
    changes = {}
    if args.stems:
        stems = parse_stems(args.stems) if args.stems.strip(", ") else ()
        unknown = [s for s in stems if s not in STEMS]
        if unknown or not stems:
            raise ValueError(f"--stems: unknown stem(s) {unknown or [args.stems]}; choose from {', '.join(STEMS)}")
        changes["stems"] = stems
    for name in OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if args.sigma_high_range:
        bounds = comma_floats(args.sigma_high_range)
        if len(bounds) != 2 or not 0 < bounds[0] < bounds[1] < math.inf:
            raise ValueError(f"--sigma-high-range {args.sigma_high_range}: need LOW,HIGH with 0 < LOW < HIGH")
        changes["sigma_high_range"] = bounds
    if args.stem_loss_weights:
        stems = changes.get("stems", cfg.stems)
        weights = comma_floats(args.stem_loss_weights)
        if not valid_stem_weights(weights, len(stems)):
            raise ValueError(f"--stem-loss-weights {args.stem_loss_weights}: need {len(stems)} positive numbers, "
                             f"one per stem of {','.join(stems)}")
        changes["stem_loss_weights"] = weights
    if args.no_autocast:
        changes["autocast"] = "none"
    return replace(cfg, **changes)


def run_train(args) -> int:
    """Check the data folder, train, and (on rank 0) print and write the run summary."""
    data = Path(args.data)
    if not data.is_dir():
        raise ValueError(f"{data}: data folder not found")
    cfg = config_from_args(args)
    if cfg.train_data == "files" and not (data / "train").is_dir():
        raise ValueError(f"{data}: no train/ split (expected the MSDM layout train/TrackNNNNN/{{stem}}.wav)")
    summary = train(cfg, data, args.out, resume=args.resume, device=args.device)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"step {summary['step']}  loss {summary['loss']:.4f}  {summary['steps_per_s']:.2f} steps/s  "
              f"checkpoint {summary['checkpoint']}")
        write_json(args.json, summary)
    return 0


def add_arguments(p) -> None:
    """The options of ``msdm train``."""
    p.add_argument("--preset", required=True, help=f"training preset: {', '.join(sorted(PRESETS))}")
    p.add_argument("--data", required=True, help="data root in MSDM layout (train/, validation/)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    p.add_argument("--steps", type=COUNT, help="total optimisation steps")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--stems", help="comma-separated stems; one stem trains an ISDM model (e.g. --stems bass)")
    p.add_argument("--batch-size", dest="batch_size", type=COUNT)
    p.add_argument("--lr", type=real(0, low_open=True))
    p.add_argument("--chunk-length", dest="chunk_length", type=COUNT)
    p.add_argument("--sample-rate", dest="sample_rate", type=COUNT,
                   help="audio rate of the model in Hz (default: the preset's, 22050); --train-data toy-stream "
                        "synthesises at this rate")
    p.add_argument("--num-workers", dest="num_workers", type=NON_NEGATIVE)
    p.add_argument("--warmup-steps", dest="warmup_steps", type=NON_NEGATIVE)
    p.add_argument("--save-every", dest="save_every", type=COUNT)
    p.add_argument("--val-every", dest="val_every", type=NON_NEGATIVE, help="validate every N steps (0 = never)")
    p.add_argument("--log-every", dest="log_every", type=COUNT)
    p.add_argument("--sample-steps", dest="sample_steps", type=NON_NEGATIVE, help="Heun steps of audio samples (0 = none)")
    p.add_argument("--seed", type=SEED)
    p.add_argument("--sigma-mean", dest="sigma_mean", type=real(), help="training σ: ln σ ~ N(mean, std²) (paper: -3)")
    p.add_argument("--sigma-std", dest="sigma_std", type=real(0, low_open=True), help="training σ: ln σ ~ N(mean, std²) (paper: 1)")
    p.add_argument("--sigma-high-fraction", dest="sigma_high_fraction", type=real(0, 1),
                   help="share of training σ drawn log-uniform on --sigma-high-range (default 0: none)")
    p.add_argument("--sigma-high-range", dest="sigma_high_range", metavar="LOW,HIGH",
                   help="σ range of those draws (default 1,20: where total generation starts)")
    p.add_argument("--stem-loss-weights", dest="stem_loss_weights", metavar="W,W,…",
                   help="per-stem weight of the loss, one per stem (e.g. 1,1,1,4; normalised to mean 1; default equal)")
    p.add_argument("--sigma-data", dest="sigma_data", type=real(0, low_open=True),
                   help="σ_data of the EDM preconditioning (paper: 0.2; the toy stems' joint RMS is about 0.09)")
    p.add_argument("--ema-decay", dest="ema_decay", type=real(0, 1), help="EMA decay of the weights")
    p.add_argument("--init-from", dest="init_from", metavar="CKPT",
                   help="fine-tune: start from this checkpoint's (EMA) weights with a fresh optimizer")
    p.add_argument("--train-data", dest="train_data", choices=TRAIN_DATA,
                   help="files: chunks of DATA/train (default); toy-stream: a new toy song for every chunk, "
                        "synthesised on the fly with seeds disjoint from DATA's songs (DATA still gives validation)")
    p.add_argument("--no-autocast", action="store_true", help="train in fp32 (default: bf16 autocast)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--json", metavar="FILE", help="write the run summary as JSON")


def register(sub) -> None:
    """``msdm train``."""
    p = sub.add_parser("train", help="train an MSDM (or ISDM) model",
                       description="Train the waveform U-Net with EDM preconditioning. "
                                   "Multi-GPU: torchrun --nproc-per-node N -m msdm_tutorial.cli.train ...")
    add_arguments(p)
    p.set_defaults(func=run_train)


if __name__ == "__main__":  # torchrun -m msdm_tutorial.cli.train --preset paper ...
    from . import main

    sys.exit(main(["train", *sys.argv[1:]]))
