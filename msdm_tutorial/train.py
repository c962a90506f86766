"""Training: one loop for a laptop CPU on toy songs and for GPUs on Slakh2100.

Each step draws a batch of stem chunks x0 (B, K, T), noise levels ln σ ~ N(P_mean, P_std²) and noise n,
and minimises the EDM loss  λ(σ)·‖D(x0 + σn; σ) − x0‖²  (``denoiser.edm_loss``) with Adam. Around it:
EMA weights (used for sampling), gradient clipping, optional linear LR warm-up, periodic validation
loss on fixed σ and noise, JSONL + TensorBoard logs, audio samples at validation time, atomic
checkpoints every N steps and on SIGINT/SIGTERM, exact resume, and DistributedDataParallel under
``torchrun`` (only rank 0 logs and saves). :func:`train` reads top to bottom::

    start_processes → new_training_state → (init_weights) → (resume_training) →
    loop { training_step → monitor.after_step → save_training_checkpoint } → finish

The configuration and presets live in :mod:`msdm_tutorial.train_config`; the run folder
(checkpoints, logs, samples, resume) in :mod:`msdm_tutorial.runs`. Exact resume: a checkpoint holds
the model, EMA, optimizer, LR schedule, step, the noise generator and RNG states; the data order is
a pure function of (seed, step) (``data.TrainChunks``), so an interrupted run that resumes ends
with bit-identical weights.

    msdm train --preset tiny --data data_small/songs --out runs/tiny --steps 2000
    torchrun --nproc-per-node 4 -m msdm_tutorial.cli.train --preset paper --data slakh --out runs/paper
"""

from __future__ import annotations

import copy
import math
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .denoiser import EDMDenoiser, edm_loss, valid_stem_weights
from .models import pick_device
from .runs import Logger, prepare_run_dir, restore_latest, save_training_checkpoint, truncate_log, write_samples
from .schedules import HighSigmaMixture, LogNormalSigma
from .train_config import PRESETS, TRAIN_DATA, TrainConfig, get_preset, unet_config_for  # noqa: F401
from .unet import build as build_unet
from .unet import get_config

# Re-exported on purpose: the run's configuration (``train.PRESETS``, ``train.TrainConfig``,
# ``train.get_preset`` … keep working). The command line is msdm_tutorial.cli.train.

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


@dataclass
class DistributedContext:
    """This process's place among the training processes: rank ``rank`` of ``world_size``, on ``device``.

    One process is rank 0 of 1; under ``torchrun`` there are ``world_size`` of them, each with its
    share of every global batch and DistributedDataParallel averaging their gradients."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates, logs and saves."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for in a single process)."""
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1:
            dist.barrier()
            dist.destroy_process_group()


def setup_distributed(device: str | None = None) -> DistributedContext:
    """Single process on ``device`` (:func:`msdm_tutorial.models.pick_device`: by default ``cuda`` when a
    GPU is visible, else ``cpu``), or the process group ``torchrun`` describes: NCCL with each process
    on ``cuda:LOCAL_RANK`` when that device is a GPU, gloo on CPUs."""
    picked = pick_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext(device=picked)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    want_cuda = picked.type == "cuda"
    dist.init_process_group("nccl" if want_cuda else "gloo")
    process_device = torch.device(f"cuda:{local_rank}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(process_device)
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=process_device)


def parallel_model(denoiser: EDMDenoiser, processes: DistributedContext) -> nn.Module:
    """The module the loss calls: the denoiser itself, or (several processes) a DistributedDataParallel
    wrapper whose backward pass averages the gradients over the processes."""
    if processes.world_size == 1:
        return denoiser
    device_ids = [processes.device.index] if processes.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(denoiser, device_ids=device_ids)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


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


