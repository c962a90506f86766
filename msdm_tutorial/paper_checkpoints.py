"""The paper's checkpoints: read them safely and import their weights into our format.

The paper's checkpoints (github.com/gladia-research-group/multi-source-diffusion-models) are
PyTorch-Lightning 1.7 files of a ``main.module_base.Model`` wrapping audio-diffusion-pytorch
0.0.43's ``AudioDiffusionModel``: weights under ``state_dict`` as ``model.unet.*`` (and again as
``model.diffusion.net.*``), the constructor arguments under ``hyper_parameters`` (including a
pickled ``audio_diffusion_pytorch.diffusion.LogNormalDistribution``) and the training datasets
(``main.data.MultiSourceDataset``) under ``datamodule_hyper_parameters``.
:func:`payload_from_original` turns one into the fields of our checkpoint format
(``msdm_tutorial.checkpoints``, whose ``load`` and ``convert`` recognise these files).

Pickles can run code when they are loaded. We read foreign files with a restricted unpickler
(:class:`SafeUnpickler`): it resolves only a fixed list of plain-data names from torch, numpy,
builtins and collections (and ``_codecs.encode``, which protocol-2 pickles use for bytes), and
turns every other class or function the file names into an inert :class:`Stub` that just
records its arguments. Nothing from the file is ever imported or called (:func:`read_torch_file`).
"""

from __future__ import annotations

import _codecs
import builtins
import collections
import os
import pickle
import re
import types
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from . import SAMPLE_RATE, STEMS
from .unet import UNetConfig

ORIGINAL_SIGMA_DATA = 0.2  # the paper's diffusion_sigma_data (both MSDM and ISDM)


# ---------------------------------------------------------------------------------------------
# Reading files safely
# ---------------------------------------------------------------------------------------------


class Stub:
    """An inert stand-in for a class or function a pickle names but we refuse to import.

    Calling it, or letting pickle build it, only records the arguments (``args``, ``kwargs``), the
    state (``state``) and any dict/list items (``items``, ``list``); no code from the file runs.
    """

    qualname = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs, obj.state, obj.items, obj.list = args, kwargs, None, {}, []
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):  # pickled dict subclasses (e.g. Lightning's AttributeDict)
        self.items[key] = value

    def append(self, value):  # pickled list subclasses
        self.list.append(value)

    def extend(self, values):
        self.list.extend(values)

    def fields(self) -> dict:
        """What the original object held, best effort: its state dict and dict items."""
        out = dict(self.items)
        if isinstance(self.state, dict):
            out.update(self.state)
        elif isinstance(self.state, tuple) and self.state and isinstance(self.state[0], dict):
            out.update(self.state[0])
        return out

    def __repr__(self):
        return f"<stub {self.qualname}>"


