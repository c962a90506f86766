"""A trained denoiser from a checkpoint, and what a run needs to know about it.

* :func:`load_model` — one MSDM checkpoint (ours or the paper's ``.ckpt``) with its stems checked;
  :func:`load_isdm` — K single-stem checkpoints as one ISDM model (``bass=b.pt,drums=d.pt,…``).
* :func:`with_guide` — the model guided by a weaker version of itself (autoguidance), by default the
  ``NAME-guide.pt`` shipped beside ``NAME.pt`` (:func:`companion_guide`) at the setting that file records;
  :func:`denoisers_of` — the single denoisers inside an ISDM or autoguided model.
* :func:`model_stems`, :func:`model_rate` — its stems (in order) and its sample rate.
* :func:`length_multiple` — the U-Net's valid-length multiple: its total downsampling 2^levels
  (the lcm over ISDM's models); :func:`chunk_length` — samples per chunk, ``CHUNK_MULTIPLE`` × that
  multiple by default (32 × 8192 = 262144, the paper's chunks); :func:`generation_length`.
* :func:`read_model_input` — an audio file (path, file object or bytes) as the model hears it:
  mono at the model's rate, with notes on what was changed.
* :func:`pick_device`, :func:`seeded_generator`, :func:`synchronize`, :func:`compile_model` — the
  device, the random stream of ``--seed``, and timing/compilation helpers.

Errors are ``ValueError`` with one line naming the file (or the option) and the problem.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from . import SAMPLE_RATE, STEMS
from .autoguidance import AutoguidedDenoiser
from .checkpoints import load
from .chunking import PAPER_CHUNK_LENGTH
from .data.audio import read_audio
from .isdm import ISDMDenoiser
from .task_inputs import parse_stems  # noqa: F401  (re-exported: the one stem-list parser lives in task_inputs)

#: Default chunk length in units of the U-Net's total downsampling: 32 × 8192 = 262144 samples
#: (the paper's chunks) for the paper's models, 32 × 1024 = 32768 for the tiny preset.
CHUNK_MULTIPLE = 32


def pick_device(name: str | None = None, option: str = "--device") -> torch.device:
    """``name`` as a torch device; None or ``"auto"``: ``cuda`` when a GPU is visible, else ``cpu``."""
    if not name or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"{option} {name}: not a device name (cpu, cuda, cuda:1, …)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option} {name}: CUDA is not available on this machine")
    return device


def load_checkpoint_file(path, device="cpu"):
    """:func:`msdm_tutorial.checkpoints.load`, with one-line errors for a missing file or a folder."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{path}: no such checkpoint file")
    if p.is_dir():
        raise ValueError(f"{path}: is a folder, not a checkpoint file")
    return load(p, device=device)


def load_model(path, device="cpu", stems: tuple[str, ...] | None = None):
    """A checkpoint's denoiser on ``device``; ``stems`` insists on the model's stems (in order).

    A checkpoint that does not name its stems gets ``STEMS`` when it has 4 channels, else ``stems``."""
    denoiser = load_checkpoint_file(path, device)
    own = tuple(denoiser.stems) if denoiser.stems is not None else None
    if own is None:
        channels = denoiser.net.config.in_channels
        if channels == len(STEMS):
            own = tuple(STEMS)
        elif stems is not None and len(stems) == channels:
            own = stems
        else:
            raise ValueError(f"{path}: the checkpoint does not name its {channels} stem(s); "
                             f"convert it with 'msdm convert-checkpoint --stems …'")
        denoiser.stems = own
    if stems is not None and own != stems:
        raise ValueError(f"{path}: the checkpoint's stems are {', '.join(own)}, not the requested {', '.join(stems)}")
    return denoiser


def parse_isdm(spec: str) -> list[tuple[str, str]]:
    """``bass=C1,drums=C2`` → [("bass", "C1"), ("drums", "C2")]."""
    pairs = []
    for item in spec.split(","):
        if not item.strip():
            continue
        stem, sep, path = item.partition("=")
        if not sep or not stem.strip() or not path.strip():
            raise ValueError(f"--isdm: expected STEM=CHECKPOINT[,STEM=CHECKPOINT…], got {item.strip()!r}")
        pairs.append((stem.strip(), path.strip()))
    if not pairs:
        raise ValueError("--isdm: name at least one STEM=CHECKPOINT")
    names = [s for s, _ in pairs]
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise ValueError(f"--isdm: stem {dup[0]!r} is given more than one checkpoint")
    return pairs