def make_loader(cfg: TrainConfig, data_dir, start_step: int, processes: DistributedContext):
    """Batches of step s hold the global samples s·B … s·B + B − 1 (B = global batch); rank r of W
    processes takes those ≡ r (mod W). The order depends only on (seed, sample number)."""
    from .data import GlobalIndices

    chunks = training_items(cfg, data_dir)
    sampler = GlobalIndices(start=start_step * cfg.batch_size, rank=processes.rank, world_size=processes.world_size)
    return torch.utils.data.DataLoader(
        chunks, batch_size=cfg.batch_size // processes.world_size, sampler=sampler, num_workers=cfg.num_workers,
        pin_memory=processes.device.type == "cuda", persistent_workers=cfg.num_workers > 0)


def validation_batches(cfg: TrainConfig, data_dir) -> list[torch.Tensor]:
    """Fixed validation chunks (the first ``val_batches`` batches of the validation split)."""
    from .data import EvalChunks

    split = "validation" if (Path(data_dir) / "validation").is_dir() else "train"
    chunks = EvalChunks(data_dir, split, chunk_length=cfg.chunk_length, stems=cfg.stems,
                        sample_rate=cfg.sample_rate)
    items = [chunks[i] for i in range(min(len(chunks), cfg.val_batches * cfg.batch_size))]
    return [torch.stack(items[i:i + cfg.batch_size]) for i in range(0, len(items), cfg.batch_size)]


# ---------------------------------------------------------------------------------------------
# Model state and the optimisation rules
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainingState:
    """Everything a step changes (all of it goes into a training checkpoint, see ``runs``)."""

    denoiser: EDMDenoiser                # D(x; σ) around the U-Net being optimised (``denoiser.net``)
    ema: nn.Module                       # the EMA copy of the U-Net: validation, samples, exports
    optimizer: torch.optim.Optimizer
    noise_generator: torch.Generator     # σ and noise of the global batch, the same on every rank
    step: int = 0                        # optimisation steps done


def new_training_state(cfg: TrainConfig, device: torch.device) -> TrainingState:
    """Seed torch, numpy and Python with ``cfg.seed``; build the U-Net, its EDM preconditioning
    (``clamp=False`` while training), an EMA copy, Adam, and the noise generator."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    net = build_unet(unet_config_for(cfg))
    denoiser = EDMDenoiser(net, sigma_data=cfg.sigma_data, clamp=False, stems=cfg.stems,
                           sample_rate=cfg.sample_rate).to(device)
    ema = copy.deepcopy(net).requires_grad_(False).to(device)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=cfg.lr, betas=cfg.betas)
    return TrainingState(denoiser, ema, optimizer, noise_generator=torch.Generator().manual_seed(cfg.seed))


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
    payload = read(path)
    want, have = unet_config_for(cfg), get_config(payload["config"])
    # norm_window changes no weight: `tiny` weights fine-tune into `tiny-localnorm` (and back)
    if have.replace(norm_window=want.norm_window) != want:
        wanted = asdict(want)
        diff = [f"{k} {v!r} (wanted {wanted[k]!r})" for k, v in asdict(have).items() if v != wanted[k] and k != "norm_window"]
        raise ValueError(f"{path}: holds a different U-Net than the run's: {', '.join(diff[:4])}")
    if payload.get("stems") is not None and tuple(payload["stems"]) != tuple(cfg.stems):
        raise ValueError(f"{path}: the checkpoint's stems {tuple(payload['stems'])} differ from the run's "
                         f"{tuple(cfg.stems)}; pass --stems to match")
    net.load_state_dict(payload["state_dict"])               # copy_ casts fp16 exports to the net's dtype
    ema.load_state_dict(payload.get("ema_state_dict") or payload["state_dict"])


def resume_training(run_dir, state: TrainingState, processes: DistributedContext) -> None:
    """Continue from the run's newest readable checkpoint, if any (``runs.restore_latest``); rank 0
    drops the log lines written after it."""
    step, path = restore_latest(run_dir, state.denoiser.net, state.ema, state.optimizer, state.noise_generator)
    if step is None:
        return
    state.step = step
    if processes.is_main:
        truncate_log(run_dir, step)
        print(f"resumed from {path} at step {step}")


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """θ_ema ← decay·θ_ema + (1 − decay)·θ."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)