def _passthrough(fn):
    """A fresh wrapper per load, so a pickle cannot re-attach state to the real function."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _allowed_globals() -> dict[tuple[str, str], object]:
    """The plain-data names a checkpoint may use: containers, tensors, dtypes, numpy arrays."""
    allowed: dict[tuple[str, str], object] = {("collections", "OrderedDict"): collections.OrderedDict,
                                              ("_codecs", "encode"): _passthrough(_codecs.encode),
                                              ("torch", "Size"): torch.Size, ("torch", "device"): torch.device}
    for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str",
                 "bytes", "bytearray", "slice", "range"):
        allowed[("builtins", name)] = getattr(builtins, name)
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                 "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = _passthrough(getattr(torch._utils, name))
    allowed[("torch.serialization", "_get_layout")] = _passthrough(torch.serialization._get_layout)
    for name, value in vars(torch).items():
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
            allowed[("torch", name)] = value
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return allowed
    core = np._core if hasattr(np, "_core") else np.core
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _passthrough(core.multiarray._reconstruct)
        allowed[(module, "scalar")] = _passthrough(core.multiarray.scalar)
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol-2 pickles use Python 2 names


class SafeUnpickler(pickle.Unpickler):
    """Resolves only :func:`_allowed_globals`; every other name becomes a :class:`Stub` subclass.

    ``stubs`` lists the names that were stubbed (e.g. ``audio_diffusion_pytorch.diffusion.LogNormalDistribution``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = _allowed_globals()
        self.stubs: dict[str, type] = {}

    def find_class(self, module: str, name: str):
        module = _PY2_NAMES.get(module, module)
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        key = f"{module}.{name}"
        if key not in self.stubs:
            self.stubs[key] = type(name, (Stub,), {"qualname": key, "__module__": "msdm_tutorial.paper_checkpoints.stubs"})
        return self.stubs[key]


def _restricted_pickle_module() -> types.ModuleType:
    """A stand-in for the ``pickle`` module that ``torch.load(pickle_module=...)`` accepts."""
    module = types.ModuleType("msdm_tutorial_restricted_pickle")
    module.Unpickler = SafeUnpickler
    module.load = lambda f, **kwargs: SafeUnpickler(f, **kwargs).load()
    module.UnpicklingError = pickle.UnpicklingError
    return module


def read_torch_file(path):
    """Load a torch file: plain-data files with ``weights_only=True``, others through SafeUnpickler.

    Refuses, with a one-line message, files that are missing, truncated, TorchScript or not torch files.
    """
    name = str(path)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{name}: is a directory, not a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    is_zip = head[:2] == b"PK"
    if is_zip:
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{name}: truncated or damaged checkpoint (the zip archive has no central directory)")
        try:
            with zipfile.ZipFile(path) as z:
                records = z.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise ValueError(f"{name}: damaged checkpoint ({err})") from None
        if any(r.endswith("constants.pkl") or "/code/" in r for r in records):
            raise ValueError(f"{name}: is a TorchScript archive, not a checkpoint; refusing to load it")
        if not any(r.endswith("data.pkl") for r in records):
            raise ValueError(f"{name}: a zip file but not a PyTorch checkpoint (no data.pkl inside)")
    elif not head[:1] == b"\x80":
        raise ValueError(f"{name}: not a checkpoint (neither a PyTorch zip archive nor a pickle)")
    kwargs = dict(map_location="cpu", mmap=is_zip)
    try:
        try:
            return torch.load(path, weights_only=True, **kwargs)
        except pickle.UnpicklingError:  # names a class outside the weights-only set: a foreign pickle
            return torch.load(path, weights_only=False, pickle_module=_restricted_pickle_module(), **kwargs)
    except (EOFError, pickle.UnpicklingError, RuntimeError, ValueError, TypeError, KeyError,
            AttributeError, IndexError, zipfile.BadZipFile) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, EOFError) or "truncat" in msg.lower():
            raise ValueError(f"{name}: truncated or damaged checkpoint ({msg})") from None
        raise ValueError(f"{name}: cannot read checkpoint ({type(err).__name__}: {msg[:200]})") from None


# ---------------------------------------------------------------------------------------------
# The paper's checkpoints (audio-diffusion-pytorch 0.0.43, Lightning 1.7)
# ---------------------------------------------------------------------------------------------

# Original UNet1d parameter names → ours, applied in order (see msdm_tutorial.unet for our layout).
ORIGINAL_KEY_RULES: list[tuple[str, str]] = [
    (r"^to_time\.0\.0\.weights$", "time.freqs"),
    (r"^to_time\.0\.1\.", "time.proj."),
    (r"^to_mapping\.", "time.mlp."),
    (r"^to_in\.module_list\.(\d+)\.block\.", r"patch.\1."),
    (r"^to_out\.module_list\.(\d+)\.block\.", r"unpatch.\1."),
    (r"^downsamples\.(\d+)\.downsample\.", r"downs.\1.down."),
    (r"^downsamples\.(\d+)\.blocks\.", r"downs.\1.resnets."),
    (r"^downsamples\.", "downs."),
    (r"^upsamples\.(\d+)\.upsample\.", r"ups.\1.up."),
    (r"^upsamples\.(\d+)\.blocks\.", r"ups.\1.resnets."),
    (r"^upsamples\.", "ups."),
    (r"^bottleneck\.pre_block\.", "mid.resnet1."),
    (r"^bottleneck\.post_block\.", "mid.resnet2."),
    (r"^bottleneck\.", "mid."),
    # ResnetBlock1d
    (r"\.block1\.groupnorm\.", ".norm1."),
    (r"\.block1\.project\.", ".conv1."),
    (r"\.block2\.groupnorm\.", ".norm2."),
    (r"\.block2\.project\.", ".conv2."),
    (r"\.to_scale_shift\.to_scale_shift\.1\.", ".film."),
    (r"\.to_out\.(weight|bias)$", r".skip.\1"),
    # Attention (EinopsToAndFrom wraps it as .fn) and FeedForward1d
    (r"\.attention\.fn\.", ".attention."),
    (r"\.attention\.norm\.g$", ".attention.norm.weight"),
    (r"\.to_q\.", ".q."),
    (r"\.to_kv\.", ".kv."),
    (r"\.attention\.attention\.to_out\.0\.", ".attention.out."),
    (r"\.attention\.attention\.to_out\.1\.g$", ".attention.out_norm.weight"),
    (r"\.feed_forward\.0\.g$", ".feed_forward.norm1.weight"),
    (r"\.feed_forward\.1\.", ".feed_forward.fc1."),
    (r"\.feed_forward\.3\.g$", ".feed_forward.norm2.weight"),
    (r"\.feed_forward\.4\.", ".feed_forward.fc2."),
]

