"""Training: one loop for a laptop CPU on toy songs and for GPUs on Slakh2100.

Each step draws a batch of stem chunks x0 (B, K, T), noise levels ln σ ~ N(−3, 1) and noise n, and
minimises the EDM loss  λ(σ)·‖D(x0 + σn; σ) − x0‖²  (``denoiser.edm_loss``) with Adam. Around it:
EMA weights (used for sampling), gradient clipping, optional linear LR warm-up, periodic validation
loss on fixed σ and noise, JSONL + TensorBoard logs, audio samples at validation time, atomic
checkpoints every N steps and on SIGINT/SIGTERM, exact resume, and DistributedDataParallel under
``torchrun`` (only rank 0 logs and saves).

Exact resume: a checkpoint holds the model, EMA, optimizer, LR schedule, step, the noise generator
and RNG states; the data order is a pure function of (seed, step) (``data.TrainChunks``), so an
interrupted run that resumes ends with bit-identical weights.

    msdm train --preset tiny --data data_small/songs --out runs/tiny --steps 2000
    torchrun --nproc-per-node 4 -m msdm_tutorial.train --preset paper --data slakh --out runs/paper
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import signal
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from . import STEMS, SAMPLE_RATE
from .checkpoints import save as save_model
from .denoiser import EDMDenoiser, edm_loss
from .schedules import LogNormalSigma
from .unet import build as build_unet
from .unet import get_config


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
        for k in ("stems", "betas"):
            if k in d:
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


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def unet_config_for(cfg: TrainConfig):
    """The U-Net configuration of a run: the preset with in_channels = number of stems."""
    return get_config(cfg.model).replace(in_channels=len(cfg.stems))


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None = None) -> Dist:
    """Single process, or the process group ``torchrun`` describes (NCCL on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if world == 1:
        return Dist(device=torch.device(device or ("cuda" if want_cuda else "cpu")))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dist.init_process_group("nccl" if want_cuda else "gloo")
    dev = torch.device(f"cuda:{local}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(dev)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), device=dev)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


TRAIN_DATA = ("files", "toy-stream")


def training_items(cfg: TrainConfig, data_dir):
    """The training set: chunks of ``data_dir/train`` (``files``), or an endless stream of new toy songs
    (``toy-stream``) whose seeds avoid every song in ``data_dir`` (its validation and test songs stay unseen)."""
    from .data import TrainChunks
    from .data.stream import ToySongStream, seeds_in

    if cfg.train_data == "files":
        return TrainChunks(data_dir, "train", chunk_length=cfg.chunk_length, stems=cfg.stems,
                           sample_rate=cfg.sample_rate, seed=cfg.seed)
    if cfg.train_data == "toy-stream":
        return ToySongStream(cfg.chunk_length, stems=cfg.stems, sample_rate=cfg.sample_rate, seed=cfg.seed,
                             held_out_seeds=seeds_in(data_dir))
    raise ValueError(f"train_data must be one of {', '.join(TRAIN_DATA)}, got {cfg.train_data!r}")


def make_loader(cfg: TrainConfig, data_dir, start_step: int, d: Dist):
    """Batches of step s hold the global samples s·B … s·B + B − 1 (B = global batch); rank r of W
    processes takes those ≡ r (mod W). The order depends only on (seed, sample number)."""
    from .data import GlobalIndices

    chunks = training_items(cfg, data_dir)
    sampler = GlobalIndices(start=start_step * cfg.batch_size, rank=d.rank, world_size=d.world)
    return torch.utils.data.DataLoader(
        chunks, batch_size=cfg.batch_size // d.world, sampler=sampler, num_workers=cfg.num_workers,
        pin_memory=d.device.type == "cuda", persistent_workers=cfg.num_workers > 0)


def validation_batches(cfg: TrainConfig, data_dir) -> list[torch.Tensor]:
    """Fixed validation chunks (the first ``val_batches`` batches of the validation split)."""
    from .data import EvalChunks

    split = "validation" if (Path(data_dir) / "validation").is_dir() else "train"
    chunks = EvalChunks(data_dir, split, chunk_length=cfg.chunk_length, stems=cfg.stems,
                        sample_rate=cfg.sample_rate)
    items = [chunks[i] for i in range(min(len(chunks), cfg.val_batches * cfg.batch_size))]
    return [torch.stack(items[i:i + cfg.batch_size]) for i in range(0, len(items), cfg.batch_size)]


# ---------------------------------------------------------------------------------------------
# Model state
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def init_weights(cfg: TrainConfig, net: nn.Module, ema: nn.Module) -> None:
    """Fine-tuning: copy the weights (and EMA weights, when the file has them) of ``cfg.init_from``.

    The optimizer, step count and data order start fresh; the architecture and stems must match.
    A resumed fine-tuning run then overwrites these with its own latest checkpoint.
    """
    from .checkpoints import read

    path = Path(cfg.init_from)
    if not path.is_file():
        raise ValueError(f"{path}: --init-from checkpoint not found")
    payload = read(path, config=unet_config_for(cfg))
    if payload.get("stems") is not None and tuple(payload["stems"]) != tuple(cfg.stems):
        raise ValueError(f"{path}: the checkpoint's stems {tuple(payload['stems'])} differ from the run's "
                         f"{tuple(cfg.stems)}; pass --stems to match")
    net.load_state_dict(payload["state_dict"])               # copy_ casts fp16 exports to the net's dtype
    ema.load_state_dict(payload.get("ema_state_dict") or payload["state_dict"])


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """θ_ema ← decay·θ_ema + (1 − decay)·θ."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    """Warm the EMA up: decay_t = min(decay, (1 + t) / (10 + t)), so early weights fade fast."""
    return min(decay, (1.0 + step) / (10.0 + step))


def lr_at(step: int, cfg: TrainConfig) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": _python_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> list:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------
# Checkpoints of a run
# ---------------------------------------------------------------------------------------------


def checkpoint_paths(run_dir) -> list[Path]:
    """The run's checkpoints, newest first."""
    return sorted((Path(run_dir) / "checkpoints").glob("step_*.pt"), reverse=True)


def save_training_checkpoint(run_dir, step, cfg, denoiser, ema, opt, generator) -> Path:
    path = Path(run_dir) / "checkpoints" / f"step_{step:08d}.pt"
    train_state = {"step": step, "train_config": cfg.to_dict(), "optimizer": opt.state_dict(),
                   "noise_generator": generator.get_state(), "rng": rng_state()}
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


def export(checkpoint, out, dtype: torch.dtype = torch.float16) -> Path:
    """Write a run's EMA weights as a small inference checkpoint: no optimizer, ``dtype`` weights,
    D clamped to [−1, 1] as the paper does at inference."""
    from .checkpoints import load

    denoiser = load(checkpoint, ema=True)
    denoiser.clamp = True
    denoiser.net.to(dtype)
    return save_model(out, denoiser, denoiser.net.config)


# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------


class Logger:
    """JSONL (always) and TensorBoard scalars (when tensorboardX is installed); rank 0 only."""

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
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    os.replace(tmp, path)


@torch.no_grad()
def validation_loss(denoiser: EDMDenoiser, batches, cfg: TrainConfig, device) -> float:
    """Mean EDM loss on fixed chunks, at 8 fixed σ quantiles of the training distribution and fixed
    noise, so the number is comparable across the whole run."""
    g = torch.Generator().manual_seed(1234)
    q = torch.linspace(0.05, 0.95, 8)
    sigmas = torch.exp(cfg.sigma_mean + cfg.sigma_std * math.sqrt(2) * torch.erfinv(2 * q - 1))
    total, count = 0.0, 0
    for x0 in batches:
        for s in sigmas:
            noise = torch.randn(x0.shape, generator=g)
            with _autocast(cfg, device):
                loss = edm_loss(denoiser, x0.to(device), torch.full((x0.shape[0],), float(s), device=device),
                                noise.to(device), cfg.sigma_data)
            total, count = total + loss.item(), count + 1
    return total / max(count, 1)


def write_samples(denoiser: EDMDenoiser, cfg: TrainConfig, run_dir, step: int, device) -> Path:
    """Generate one chunk with the EMA model (Heun) and write per-stem WAVs, the mix and a spectrogram."""
    from .data.audio import save_audio
    from .samplers import heun, initial_noise, score_derivative
    from .schedules import karras_sigmas

    g = torch.Generator().manual_seed(cfg.seed)
    sigmas = karras_sigmas(cfg.sample_steps, 1e-4, 1.0, 7.0)
    x = initial_noise((1, len(cfg.stems), cfg.chunk_length), sigmas, g).to(device)
    with torch.no_grad(), _autocast(cfg, device):
        y = heun(score_derivative(denoiser), x, sigmas).float().cpu()[0]
    out = Path(run_dir) / "samples" / f"step_{step:08d}"
    out.mkdir(parents=True, exist_ok=True)
    for name, stem in zip(cfg.stems, y):
        save_audio(out / f"{name}.wav", stem[None], cfg.sample_rate)
    save_audio(out / "mix.wav", y.sum(0, keepdim=True).clamp(-1, 1), cfg.sample_rate)
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(cfg.stems), 1, figsize=(8, 1.6 * len(cfg.stems)), squeeze=False)
        for ax, name, stem in zip(axes[:, 0], cfg.stems, y):
            ax.specgram(stem.numpy(), NFFT=1024, Fs=cfg.sample_rate, noverlap=768)
            ax.set_ylabel(f"{name}\nHz")
        axes[-1, 0].set_xlabel("time (s)")
        fig.tight_layout()
        fig.savefig(out / "spectrogram.png", dpi=80)
        plt.close(fig)
    except Exception:  # noqa: BLE001 - a figure is a bonus, never a reason to stop training
        pass
    return out


def _autocast(cfg: TrainConfig, device: torch.device):
    enabled = cfg.autocast == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the end of the step and stops."""

    def __init__(self):
        self.stop = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside a notebook worker)
                pass
        return self

    def _handle(self, signum, frame):
        if self.stop:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def prepare_run_dir(run_dir, cfg: TrainConfig, resume: bool) -> None:
    """Refuse to overwrite a run, and refuse to resume a run with a different configuration."""
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
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2))
    os.replace(tmp, saved)


def train(cfg: TrainConfig, data_dir, run_dir, resume: bool = False, device: str | None = None,
          progress: bool = True, stop_after: int | None = None, callback=None) -> dict:
    """Train ``cfg`` on ``data_dir`` into ``run_dir``. Returns a summary dict.

    ``stop_after`` stops (with a checkpoint) after that many steps of this call — how the tests
    simulate an interruption. ``callback(step, record)`` sees every logged record (live plots).
    """
    d = setup_distributed(device)
    if cfg.batch_size % d.world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {d.world} processes")
    if d.main:
        prepare_run_dir(run_dir, cfg, resume)
    if d.world > 1:
        dist.barrier()

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    net = build_unet(unet_config_for(cfg))
    denoiser = EDMDenoiser(net, sigma_data=cfg.sigma_data, clamp=False, stems=cfg.stems,
                           sample_rate=cfg.sample_rate).to(d.device)
    ema = copy.deepcopy(net).requires_grad_(False).to(d.device)
    opt = torch.optim.Adam(denoiser.parameters(), lr=cfg.lr, betas=cfg.betas)
    generator = torch.Generator().manual_seed(cfg.seed)  # σ and noise of the global batch (all ranks)
    step = 0

    if cfg.init_from:
        init_weights(cfg, net, ema)
    if resume:
        payload, path = load_latest(run_dir)
        if payload is not None:
            state = payload["extra"]["train_state"]
            net.load_state_dict(payload["state_dict"])
            ema.load_state_dict(payload["ema_state_dict"])
            opt.load_state_dict(state["optimizer"])
            generator.set_state(state["noise_generator"])
            set_rng_state(state["rng"])
            step = int(state["step"])
            if d.main:
                truncate_log(run_dir, step)
                print(f"resumed from {path} at step {step}")

    model = denoiser
    if d.world > 1:
        model = nn.parallel.DistributedDataParallel(denoiser, device_ids=[d.device.index] if d.device.type == "cuda" else None)

    logger = Logger(run_dir, d.main)
    val_data = validation_batches(cfg, data_dir) if (cfg.val_every and d.main) else []
    loader = iter(make_loader(cfg, data_dir, step, d))
    sigma_dist = LogNormalSigma(cfg.sigma_mean, cfg.sigma_std)
    bar = None
    if progress and d.main:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)

    start_step, t0, last_loss, last_saved = step, time.time(), float("nan"), None
    with _StopFlag() as flag:
        while step < cfg.steps:
            x0 = next(loader).to(d.device, non_blocking=True)
            sigma = sigma_dist.sample(cfg.batch_size, generator=generator)
            noise = torch.randn((cfg.batch_size, *x0.shape[1:]), generator=generator)
            mine = slice(d.rank, None, d.world)  # this rank's share of the global batch
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            with _autocast(cfg, d.device):
                loss = edm_loss(model, x0, sigma[mine].to(d.device), noise[mine].to(d.device), cfg.sigma_data)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (nn.utils.clip_grad_norm_(denoiser.parameters(), cfg.grad_clip) if cfg.grad_clip
                         else torch.zeros(()))
            opt.step()
            # a fine-tuning run starts from a meaningful EMA: no warm-up
            ema_update(ema, net, cfg.ema_decay if cfg.init_from else ema_decay_at(step, cfg.ema_decay))
            step += 1
            last_loss = loss.item()
            if not math.isfinite(last_loss):
                raise ValueError(f"loss became {last_loss} at step {step}; lower --lr or check the data")

            if step % cfg.log_every == 0 or step == cfg.steps:
                rate = (step - start_step) / max(time.time() - t0, 1e-9)
                record = {"loss": last_loss, "lr": lr_at(step - 1, cfg), "grad_norm": float(grad_norm),
                          "steps_per_s": rate}
                logger.log(step, **record)
                if callback:
                    callback(step, record)
                if bar is not None:
                    bar.set_postfix(loss=f"{last_loss:.4f}", it_s=f"{rate:.2f}")
            if cfg.val_every and d.main and (step % cfg.val_every == 0 or step == cfg.steps) and val_data:
                ema_denoiser = EDMDenoiser(ema, cfg.sigma_data, clamp=False)
                val = validation_loss(ema_denoiser, val_data, cfg, d.device)
                logger.log(step, val_loss=val)
                if callback:
                    callback(step, {"val_loss": val})
                if cfg.sample_steps:
                    write_samples(EDMDenoiser(ema, cfg.sigma_data, clamp=True), cfg, run_dir, step, d.device)
            if bar is not None:
                bar.update(1)
            interrupted = flag.stop or (stop_after is not None and step - start_step >= stop_after)
            if d.main and (step % cfg.save_every == 0 or step == cfg.steps or interrupted):
                last_saved = save_training_checkpoint(run_dir, step, cfg, denoiser, ema, opt, generator)
            if interrupted:
                break
    if bar is not None:
        bar.close()
    logger.close()
    if d.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    elapsed = time.time() - t0
    return {"step": step, "loss": last_loss, "seconds": elapsed,
            "steps_per_s": (step - start_step) / max(elapsed, 1e-9), "checkpoint": str(last_saved) if last_saved else None}