def ema_decay_at(step: int, decay: float) -> float:
    """Warm the EMA up: decay_t = min(decay, (1 + t) / (10 + t)), so early weights fade fast."""
    return min(decay, (1.0 + step) / (10.0 + step))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then constant: lr_t = lr·(t + 1)/warmup_steps for t < warmup_steps, else lr."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr


def mixed_precision(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when ``cfg.autocast == "bf16"``, full precision otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.autocast == "bf16")


# ---------------------------------------------------------------------------------------------
# One step
# ---------------------------------------------------------------------------------------------


def training_sigma(cfg: TrainConfig) -> LogNormalSigma | HighSigmaMixture:
    """ln σ ~ N(sigma_mean, sigma_std²), with ``sigma_high_fraction`` of the draws log-uniform on
    ``sigma_high_range`` when it is above 0."""
    base = LogNormalSigma(cfg.sigma_mean, cfg.sigma_std)
    if not cfg.sigma_high_fraction:
        return base
    return HighSigmaMixture(base, cfg.sigma_high_fraction, *cfg.sigma_high_range)


def training_step(model: nn.Module, state: TrainingState, batch: torch.Tensor,
                  sigma_distribution: LogNormalSigma | HighSigmaMixture,
                  cfg: TrainConfig, processes: DistributedContext) -> tuple[float, float]:
    """One Adam step on the EDM loss of this process's share of the global batch; returns (loss, grad norm).

    σ and the noise are drawn for the whole global batch (so they do not depend on the number of
    processes) and rank r takes the items r, r + W, …; then lr ← ``lr_at(step)``, gradients clipped
    to global norm ``grad_clip``, and the EMA update (no EMA warm-up when fine-tuning: its EMA
    starts meaningful).
    """
    x0 = batch.to(processes.device, non_blocking=True)
    sigma = sigma_distribution.sample(cfg.batch_size, generator=state.noise_generator)
    noise = torch.randn((cfg.batch_size, *x0.shape[1:]), generator=state.noise_generator)
    this_rank = slice(processes.rank, None, processes.world_size)
    for param_group in state.optimizer.param_groups:
        param_group["lr"] = lr_at(state.step, cfg)
    with mixed_precision(cfg, processes.device):
        loss = edm_loss(model, x0, sigma[this_rank].to(processes.device), noise[this_rank].to(processes.device),
                        cfg.sigma_data, cfg.stem_loss_weights)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = (nn.utils.clip_grad_norm_(state.denoiser.parameters(), cfg.grad_clip) if cfg.grad_clip
                 else torch.zeros(()))
    state.optimizer.step()
    ema_decay = cfg.ema_decay if cfg.init_from else ema_decay_at(state.step, cfg.ema_decay)
    ema_update(state.ema, state.denoiser.net, ema_decay)
    state.step += 1
    loss_value = loss.item()
    if not math.isfinite(loss_value):
        raise ValueError(f"loss became {loss_value} at step {state.step}; lower --lr or check the data")
    return loss_value, float(grad_norm)


# ---------------------------------------------------------------------------------------------
# Validation, samples, logs
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def validation_loss(denoiser: EDMDenoiser, batches, cfg: TrainConfig, device) -> float:
    """Mean EDM loss on fixed chunks, at 8 fixed σ quantiles of the training log-normal (without its
    ``sigma_high_fraction`` share) and fixed noise, so the number is comparable across the whole run
    and across runs that differ only in that share. Unweighted across stems (whatever
    ``stem_loss_weights`` is), so runs that weigh the stems differently compare on one scale."""
    g = torch.Generator().manual_seed(1234)
    q = torch.linspace(0.05, 0.95, 8)
    sigmas = torch.exp(cfg.sigma_mean + cfg.sigma_std * math.sqrt(2) * torch.erfinv(2 * q - 1))
    total, count = 0.0, 0
    for x0 in batches:
        for s in sigmas:
            noise = torch.randn(x0.shape, generator=g)
            with mixed_precision(cfg, device):
                loss = edm_loss(denoiser, x0.to(device), torch.full((x0.shape[0],), float(s), device=device),
                                noise.to(device), cfg.sigma_data)
            total, count = total + loss.item(), count + 1
    return total / max(count, 1)