# AudioDiffusionModel arguments that we read (UNetConfig fields) or accept when they have these values.
_IGNORED_HPARAMS = {"learning_rate", "beta1", "beta2", "kernel_sizes_init", "diffusion_sigma_distribution"}
_REQUIRED_HPARAMS = {"use_nearest_upsample": False, "use_context_time": True, "diffusion_dynamic_threshold": 0.0,
                     "use_classifier_free_guidance": False, "context_features": None, "context_channels": None,
                     "context_embedding_features": None}


def original_key(key: str) -> str:
    """Map one original ``UNet1d`` parameter name (without the ``unet.`` prefix) to ours."""
    for pattern, repl in ORIGINAL_KEY_RULES:
        key = re.sub(pattern, repl, key)
    return key


def is_paper_checkpoint(obj) -> bool:
    """Whether a loaded object holds audio-diffusion-pytorch weights (Lightning dict or bare state dict)."""
    if not isinstance(obj, dict):
        return False
    sd = obj.get("state_dict", obj)
    return isinstance(sd, dict) and any(isinstance(k, str) and re.match(r"^(model\.)?(unet|diffusion\.net)\.", k)
                                        for k in sd)


def convert_original_state_dict(state: dict) -> dict[str, Tensor]:
    """Original (Lightning or bare ``AudioDiffusionModel``) weights → our U-Net's state dict.

    Keeps ``unet.*`` (``diffusion.net.*`` is the same network again), strips ``model.``, renames by
    :data:`ORIGINAL_KEY_RULES` and flattens the feed-forward's 1×1 conv weights to Linear shapes.
    """
    state = {k.removeprefix("model."): v for k, v in state.items()}
    prefix = "unet." if any(k.startswith("unet.") for k in state) else "diffusion.net."
    out = {}
    for k, v in state.items():
        if k.startswith(prefix):
            v = v.detach()
            new = original_key(k[len(prefix):])
            if re.search(r"feed_forward\.(norm\d\.weight|fc\d\.weight)$", new):
                v = v.reshape(v.shape[0], -1) if new.endswith((".fc1.weight", ".fc2.weight")) else v.reshape(-1)
            out[new] = v
    return out


