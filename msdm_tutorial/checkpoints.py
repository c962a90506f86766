"""Checkpoints: our own format (the paper's Lightning ``.ckpt`` files are read too).

**Our format** is one ``torch.save`` file of plain data (loads with ``torch.load(weights_only=True)``)::

    {"format": "msdm-tutorial/checkpoint", "version": 1,
     "config": {...UNetConfig fields...}, "stems": [...], "sample_rate": 22050,
     "sigma_data": 0.2, "clamp": True,
     "state_dict": {...U-Net weights...}, "ema_state_dict": {...} or None, "extra": {...} or None}

``save(path, denoiser, config)`` writes it atomically; ``load(path)`` returns the denoiser
``D(x, σ)`` (an :class:`~msdm_tutorial.denoiser.EDMDenoiser` in eval mode, EMA weights when present);
``export`` turns a training checkpoint into a small inference one.

**The paper's checkpoints** (PyTorch-Lightning files of audio-diffusion-pytorch 0.0.43 models) are
recognised by ``read``/``load``, which import them through :mod:`msdm_tutorial.paper_checkpoints`
(a restricted unpickler: nothing in a file is ever run); ``msdm convert-checkpoint`` (``convert``)
turns them into our format.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .denoiser import EDMDenoiser
from .files import atomic_open
from .paper_checkpoints import is_paper_checkpoint, payload_from_original, read_torch_file
from .task_inputs import parse_stems
from .unet import PRESETS, UNet, UNetConfig, get_config

FORMAT = "msdm-tutorial/checkpoint"
VERSION = 1


# ---------------------------------------------------------------------------------------------
# Saving and loading our format
# ---------------------------------------------------------------------------------------------


def _require_plain_data(value, where: str):
    """Check that ``value`` holds only what ``torch.load(weights_only=True)`` reads back."""
    if value is None or isinstance(value, (str, int, float, bool, Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _require_plain_data(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise ValueError(f"{where}: dict keys must be str or int, got {type(k).__name__}")
            _require_plain_data(v, f"{where}[{k!r}]")
        return
    raise ValueError(f"{where}: {type(value).__name__} cannot be stored (use plain types and tensors)")


def _state_dict_on_cpu(state) -> dict[str, Tensor]:
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    state = {k.removeprefix("net."): v for k, v in state.items()}
    return {k: v.detach().cpu() for k, v in state.items()}


def save(path, denoiser: EDMDenoiser, config: UNetConfig | str | dict, ema_state=None, extra: dict | None = None) -> Path:
    """Write ``denoiser`` (an EDMDenoiser around a :class:`~msdm_tutorial.unet.UNet`) to ``path``.

    ``config`` is the U-Net's configuration (a preset name, dict or UNetConfig); ``ema_state`` an
    optional EMA copy of the network (a module or its state dict); ``extra`` optional plain data
    (step counters, optimizer state, notes). The file is written to a temporary name, flushed to
    disk and renamed, so a crash never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    cfg = get_config(config)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": cfg.to_dict(),
        "stems": list(denoiser.stems) if denoiser.stems is not None else None,
        "sample_rate": denoiser.sample_rate,
        "sigma_data": float(denoiser.sigma_data),
        "clamp": bool(denoiser.clamp),
        "state_dict": _state_dict_on_cpu(denoiser.net),
        "ema_state_dict": _state_dict_on_cpu(ema_state) if ema_state is not None else None,
        "extra": extra,
    }
    _require_plain_data(payload["extra"], "extra")
    _check_state_dict(payload["state_dict"], cfg, str(path))
    return _write_payload(payload, path)


def _write_payload(payload: dict, path) -> Path:
    """``torch.save`` to a temporary sibling, flushed to disk and renamed onto ``path``."""
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)
    return Path(path)