@torch.no_grad()
def generate_sample(denoiser: EDMDenoiser, cfg: TrainConfig, device) -> torch.Tensor:
    """One chunk (stems, samples) from ``denoiser``: Heun over ``cfg.sample_steps`` Karras σ on total
    generation's grid (``GenerationConfig``: from σ_max 20 down to 1e-4, ρ = 7; from σ 1 the stems come
    out too quiet), from the fixed noise of ``cfg.seed`` (so samples are comparable across steps)."""
    from .configs import GenerationConfig
    from .samplers import heun, initial_noise, score_derivative

    g = torch.Generator().manual_seed(cfg.seed)
    sigmas = GenerationConfig(num_steps=cfg.sample_steps).sigmas()
    x = initial_noise((1, len(cfg.stems), cfg.chunk_length), sigmas, g).to(device)
    with mixed_precision(cfg, device):
        return heun(score_derivative(denoiser), x, sigmas).float().cpu()[0]


class TrainingMonitor:
    """What the run reports: a log record every ``log_every`` steps, the EMA model's validation loss
    (and audio samples) every ``val_every`` steps on rank 0, a progress bar. ``callback(step, record)``
    sees every record (live plots)."""

    def __init__(self, cfg: TrainConfig, data_dir, run_dir, processes: DistributedContext, callback=None):
        self.cfg, self.run_dir, self.device, self.callback = cfg, run_dir, processes.device, callback
        self.is_main = processes.is_main
        self.logger = Logger(run_dir, processes.is_main)
        self.validation_data = validation_batches(cfg, data_dir) if (cfg.val_every and processes.is_main) else []
        self.progress_bar = None

    def start(self, step: int, progress: bool) -> None:
        """Start the clock (and, when ``progress``, the progress bar) at ``step``."""
        self.start_step, self.start_time = step, time.time()
        if progress and self.is_main:
            from tqdm.auto import tqdm

            self.progress_bar = tqdm(total=self.cfg.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)

    def after_step(self, state: TrainingState, loss: float, grad_norm: float) -> None:
        step, cfg = state.step, self.cfg
        if step % cfg.log_every == 0 or step == cfg.steps:
            self.log_training(step, loss, grad_norm)
        if self.validation_data and (step % cfg.val_every == 0 or step == cfg.steps):
            self.validate(state)
        if self.progress_bar is not None:
            self.progress_bar.update(1)

    def log_training(self, step: int, loss: float, grad_norm: float) -> None:
        rate = (step - self.start_step) / max(time.time() - self.start_time, 1e-9)
        self.record(step, {"loss": loss, "lr": lr_at(step - 1, self.cfg), "grad_norm": grad_norm, "steps_per_s": rate})
        if self.progress_bar is not None:
            self.progress_bar.set_postfix(loss=f"{loss:.4f}", it_s=f"{rate:.2f}")

    def validate(self, state: TrainingState) -> None:
        """Validation loss of the EMA weights; audio samples (D clamped, as at inference) when ``sample_steps``."""
        cfg = self.cfg
        ema_denoiser = EDMDenoiser(state.ema, cfg.sigma_data, clamp=False)
        val = validation_loss(ema_denoiser, self.validation_data, cfg, self.device)
        self.record(state.step, {"val_loss": val})
        if cfg.sample_steps:
            audio = generate_sample(EDMDenoiser(state.ema, cfg.sigma_data, clamp=True), cfg, self.device)
            write_samples(self.run_dir, state.step, audio, cfg.stems, cfg.sample_rate)

    def record(self, step: int, record: dict) -> None:
        self.logger.log(step, **record)
        if self.callback:
            self.callback(step, record)

    def close(self) -> None:
        if self.progress_bar is not None:
            self.progress_bar.close()
        self.logger.close()


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