def infer_config(state: dict[str, Tensor], hints: dict | None = None) -> UNetConfig:
    """Read the architecture from our-named weights. Shapes fix everything except the attention
    head split, the GroupNorm group count and the skip scale; those come from ``hints``
    (the checkpoint's hyper-parameters) or default to the paper's (8 heads, 8 groups, skip scale on)."""
    hints = dict(hints or {})

    def count(prefix):
        ids = {int(m.group(1)) for k in state for m in [re.match(prefix + r"(\d+)\.", k)] if m}
        return max(ids) + 1 if ids else 0

    try:
        channels = 2 * state["time.freqs"].numel()
        patch_blocks = count(r"patch\.")
        in_channels = state["patch.0.conv1.weight"].shape[1]
        patch_factor = channels // state[f"patch.{patch_blocks - 1}.conv2.weight"].shape[0]
        levels = count(r"downs\.")
        multipliers = [state["downs.0.down.weight"].shape[1] // channels]
        factors, kernel_multipliers = [], []
        for i in range(levels):
            multipliers.append(state[f"downs.{i}.down.weight"].shape[0] // channels)
            up = state[f"ups.{levels - 1 - i}.up.weight"]
            f = 1 if up.shape[-1] == 3 else up.shape[-1] // 2
            factors.append(f)
            kernel_multipliers.append((state[f"downs.{i}.down.weight"].shape[-1] - 1) // f)
        num_blocks = [count(rf"downs\.{i}\.resnets\.") for i in range(levels)]
        attentions = [f"downs.{i}.transformer.attention.q.weight" in state for i in range(levels)]
        q = next((v for k, v in state.items() if k.endswith("attention.q.weight")), None)
        fc1 = next((v for k, v in state.items() if k.endswith("feed_forward.fc1.weight")), None)
    except (KeyError, IndexError, ZeroDivisionError) as err:
        raise ValueError(f"weights do not look like an audio-diffusion-pytorch UNet1d (missing {err})") from None
    heads = int(hints.get("attention_heads", 8))
    mid = q.shape[0] if q is not None else heads * 64
    cfg = dict(in_channels=in_channels, channels=channels, patch_factor=patch_factor, patch_blocks=patch_blocks,
               multipliers=multipliers, factors=factors, num_blocks=num_blocks, attentions=attentions,
               attention_heads=heads, attention_features=int(hints.get("attention_features", mid // heads)),
               attention_multiplier=fc1.shape[0] // fc1.shape[1] if fc1 is not None else 2,
               resnet_groups=int(hints.get("resnet_groups", 8)),
               kernel_multiplier_downsample=kernel_multipliers[0] if kernel_multipliers else 2,
               use_skip_scale=bool(hints.get("use_skip_scale", True)),
               use_attention_bottleneck="mid.attention.q.weight" in state)
    return UNetConfig(**cfg)


def _hyper_parameters(obj) -> dict:
    """The Lightning ``hyper_parameters`` as a plain dict (a stubbed AttributeDict included)."""
    hp = obj.get("hyper_parameters") or {}
    if isinstance(hp, Stub):
        hp = hp.fields()
    return dict(hp) if isinstance(hp, dict) else {}


def _dataset_stems_and_rate(obj, depth: int = 0) -> dict:
    """Find ``stems`` and ``sr`` in the pickled training datasets (``main.data.MultiSourceDataset``)."""
    if depth > 6:
        return {}
    if isinstance(obj, Stub):
        fields = obj.fields()
        if isinstance(fields.get("stems"), (list, tuple)):
            return {"stems": [str(s) for s in fields["stems"]], "sample_rate": fields.get("sr")}
        obj = fields
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for v in obj:
            found = _dataset_stems_and_rate(v, depth + 1)
            if found:
                return found
    return {}


def payload_from_original(obj: dict, name: str = "checkpoint") -> dict:
    """The fields of our checkpoint payload (all but its ``format``/``version`` header, which
    ``checkpoints.read`` adds) from a loaded original checkpoint (Lightning dict, or a bare state dict).

    The architecture comes from ``hyper_parameters`` where present, else from the shapes
    (:func:`infer_config`); stems and sample rate from the pickled training datasets, else
    bass/drums/guitar/piano (4 channels) or a stem named in the path (1 channel), and 22050 Hz.
    """
    lightning = "state_dict" in obj
    hp = _hyper_parameters(obj) if lightning else {}
    for key, value in _REQUIRED_HPARAMS.items():
        if key in hp and hp[key] != value and not (value is None and not hp[key]):
            raise ValueError(f"{name}: unsupported original model ({key}={hp[key]!r}; only {value!r} is supported)")
    state = convert_original_state_dict(obj["state_dict"] if lightning else obj)
    fields = set(UNetConfig.__dataclass_fields__)
    try:
        shape_cfg = infer_config(state, hints=hp)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    given = {k: v for k, v in hp.items() if k in fields}
    cfg = shape_cfg.replace(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}) if given else shape_cfg
    info = _dataset_stems_and_rate(obj.get("datamodule_hyper_parameters")) if lightning else {}
    stems = info.get("stems")
    if stems is None or len(stems) != cfg.in_channels:
        stems = list(STEMS) if cfg.in_channels == len(STEMS) else _stems_from_path(name, cfg.in_channels)
    return {
        "config": cfg.to_dict(), "stems": stems,
        "sample_rate": int(info.get("sample_rate") or SAMPLE_RATE),
        "sigma_data": float(hp.get("diffusion_sigma_data", ORIGINAL_SIGMA_DATA)), "clamp": True,
        "state_dict": state, "ema_state_dict": None,
        "extra": {"source": os.path.basename(name), "original": "audio-diffusion-pytorch 0.0.43 UNet1d"
                  + (f" (Lightning {obj.get('pytorch-lightning_version')})" if lightning else "")},
    }


def _stems_from_path(name: str, channels: int) -> list[str]:
    """ISDM checkpoints hold one stem; guess its name from the path (…/bass/epoch=….ckpt)."""
    if channels == 1:
        found = [s for s in STEMS if re.search(rf"(^|[^a-z]){s}([^a-z]|$)", name.lower())]
        if len(found) == 1:
            return found
    return [f"source{i}" for i in range(channels)]