def _expected_shapes(cfg: UNetConfig) -> dict[str, tuple]:
    with torch.device("meta"):
        net = UNet(cfg)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _check_state_dict(state: dict, cfg: UNetConfig, name: str) -> None:
    """One-line ValueError when ``state`` does not fit the U-Net of ``cfg`` (missing, extra, shape)."""
    expected = _expected_shapes(cfg)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} tensor(s) with other shapes, e.g. {k} is {tuple(state[k].shape)} "
                         f"in the file but {expected[k]} in the model")
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {missing[0]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
        raise ValueError(f"{name}: weights do not fit the U-Net configuration ({'; '.join(parts)})")


def read(path, config: UNetConfig | str | dict | None = None, *, stems=None, sample_rate: int | None = None) -> dict:
    """Read a checkpoint (ours or the paper's) into our payload dict (see the module docstring),
    checked against its configuration, without building the network.

    ``config`` (a preset name, dict or UNetConfig) insists on an architecture: a file holding
    another one raises ValueError. ``stems`` (names, or one comma-separated string) and
    ``sample_rate`` override what the file says (the paper's files may not say).
    """
    name = str(path)
    obj = read_torch_file(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        if obj.get("version", 0) > VERSION:
            raise ValueError(f"{name}: checkpoint format version {obj['version']} is newer than this "
                             f"library reads ({VERSION}); update msdm-tutorial")
        payload = obj
    elif is_paper_checkpoint(obj):
        payload = {"format": FORMAT, "version": VERSION, **payload_from_original(obj, name)}
    else:
        keys = list(obj)[:5] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{name}: not an MSDM checkpoint (neither our format nor an audio-diffusion-pytorch "
                         f"model; top-level keys: {keys})")
    cfg = get_config(payload["config"])
    if config is not None and get_config(config) != cfg:
        want = get_config(config).to_dict()
        diff = [f"{k} {v!r} (wanted {want[k]!r})" for k, v in cfg.to_dict().items() if want[k] != v]
        label = f"preset {config!r}" if isinstance(config, str) else "the requested configuration"
        raise ValueError(f"{name}: holds a different U-Net than {label}: {', '.join(diff[:4])}")
    if stems is not None:
        stems = list(parse_stems(stems) if isinstance(stems, str) else (s.strip() for s in stems))
        if len(stems) != cfg.in_channels:
            raise ValueError(f"{name}: the model has {cfg.in_channels} channel(s) but {len(stems)} stem name(s) "
                             f"were given ({','.join(stems)})")
        payload["stems"] = stems
    if sample_rate is not None:
        payload["sample_rate"] = int(sample_rate)
    _check_state_dict(payload["state_dict"], cfg, name)
    if payload.get("ema_state_dict") is not None:
        _check_state_dict(payload["ema_state_dict"], cfg, name + " (EMA weights)")
    return payload


def denoiser_from_payload(payload: dict, ema: bool = True) -> EDMDenoiser:
    """Build the EDMDenoiser a payload describes (CPU, float32, eval mode), using its tensors in place."""
    cfg = get_config(payload["config"])
    state = payload["ema_state_dict"] if ema and payload.get("ema_state_dict") is not None else payload["state_dict"]
    with torch.device("meta"):  # no random initialisation: the weights come from the file
        net = UNet(cfg)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, assign=True)
    denoiser = EDMDenoiser(net, sigma_data=payload["sigma_data"], clamp=payload["clamp"],
                           stems=payload["stems"], sample_rate=payload["sample_rate"])
    # an autoguidance guide's recorded setting (msdm_tutorial.models.with_guide), so it is read with the weights
    denoiser.autoguidance = dict((payload.get("extra") or {}).get("autoguidance") or {})
    return denoiser.eval()


def load(path, device="cpu", *, config: UNetConfig | str | dict | None = None, ema: bool = True) -> EDMDenoiser:
    """The denoiser D(x, σ) stored in ``path`` (our format or the paper's Lightning ``.ckpt``).

    Returns an :class:`~msdm_tutorial.denoiser.EDMDenoiser` in eval mode on ``device``, with
    ``.stems``, ``.sample_rate`` and ``.net.config``. The EMA weights are used when the file has
    them (``ema=False`` picks the raw weights). ``config`` insists on an architecture (see :func:`read`).
    """
    return denoiser_from_payload(read(path, config=config), ema=ema).to(device)


def convert(src, dst, *, config: UNetConfig | str | dict | None = None, stems=None,
            sample_rate: int | None = None, check_length: int | None = None) -> dict:
    """Convert the paper's ``.ckpt`` (or any checkpoint :func:`read` accepts) into our format at
    ``dst`` (float32 weights, atomic write) and return the payload written. ``check_length``
    first runs the denoiser once on that many samples of noise, so a model that cannot run
    leaves no output behind."""
    payload = read(src, config=config, stems=stems, sample_rate=sample_rate)
    if check_length is not None:
        cfg = get_config(payload["config"])
        x = torch.randn(1, cfg.in_channels, check_length, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = denoiser_from_payload(payload)(x, 1.0)
        if not torch.isfinite(y).all():
            raise ValueError(f"{src}: the converted model gives NaN/Inf on a test input")
    payload["state_dict"] = {k: v.float().contiguous() if v.is_floating_point() else v
                             for k, v in payload["state_dict"].items()}
    _write_payload(payload, dst)
    return payload


def export(checkpoint, out, dtype: torch.dtype = torch.float16, extra: dict | None = None) -> Path:
    """Write a run's EMA weights as a small inference checkpoint: no optimizer, ``dtype`` weights,
    D clamped to [−1, 1] as the paper does at inference; ``extra`` plain data to keep with it (an
    autoguidance guide's weight: ``{"autoguidance": {"weight": w, "main": "msdm-tiny.pt"}}``)."""
    return _save_for_inference(load(checkpoint, ema=True), out, dtype, extra)


def _save_for_inference(denoiser: EDMDenoiser, out, dtype: torch.dtype, extra: dict | None = None) -> Path:
    """Write ``denoiser`` as the paper runs it at inference: ``dtype`` weights, D clamped to [−1, 1]."""
    denoiser.clamp = True
    denoiser.net.to(dtype)
    return save(out, denoiser, denoiser.net.config, extra=extra)


def average(paths, out, dtype: torch.dtype = torch.float16) -> Path:
    """Checkpoint averaging: write the mean of the (EMA) weights of ``paths``, checkpoints of one run,

        θ̄ = (1/n) Σ_i θ_i,

    as an inference checkpoint like :func:`export`'s (``dtype`` weights, D clamped). The files must
    hold the same architecture, stems and σ_data; otherwise a ValueError names the first that differs."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("average: no checkpoints given")
    first = load(paths[0])
    total = {k: v.double() for k, v in first.net.state_dict().items() if v.is_floating_point()}
    for path in paths[1:]:
        other = load(path)
        same = (other.net.config, other.stems, other.sigma_data) == (first.net.config, first.stems, first.sigma_data)
        if not same:
            raise ValueError(f"{path}: another model than {paths[0]} (architecture, stems or σ_data differ)")
        for k, v in other.net.state_dict().items():
            if k in total:
                total[k] += v.double()
    first.net.load_state_dict({k: v / len(paths) for k, v in total.items()}, strict=False)
    return _save_for_inference(first, out, dtype)


def preset_name(config: UNetConfig | dict) -> str | None:
    """The name of the U-Net preset equal to ``config``, or None."""
    cfg = get_config(config)
    return next((k for k, v in PRESETS.items() if v == cfg), None)