def load_isdm(spec, device="cpu", stems: tuple[str, ...] | None = None):
    """K single-stem checkpoints as one :class:`~msdm_tutorial.tasks.ISDMDenoiser`.

    ``spec``: ``"bass=b.pt,drums=d.pt"`` or a mapping {stem: path}. Each checkpoint must hold exactly
    the stem it is assigned to (or be unnamed with one channel)."""
    pairs = parse_isdm(spec) if isinstance(spec, str) else parse_isdm(",".join(f"{s}={p}" for s, p in spec.items()))
    if stems is not None and tuple(s for s, _ in pairs) != stems:
        raise ValueError(f"--isdm names the stems {', '.join(s for s, _ in pairs)}, "
                         f"not the requested {', '.join(stems)}")
    models = {}
    for stem, path in pairs:
        d = load_checkpoint_file(path, device)
        own = tuple(d.stems) if d.stems is not None else None
        if own is None and d.net.config.in_channels == 1:
            d.stems = own = (stem,)
        if own != (stem,):
            what = ", ".join(own) if own else f"{d.net.config.in_channels} unnamed stems"
            raise ValueError(f"{path}: --isdm assigns it to {stem!r}, but it is a checkpoint of {what} "
                             f"(ISDM needs one single-stem model per stem)")
        models[stem] = d
    try:
        return ISDMDenoiser(models).to(device)
    except ValueError as err:
        raise ValueError(f"--isdm: {err}") from None


#: A guide ``NAME-guide.pt`` ships beside ``NAME.pt``; its ``extra`` records the setting chosen for that
#: model: {"autoguidance": {"weight": w, "sigma_max": S or None, "main": "NAME.pt"}}.
GUIDE_SUFFIX = "-guide"


def companion_guide(checkpoint) -> Path | None:
    """``NAME-guide.pt`` beside the checkpoint ``NAME.pt``, when that file exists: its autoguidance guide."""
    p = Path(checkpoint)
    guide = p.with_name(p.stem + GUIDE_SUFFIX + p.suffix)
    return guide if guide.is_file() else None


def recorded_guidance(guide) -> dict:
    """The autoguidance setting a guide checkpoint records, ``{"weight": w, "sigma_max": S}`` (either may be
    absent): from its loaded denoiser, or from its path (which reads the file)."""
    if isinstance(guide, (str, Path)):
        guide = load(guide)
    return dict(getattr(guide, "autoguidance", None) or {})


def guide_path(checkpoint, guide: str | None = "auto") -> Path | None:
    """The guide checkpoint ``guide`` names for ``checkpoint`` (see :func:`with_guide`), or None for none."""
    if guide in (None, "none"):
        return None
    return companion_guide(checkpoint) if guide == "auto" else Path(guide)


def with_guide(model, checkpoint, guide: str | None = "auto", weight: float | None = None,
               sigma_max: float | None = None, device="cpu"):
    """``model`` (loaded from ``checkpoint``) guided by a weaker version of itself, or ``model`` unchanged.

    ``guide``: ``"auto"`` — the companion ``NAME-guide.pt`` (:func:`companion_guide`) when there is one;
    ``"none"`` or None — no guidance; else a guide checkpoint's path. ``weight`` (w ≥ 1) and ``sigma_max``
    (guide only where σ ≤ it) of :class:`~msdm_tutorial.autoguidance.AutoguidedDenoiser`; each defaults to
    what the guide file records (the setting chosen for the model it ships with): w 1 (no guidance) and
    every σ when it records none.
    """
    path = guide_path(checkpoint, guide)
    if path is None:
        return model
    guide_model = load_model(path, device, model_stems(model))
    recorded = recorded_guidance(guide_model)
    weight = recorded.get("weight", 1.0) if weight is None else weight
    sigma_max = recorded.get("sigma_max") if sigma_max is None else sigma_max
    if model_rate(guide_model) != model_rate(model):
        raise ValueError(f"{path}: the guide runs at {model_rate(guide_model)} Hz, the model at {model_rate(model)} Hz")
    if length_multiple(model) % length_multiple(guide_model):
        raise ValueError(f"{path}: the guide takes lengths in multiples of {length_multiple(guide_model)} samples, "
                         f"the model's ({length_multiple(model)}) are not all of them")
    return AutoguidedDenoiser(model, guide_model, weight, sigma_max)