class StopOnSignal:
    """SIGINT/SIGTERM set ``requested``; the loop saves a checkpoint at the end of the step and stops.
    A second signal gives up at once (KeyboardInterrupt)."""

    def __init__(self):
        self.requested = False
        self._previous_handlers = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous_handlers[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside a notebook worker)
                pass
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)


def start_processes(cfg: TrainConfig, run_dir, resume: bool, device: str | None) -> DistributedContext:
    """Join the process group, check that the global batch splits evenly over it, and let rank 0
    prepare the run folder (``runs.prepare_run_dir``) while the others wait."""
    processes = setup_distributed(device)
    if cfg.batch_size % processes.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {processes.world_size} processes")
    weights = cfg.stem_loss_weights
    if weights is not None and not valid_stem_weights(weights, len(cfg.stems)):
        raise ValueError(f"stem_loss_weights {tuple(weights)}: need {len(cfg.stems)} positive weights, "
                         f"one per stem of {', '.join(cfg.stems)}")
    if processes.is_main:
        prepare_run_dir(run_dir, cfg, resume)
    processes.barrier()
    return processes


def train(cfg: TrainConfig, data_dir, run_dir, resume: bool = False, device: str | None = None,
          progress: bool = True, stop_after: int | None = None, callback=None) -> dict:
    """Train ``cfg`` on ``data_dir`` into ``run_dir``. Returns a summary dict.

    ``stop_after`` stops (with a checkpoint) after that many steps of this call — how the tests
    simulate an interruption. ``callback(step, record)`` sees every logged record (live plots).
    A checkpoint is saved every ``save_every`` steps, at the last step, and when interrupted.
    """
    processes = start_processes(cfg, run_dir, resume, device)
    state = new_training_state(cfg, processes.device)
    if cfg.init_from:
        init_weights(cfg, state.denoiser.net, state.ema)
    if resume:
        resume_training(run_dir, state, processes)
    model = parallel_model(state.denoiser, processes)
    monitor = TrainingMonitor(cfg, data_dir, run_dir, processes, callback)
    batches = iter(make_loader(cfg, data_dir, state.step, processes))
    sigma_distribution = training_sigma(cfg)
    monitor.start(state.step, progress)

    start_step, loss, last_saved = state.step, float("nan"), None
    with StopOnSignal() as stop:
        while state.step < cfg.steps:
            loss, grad_norm = training_step(model, state, next(batches), sigma_distribution, cfg, processes)
            monitor.after_step(state, loss, grad_norm)
            interrupted = stop.requested or (stop_after is not None and state.step - start_step >= stop_after)
            if processes.is_main and (state.step % cfg.save_every == 0 or state.step == cfg.steps or interrupted):
                last_saved = save_training_checkpoint(run_dir, state.step, cfg, state.denoiser, state.ema,
                                                      state.optimizer, state.noise_generator)
            if interrupted:
                break
    return finish(processes, monitor, state, loss, last_saved)


def finish(processes: DistributedContext, monitor: TrainingMonitor, state: TrainingState, loss: float,
           last_saved: Path | None) -> dict:
    """Close the logs and the process group; the run's summary."""
    monitor.close()
    processes.close()
    elapsed = time.time() - monitor.start_time
    return {"step": state.step, "loss": loss, "seconds": elapsed,
            "steps_per_s": (state.step - monitor.start_step) / max(elapsed, 1e-9),
            "checkpoint": str(last_saved) if last_saved else None}

