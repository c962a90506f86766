"""The run folder: what a training run writes, and how it picks up where it stopped.

    RUN_DIR/
      config.json                    the TrainConfig (a resumed run must match it, ``steps`` aside)
      checkpoints/step_NNNNNNNN.pt   the newest ``keep_checkpoints`` training checkpoints
      log.jsonl                      one JSON record per line: {"step", "time", "loss", "lr", …} or {…, "val_loss"}
      tensorboard/                   the same scalars, when tensorboardX is installed
      samples/step_NNNNNNNN/         audio samples of the EMA model: one WAV per stem, mix.wav, spectrogram.png

A training checkpoint is our checkpoint format (``msdm_tutorial.checkpoints.save``) with
``extra["train_state"] = {"step", "train_config", "optimizer", "noise_generator", "rng"}``, so it
also loads as a denoiser. Every file is written atomically (``msdm_tutorial.files``) and rank 0
alone writes.

Exact resume: the checkpoint holds everything that evolves (weights, EMA, optimizer, step, the
noise generator, the torch/numpy/Python RNG states), the data order is a pure function of
(seed, step), and ``truncate_log`` drops the log lines written after the checkpoint, so an
interrupted and resumed run ends with the weights and the log of an uninterrupted one.
"""

from __future__ import annotations

import json
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoints import save as save_model
from .files import atomic_path, write_text_atomic
from .train_config import TrainConfig, unet_config_for

# ---------------------------------------------------------------------------------------------
# Random number generators
# ---------------------------------------------------------------------------------------------


def rng_state() -> dict:
    """The global torch, numpy, Python (and CUDA) RNG states, as plain data and tensors."""
    state = {"torch": torch.get_rng_state(), "numpy": _numpy_rng_state(), "python": _python_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_rng_state() -> list:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]


def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------
# Training checkpoints: rotation and resume
# ---------------------------------------------------------------------------------------------


def checkpoint_paths(run_dir) -> list[Path]:
    """The run's checkpoints, newest first."""
    return sorted((Path(run_dir) / "checkpoints").glob("step_*.pt"), reverse=True)


def save_training_checkpoint(run_dir, step: int, cfg: TrainConfig, denoiser, ema: nn.Module,
                             optimizer: torch.optim.Optimizer, noise_generator: torch.Generator) -> Path:
    """Write ``checkpoints/step_NNNNNNNN.pt`` (atomically), then delete all but the newest ``keep_checkpoints``."""
    path = Path(run_dir) / "checkpoints" / f"step_{step:08d}.pt"
    train_state = {"step": step, "train_config": cfg.to_dict(), "optimizer": optimizer.state_dict(),
                   "noise_generator": noise_generator.get_state(), "rng": rng_state()}
    save_model(path, denoiser, unet_config_for(cfg), ema_state=ema, extra={"train_state": train_state})
    for old in checkpoint_paths(run_dir)[cfg.keep_checkpoints:]:
        old.unlink(missing_ok=True)
    return path


def load_latest(run_dir) -> tuple[dict, Path] | tuple[None, None]:
    """The newest readable checkpoint; a corrupt one is skipped with a warning (falls back)."""
    for path in checkpoint_paths(run_dir):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(payload, dict) or "extra" not in payload or "train_state" not in (payload["extra"] or {}):
                raise ValueError("not a training checkpoint")
            return payload, path
        except Exception as err:  # noqa: BLE001 - any unreadable file means: try the previous one
            warnings.warn(f"{path}: unreadable checkpoint ({str(err).splitlines()[0][:120]}); "
                          "falling back to the previous one")
    return None, None


def restore_latest(run_dir, net: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer,
                   noise_generator: torch.Generator) -> tuple[int, Path] | tuple[None, None]:
    """Load the newest readable checkpoint into the network, its EMA copy, the optimizer, the noise
    generator and the global RNGs. Returns (its step, its path), or (None, None) when there is none."""
    payload, path = load_latest(run_dir)
    if payload is None:
        return None, None
    state = payload["extra"]["train_state"]
    net.load_state_dict(payload["state_dict"])
    ema.load_state_dict(payload["ema_state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    noise_generator.set_state(state["noise_generator"])
    set_rng_state(state["rng"])
    return int(state["step"]), path


def prepare_run_dir(run_dir, cfg: TrainConfig, resume: bool) -> None:
    """Refuse to overwrite a run, and refuse to resume a run with a different configuration
    (only ``steps`` may change); then write ``config.json``."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.json"
    if saved.exists() or checkpoint_paths(run_dir):
        if not resume:
            raise ValueError(f"{run_dir}: already holds a training run; pass --resume to continue it "
                             "or choose another --out")
        if saved.exists():
            old = TrainConfig.from_dict(json.loads(saved.read_text()))
            diff = [k for k, v in old.to_dict().items() if k not in ("steps",) and cfg.to_dict()[k] != v]
            if diff:
                raise ValueError(f"{saved}: the run there has another config ({', '.join(diff[:4])} differ); "
                                 "resume with the same preset and options, or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(saved, json.dumps(cfg.to_dict(), indent=2))


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------


class Logger:
    """JSONL (always) and TensorBoard scalars (when tensorboardX is installed); rank 0 only.

    Each record is one line ``{"step": s, "time": unix seconds, **values}`` appended to ``log.jsonl``."""

    def __init__(self, run_dir, enabled: bool):
        self.enabled = enabled
        self.path = Path(run_dir) / "log.jsonl"
        self.tb = None
        if enabled:
            try:
                from tensorboardX import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:
                pass

    def log(self, step: int, **values) -> None:
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self):
        if self.tb is not None:
            self.tb.close()


def truncate_log(run_dir, step: int) -> None:
    """On resume, drop log lines written after the checkpoint (they will be written again)."""
    path = Path(run_dir) / "log.jsonl"
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    write_text_atomic(path, "".join(line + "\n" for line in keep))


# ---------------------------------------------------------------------------------------------
# Audio samples
# ---------------------------------------------------------------------------------------------


def write_samples(run_dir, step: int, audio: torch.Tensor, stems, sample_rate: int) -> Path:
    """Write a generated chunk ``audio`` (stems, samples) to ``samples/step_NNNNNNNN/``: one WAV per
    stem, their sum ``mix.wav`` (clipped to [−1, 1]) and a spectrogram of each stem."""
    from .data.audio import save_audio

    out = Path(run_dir) / "samples" / f"step_{step:08d}"
    out.mkdir(parents=True, exist_ok=True)
    for name, stem in zip(stems, audio):
        save_audio(out / f"{name}.wav", stem[None], sample_rate)
    save_audio(out / "mix.wav", audio.sum(0, keepdim=True).clamp(-1, 1), sample_rate)
    try:
        _write_spectrograms(out / "spectrogram.png", audio, stems, sample_rate)
    except Exception:  # noqa: BLE001 - a figure is a bonus, never a reason to stop training
        pass
    return out


def _write_spectrograms(path: Path, audio: torch.Tensor, stems, sample_rate: int) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(stems), 1, figsize=(8, 1.6 * len(stems)), squeeze=False)
    for ax, name, stem in zip(axes[:, 0], stems, audio):
        ax.specgram(stem.numpy(), NFFT=1024, Fs=sample_rate, noverlap=768)
        ax.set_ylabel(f"{name}\nHz")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80)
    finally:
        plt.close(fig)