def model_stems(denoiser) -> tuple[str, ...]:
    """The model's stems in channel order (``STEMS`` when it does not name them)."""
    return tuple(denoiser.stems) if getattr(denoiser, "stems", None) is not None else tuple(STEMS)


def model_rate(denoiser) -> int:
    """The model's sample rate in Hz (22050 when it does not say)."""
    return int(getattr(denoiser, "sample_rate", None) or SAMPLE_RATE)


def length_multiple(denoiser) -> int:
    """The U-Net's valid-length multiple (its total downsampling; the lcm over ISDM's models)."""
    if isinstance(denoiser, ISDMDenoiser):
        return math.lcm(*(length_multiple(d) for d in denoiser._list()))
    return int(getattr(getattr(denoiser, "net", None), "downsampling", 1) or 1)


def chunk_length(denoiser, seconds: float | None = None, option: str = "--chunk-seconds") -> int:
    """Samples per chunk: ``seconds`` rounded up to a valid length, else ``CHUNK_MULTIPLE`` × the downsampling."""
    m = length_multiple(denoiser)
    if seconds is None:
        return CHUNK_MULTIPLE * m if m > 1 else PAPER_CHUNK_LENGTH
    if not seconds > 0:
        raise ValueError(f"{option} {seconds}: must be > 0")
    n = max(1, round(seconds * model_rate(denoiser)))
    return math.ceil(n / m) * m


def generation_length(samples: int, multiple: int, chunk: int) -> int:
    """Samples to generate for a request of ``samples``: one chunk is rounded up to the U-Net's valid
    length, ⌈samples / multiple⌉ · multiple (and cropped after); a longer request is outpainted chunk
    by chunk at its own length."""
    return math.ceil(samples / multiple) * multiple if samples <= chunk else samples


def read_model_input(source, sample_rate: int, name=None) -> tuple[Tensor, list[str]]:
    """An audio file (path, file object or bytes) as a model hears it: a mono (T,) float32 tensor at
    ``sample_rate``, and notes on what was changed (channels downmixed, resampled to the model's rate)."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        raise ValueError(f"{source}: is a folder, not an audio file")
    read = read_audio(source, sample_rate=sample_rate, mono=True, name=name)
    notes = list(read.notes)
    if read.source_rate != sample_rate:
        notes.append(f"{read.name}: resampled from {read.source_rate} Hz to the model's {sample_rate} Hz")
    audio = read.audio[0]
    if audio.numel() == 0:
        raise ValueError(f"{read.name}: the audio file is empty (0 samples)")
    return audio.float(), notes


def seeded_generator(device, seed: int) -> torch.Generator:
    """The random stream of ``--seed``: a generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(int(seed))


def synchronize(device) -> None:
    """Wait for the GPU's queued work (so that a timer measures it); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def denoisers_of(model) -> list:
    """The single denoisers a model runs: ISDM's K models, an autoguided model's main and guide, else itself."""
    if isinstance(model, ISDMDenoiser):
        return [d for m in model._list() for d in denoisers_of(m)]
    if isinstance(model, AutoguidedDenoiser):
        return denoisers_of(model.main) + denoisers_of(model.guide)
    return [model]


def compile_model(model):
    """``--compile``: wrap the network(s) of ``model`` in ``torch.compile`` (each new shape compiles once)."""
    for d in denoisers_of(model):
        if isinstance(getattr(d, "net", None), torch.nn.Module):
            d.net = torch.compile(d.net)
    return model


__all__ = ["CHUNK_MULTIPLE", "pick_device", "parse_stems", "load_checkpoint_file", "load_model", "parse_isdm",
           "load_isdm", "AutoguidedDenoiser", "GUIDE_SUFFIX", "companion_guide", "guide_path", "recorded_guidance",
           "with_guide", "model_stems", "model_rate", "length_multiple", "chunk_length", "generation_length",
           "read_model_input", "seeded_generator", "synchronize", "compile_model", "denoisers_of"]
