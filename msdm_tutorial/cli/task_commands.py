"""What ``msdm generate / impute / separate / evaluate`` share: their parsers (built from
:mod:`msdm_tutorial.options`), the model of ``--checkpoint``/``--isdm``, input audio with notes, and
the settings their JSON results record.

The four commands run one task of :mod:`msdm_tutorial.tasks` at the paper's settings (the presets
of :mod:`msdm_tutorial.presets`; ``--steps``, ``--sampler``, ``--churn`` and ``--resamples`` override
them, :func:`sampling_overrides`) and write
per-stem WAV files plus ``mix.wav`` (:mod:`msdm_tutorial.outputs`, all or nothing).

* Inputs are WAV/FLAC files of any length and sample rate: they are resampled to the model's rate,
  stereo is downmixed to mono (with a note on stderr), and long inputs are cut into chunks of the
  model's length (``--chunk-seconds``; default 32 × the U-Net's downsampling), ``--batch`` at a time.
* Long inputs are *seamless* by default (``--chunking seamless``): neighbouring chunks overlap by
  ``--overlap`` (a quarter chunk) and a chunk holds its overlap with finished chunks as known
  (:func:`msdm_tutorial.tasks.chunk_passes`); ``--chunking independent`` is the paper's.
* ``msdm generate`` is *autoguided* by the checkpoint's companion ``NAME-guide.pt`` when it has one, and
  ``msdm impute`` with ``--guide auto`` (``--guide``, ``--guide-weight``, ``--guide-sigma-max``;
  :func:`msdm_tutorial.models.with_guide`, ``options.DEFAULT_GUIDE``).
* ``--precision bf16|fp32`` (default bf16 where it is native), ``--compile`` (``torch.compile``).
* ``--seed`` makes a run reproducible (same seed, device, batch and settings → the same files).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import models
from ..autoguidance import describe
from ..task_inputs import parse_stems
from ..chunking import DEFAULT_OVERLAP, SEAMLESS
from ..precision import resolve_precision
from ..presets import config_record
from .common import CommandError, note
from .parsing import add_command_options


def add_task_parsers(sub, commands: dict) -> None:
    """``msdm COMMAND`` for each ``{COMMAND: (run_fn, {"help", "description", "epilog"})}``, with the
    options of ``options.COMMAND_OPTIONS[COMMAND]``."""
    for command, (func, texts) in commands.items():
        p = sub.add_parser(command, formatter_class=argparse.RawDescriptionHelpFormatter, **texts)
        add_command_options(p, command)
        p.set_defaults(func=func)


def sampling_overrides(args) -> dict:
    """``--steps --sampler --churn --resamples --sigma-max --sigma-min`` as keyword arguments of
    ``presets.with_overrides``."""
    return {"steps": args.steps, "sampler": args.sampler, "churn": args.churn, "resamples": args.resamples,
            "sigma_max": args.sigma_max, "sigma_min": args.sigma_min}


def check_result_file(path, option: str = "--json") -> None:
    """A results file must go into an existing folder and must not be a folder (checked up front,
    so that a long run does not end in an error after its audio was written)."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise CommandError(f"{option} {path}: is a folder")
    if not p.absolute().parent.is_dir():
        raise CommandError(f"{option} {path}: the folder {p.absolute().parent} does not exist")


def crop_seconds(x, seconds: float | None, sample_rate: int, option: str = "--seconds"):
    """The first ``seconds`` of ``x`` (along its last axis); all of it when None."""
    if seconds is None:
        return x
    if not seconds > 0:
        raise CommandError(f"{option} {seconds}: must be > 0")
    return x[..., :max(1, round(seconds * sample_rate))]


def read_input_audio(path, sample_rate: int, command: str):
    """:func:`msdm_tutorial.models.read_model_input` of a file, its notes printed on stderr."""
    audio, notes = models.read_model_input(path, sample_rate)
    for message in notes:
        note(command, message)
    return audio


def precision_of(args, device) -> str:
    """The precision a run uses: ``--precision``, else bf16 where it is native (CUDA, bf16 CPUs)."""
    return resolve_precision(getattr(args, "precision", None) or "auto", device)


def overlap_of(args, chunk: int) -> int:
    """``--overlap`` (a fraction of the chunk) in samples."""
    fraction = DEFAULT_OVERLAP if getattr(args, "overlap", None) is None else args.overlap
    return int(round(fraction * chunk))


def chunking_record(args, chunk: int) -> dict:
    """What JSON results record about chunking: the option, the design it runs, the overlap in samples."""
    chunking = getattr(args, "chunking", "sequential")
    return {"chunking": chunking, "design": SEAMLESS if chunking == "seamless" else chunking,
            "overlap": overlap_of(args, chunk)}


def model_label(args) -> dict:
    """How JSON results name the model: ``{"checkpoint": path}`` or ``{"isdm": {stem: path}}``."""
    if getattr(args, "isdm", None):
        return {"isdm": dict(models.parse_isdm(args.isdm))}
    return {"checkpoint": str(args.checkpoint)}


def load_separation_model(args, device, stems=None):
    """The denoiser of ``--checkpoint`` or ``--isdm`` (exactly one of them), of at least two stems."""
    isdm = getattr(args, "isdm", None)
    if bool(isdm) == bool(args.checkpoint):
        raise CommandError("give either --checkpoint (an MSDM model) or --isdm STEM=CHECKPOINT,… (single-stem models)")
    model = models.load_isdm(isdm, device, stems) if isdm else models.load_model(args.checkpoint, device, stems)
    if len(models.model_stems(model)) < 2:
        what = f"--isdm {isdm}" if isdm else str(args.checkpoint)
        raise CommandError(f"{what}: a model of the single stem {models.model_stems(model)[0]!r} has nothing to "
                           f"separate (combine one single-stem checkpoint per stem with --isdm)")
    return model


def load_guided_model(args, device):
    """``--checkpoint``'s model (``--stems`` checked), autoguided as ``--guide`` / ``--guide-weight`` say, and
    how results record the guidance: ``{"guide": path, "weight": w, "sigma_max": S}``, or None for the model alone."""
    model = models.load_model(args.checkpoint, device, parse_stems(args.stems))
    guided = models.with_guide(model, args.checkpoint, args.guide, args.guide_weight, args.guide_sigma_max, device)
    if guided is model:
        return model, None
    return guided, {"guide": str(models.guide_path(args.checkpoint, args.guide)), "weight": guided.weight,
                    "sigma_max": guided.sigma_max}


def guide_text(record: dict | None) -> str:
    """``; autoguided by NAME at w W where σ ≤ S`` for the summary line, or nothing."""
    return f"; {describe(record['weight'], record['sigma_max'], Path(record['guide']).name)}" if record else ""


def run_record(args, device, cfg, chunk: int, precision: str) -> dict:
    """The fields every task's JSON results share (after the command's own)."""
    return {"chunk_length": chunk, **chunking_record(args, chunk), "precision": precision,
            "compile": args.compile, "batch": args.batch, "seed": args.seed, "device": str(device),
            "config": config_record(cfg)}
