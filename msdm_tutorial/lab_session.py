"""The sampling lab's session, without widgets: request → plan → result → saved stems.

The lab (:mod:`msdm_tutorial.widgets`) is a view over these plain layers, so that everything but
the clicking is testable without a browser:

1. :class:`LabRequest` — a frozen dataclass of what the controls say (task, stems to keep, mixture
   source, method, sampler settings, seed, length). Its defaults are the course's recommended
   separation setting (:func:`msdm_tutorial.presets.recommended_separation`). ``config()`` builds
   the sampling configuration with the command line's own overrides (:mod:`msdm_tutorial.presets`),
   so a bad step count, churn or R is refused by the same config classes as everywhere else.
2. :func:`prepare` — checks a request and reads its audio (a toy test song, or an uploaded file,
   resampled and downmixed as ``msdm separate`` does) into a :class:`LabPlan`; bad input raises
   :class:`LabError` with a one-line message.
3. :func:`execute` — runs the plan through the same :mod:`msdm_tutorial.tasks` calls, with the same
   arguments, as the ``msdm`` command line: chunks of ``models.chunk_length``, the recommended
   chunking (seamless) and outpainting for clips longer than a chunk, the default precision, the
   generator of ``--seed``. It records the denoising trajectory (``Step.denoised`` of every σ step;
   only when the run is one sampler pass, i.e. a clip of at most one chunk) and returns a
   :class:`LabResult`; :func:`save_result` writes its stems as ``msdm`` does.
4. :func:`command_line` — the equivalent ``msdm`` command, rendered by
   :func:`msdm_tutorial.options.command_line` from the command line's own option definitions.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from . import STEMS, course, metrics, models, options, outputs, presets, separation, tasks
from .unet import round_up
from .data.datasets import list_tracks, load_track

#: Errors that come from the learner's input (shown as one line); anything else is "unexpected".
INPUT_ERRORS = (ValueError, OSError)

TASKS = ("generate", "impute", "separate")
#: Method choice → (likelihood, use ISDM single-stem models).
METHODS = {"dirac": ("dirac", False), "gaussian": ("gaussian", False),
           "isdm-dirac": ("dirac", True), "isdm-gaussian": ("gaussian", True)}
SOURCES = ("toy", "upload")
#: The longest clip the lab works on (uploads and songs are cropped to the chosen length).
MAX_SECONDS = 30.0
#: At most this many trajectory frames are kept (evenly spread over the σ steps, the last always).
MAX_FRAMES = 40
#: The lab's starting setting: the course's recommended separation setting.
RECOMMENDED = presets.recommended_separation()
#: A result louder than this has left audio's [−1, 1] range for good: the sampler diverged.
DIVERGED_PEAK = 10.0
#: Below this many Euler steps the Gaussian likelihood (γ = 0.75σ, stiff as 1/σ) tends to overshoot and diverge:
#: its recommended step count, so that the lab never warns about the setting it recommends.
GAUSSIAN_MIN_STEPS = options.RECOMMENDED_GAUSSIAN["steps"]
DIVERGED_HINTS = {"gaussian": f"the Gaussian likelihood is stiff; use at least {GAUSSIAN_MIN_STEPS} steps "
                              "(the paper: 150 × R 2) or the Dirac method",
                  "dirac": "use more steps or less churn"}


class LabError(ValueError):
    """Bad input in the lab: the message is shown to the learner as is (one line, no traceback)."""


class RunCancelled(Exception):
    """Raised inside the sampler callback when the run was cancelled (the Cancel button)."""


def first_line(err: BaseException) -> str:
    """An error as the lab shows it: the first line of its message (its type when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ----------------------------------------------------------------------------------------------
# 1. The request: what the controls say
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabRequest:
    """Everything a run depends on, read off the widgets (``SamplingLab.request()``)."""

    task: str = "separate"
    method: str = options.RECOMMENDED_SEPARATION["method"]
    keep: tuple[str, ...] = ()
    source: str = "toy"
    track: str | None = None
    upload_name: str | None = None
    upload: bytes | None = field(default=None, repr=False)
    sampler: str = RECOMMENDED.sampler
    steps: int = RECOMMENDED.num_steps
    s_churn: float = RECOMMENDED.s_churn
    sigma_max: float = RECOMMENDED.sigma_max
    sigma_min: float = RECOMMENDED.sigma_min
    num_resamples: int = RECOMMENDED.num_resamples
    seed: int = 0
    seconds: float = 3.0

    @property
    def likelihood(self) -> str:
        return METHODS[self.method][0]

    @property
    def isdm(self) -> bool:
        return self.task == "separate" and METHODS[self.method][1]

    @property
    def resamples(self) -> int | None:
        """R as ``--resamples`` takes it: Euler's correction loop; None for Heun (it has none)."""
        return self.num_resamples if self.sampler == "euler" else None

    def preset(self) -> tasks.SamplingConfig:
        """The preset of this task (and method) the command line starts from: the paper's, for imputation the
        course's recommended one (its reconstruction guidance is not a control of the lab)."""
        if self.task == "generate":
            return tasks.GenerationConfig.paper()
        if self.task == "impute":
            return tasks.ImputationConfig.recommended()
        return presets.separation_preset(self.likelihood, METHODS[self.method][1])

    def config(self) -> tasks.SamplingConfig:
        """The sampling configuration, as the command line makes it: the preset + ``--steps``,
        ``--sampler``, ``--churn``, ``--resamples``, ``--sigma-max``, ``--sigma-min``. The config classes check the values;
        a bad one raises :class:`LabError`."""
        self.check()
        try:
            cfg = presets.with_overrides(self.preset(), self.steps, self.sampler, self.s_churn, self.resamples,
                                         float(self.sigma_max), float(self.sigma_min))
        except INPUT_ERRORS as err:
            raise LabError(first_line(err)) from None
        return cfg

    def check(self) -> None:
        """Raise :class:`LabError` for choices and inputs that cannot run (the sampler settings are
        checked by :meth:`config`, through the config classes)."""
        if self.task not in TASKS:
            raise LabError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.method not in METHODS:
            raise LabError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise LabError(f"length must be between 0 and {MAX_SECONDS:g} s, got {self.seconds:g} s")
        if self.task == "impute" and not self.keep:
            raise LabError("no stems selected: tick at least one stem to keep (the others are generated)")
        if self.task in ("impute", "separate") and self.source == "toy" and not self.track:
            raise LabError("choose a toy test song (no songs were found in the data folder)")
        if self.task == "separate" and self.source not in SOURCES:
            raise LabError(f"unknown mixture source {self.source!r}")
        if self.task == "separate" and self.source == "upload" and not self.upload:
            raise LabError("no file uploaded: use the Upload button to pick a WAV or FLAC file, "
                           "or choose a toy test song")


def clip_samples(request: LabRequest, sample_rate: int) -> int:
    """Samples of the clip ``request`` asks for (at least one)."""
    return max(1, round(request.seconds * sample_rate))


def chunk_batch(length: int, chunk: int) -> int:
    """Chunks per batch: the command line's ``--batch`` default, or all chunks of the clip when there
    are more, so that the whole trajectory is one batch."""
    return max(options.CHUNK_BATCH, math.ceil(length / chunk))


def processed_length(request: LabRequest, model) -> int:
    """Samples the network actually processes for ``request``: whole chunks, or a valid length."""
    n = clip_samples(request, models.model_rate(model))
    multiple = models.chunk_length(model) if request.task != "generate" else models.length_multiple(model)
    return round_up(n, multiple)


# ----------------------------------------------------------------------------------------------
# 2. Inputs: models, toy songs and uploaded files
# ----------------------------------------------------------------------------------------------

def default_checkpoint() -> Path:
    """The shipped tiny MSDM checkpoint."""
    return course.data_small() / "checkpoints" / "msdm-tiny.pt"


def default_data_root() -> Path:
    """The shipped toy songs (their ``test`` split is the lab's song list)."""
    return course.data_small() / "toy"


def find_isdm(folder, stems: Sequence[str], preset: str = "tiny") -> dict[str, Path] | None:
    """``{stem: folder/isdm-{preset}-{stem}.pt}`` when every stem has one, else None."""
    paths = {s: Path(folder) / f"isdm-{preset}-{s}.pt" for s in stems}
    return paths if all(p.is_file() for p in paths.values()) else None


def untrained_model(stems: Sequence[str] = STEMS, sample_rate: int = 22050, seed: int = 0):
    """A randomly initialised tiny MSDM (it samples noise): a stand-in when no checkpoint exists."""
    from .denoiser import EDMDenoiser
    from .unet import build

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return EDMDenoiser(build("tiny"), 0.2, True, stems=tuple(stems), sample_rate=sample_rate).eval()


def read_upload(content: bytes, name: str, sample_rate: int) -> tuple[Tensor, list[str]]:
    """An uploaded file's bytes → a mono (T,) float32 tensor at ``sample_rate``, plus notes.

    :func:`msdm_tutorial.models.read_model_input`, as ``msdm separate`` reads a file: another sample
    rate is resampled, stereo is averaged to mono, both are noted. Bad files raise :class:`LabError`.
    """
    try:
        return models.read_model_input(bytes(content), sample_rate, name=name or "upload")
    except ValueError as err:
        raise LabError(first_line(err)) from None


def toy_tracks(data_root) -> list[str]:
    """Names of the toy test songs under ``data_root/test`` (empty when the folder is missing)."""
    try:
        return [p.name for p in list_tracks(data_root, "test")]
    except ValueError:
        return []


def read_song(data_root, track: str, stems: Sequence[str], sample_rate: int) -> Tensor:
    """A toy test song's stems (K, T) at ``sample_rate``, as ``msdm evaluate`` reads a track."""
    folder = Path(data_root) / "test" / track
    if not folder.is_dir():
        raise LabError(f"{folder}: no such song")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_track(folder, tuple(stems), sample_rate=sample_rate, resample=True)


@dataclass
class LabPlan:
    """A checked request with its inputs read, ready for :func:`execute`."""

    request: LabRequest
    config: tasks.SamplingConfig
    model: object
    stems: tuple[str, ...]
    sample_rate: int
    length: int                       # samples of the result (the clip length)
    chunk: int | None = None          # chunk length, as the command line uses
    batch: int = options.CHUNK_BATCH
    known: Tensor | None = None       # impute: (K, T), kept stems, zeros elsewhere
    mixture: Tensor | None = None     # separate: (T,)
    reference: Tensor | None = None   # (K, T) true stems when known
    notes: list[str] = field(default_factory=list)

    @property
    def chunking(self) -> str:
        """The chunking design: the recommended one (seamless), sequential outpainting for generation."""
        return "sequential" if self.request.task == "generate" else options.DEFAULT_CHUNKING

    @property
    def total_steps(self) -> int:
        """Sampler steps the callback will see (one pass per batch of chunks; seamless chunks and
        outpainting take several, see ``tasks.chunk_passes``)."""
        if self.chunk is None or self.length <= self.chunk:
            return self.config.num_steps
        if self.request.task == "generate":
            return tasks.outpainting_chunks(self.model, self.length, self.chunk, self.overlap) * self.config.num_steps
        return tasks.chunk_runs(self.length, self.chunk, self.overlap, self.chunking, 1, self.batch) * self.config.num_steps

    @property
    def overlap(self) -> int:
        """Samples shared by neighbouring chunks: the task's ``--overlap`` default, read from the command
        line's own option (the recommended eighth of a chunk for separation), else ``tasks.default_overlap``."""
        fraction = options.find_option(self.request.task, "overlap").default
        return tasks.default_overlap(self.chunk) if fraction is None else int(round(fraction * self.chunk))


def check_stems(request: LabRequest, stems: Sequence[str]) -> None:
    """The kept stems must be the model's, and not all of them."""
    unknown = [s for s in request.keep if s not in stems]
    if unknown:
        raise LabError(f"unknown stem(s) {', '.join(unknown)}; the model has {', '.join(stems)}")
    if request.task == "impute" and set(request.keep) == set(stems):
        raise LabError("every stem is kept: untick at least one stem to generate it")


def read_inputs(plan: LabPlan, data_root) -> None:
    """Fill in ``plan``'s known stems or mixture (and reference) from a toy song or the upload,
    cropped to the clip length (with a note when cropped)."""
    request, n, sr = plan.request, plan.length, plan.sample_rate
    from_song = request.task == "impute" or request.source == "toy"
    if from_song:
        name, audio = request.track, read_song(data_root, request.track, plan.stems, sr)
    else:
        name, (audio, notes) = request.upload_name, read_upload(request.upload, request.upload_name, sr)
        plan.notes += notes
    if audio.shape[-1] > n:
        plan.notes.append(f"{name}: using the first {request.seconds:g} s of {audio.shape[-1] / sr:.1f} s")
    audio = audio[..., :n]
    plan.length = audio.shape[-1]
    if not from_song:
        plan.mixture = audio
    elif request.task == "impute":
        plan.reference = audio
        plan.known = audio * torch.tensor([1.0 if s in request.keep else 0.0 for s in plan.stems])[:, None]
    else:
        plan.reference, plan.mixture = audio, audio.sum(0)


def prepare(request: LabRequest, model, data_root=None, isdm_model=None) -> LabPlan:
    """Check ``request`` and read its inputs (toy songs from ``data_root``, default the shipped
    ``data_small/toy``). Raises :class:`LabError` with a readable message."""
    data_root = Path(data_root) if data_root is not None else default_data_root()
    cfg = request.config()
    if request.isdm:
        if isdm_model is None:
            raise LabError("ISDM needs one single-stem checkpoint per stem (isdm-tiny-{stem}.pt); "
                           "none were found, so choose an MSDM method")
        model = isdm_model
    stems, sr = models.model_stems(model), models.model_rate(model)
    check_stems(request, stems)
    plan = LabPlan(request, cfg, model, stems, sr, clip_samples(request, sr), chunk=models.chunk_length(model))
    if request.task == "generate":
        return plan
    read_inputs(plan, data_root)
    if request.task == "separate":
        try:
            separation.check_not_silent(plan.mixture, request.upload_name or request.track)
        except ValueError as err:
            raise LabError(first_line(err)) from None
    plan.batch = chunk_batch(plan.length, plan.chunk)
    return plan


# ----------------------------------------------------------------------------------------------
# 3. Running: the command line's task calls, with a callback for progress and the trajectory
# ----------------------------------------------------------------------------------------------

@dataclass
class Frame:
    """The denoiser's estimate (K, T) after σ step ``step`` (``Step.denoised``) at noise level ``sigma``."""

    step: int
    sigma: float
    estimate: Tensor


@dataclass
class LabResult:
    """What a run produced: the stems (K, T), their mix, the trajectory, the scores."""

    request: LabRequest
    config: tasks.SamplingConfig
    stems: tuple[str, ...]
    sample_rate: int
    audio: Tensor                         # (K, T) final stems
    frames: list[Frame]                   # trajectory, the final result last
    mixture: Tensor | None = None         # separate: the input mixture (T,)
    reference: Tensor | None = None       # true stems (K, T) when known
    si_sdri: dict[str, float] | None = None
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def mix(self) -> Tensor:
        """The sum of the stems (what you hear as the song)."""
        return self.audio.sum(0)


def compact_frame(x: Tensor) -> Tensor:
    """A trajectory frame as stored: float16 on the CPU (clamped so a diverging run stays finite)."""
    return x.detach().float().clamp(-1e4, 1e4).to("cpu", torch.float16)


class TrajectoryRecorder:
    """The tasks' ``callback(step)``: counts steps, stops on cancel, keeps a thinned trajectory."""

    def __init__(self, plan: LabPlan, on_step: Callable[[int, int, float], None] | None = None,
                 cancel: threading.Event | None = None, max_frames: int = MAX_FRAMES):
        self.plan, self.on_step, self.cancel = plan, on_step, cancel
        n = plan.config.num_steps
        self.keep = {round(i * (n - 1) / max(max_frames - 2, 1)) for i in range(max_frames - 1)} | {n - 1}
        self.done, self.frames = 0, []

    def clip(self, x: Tensor) -> Tensor:
        """The (K, T) clip of a sampler state: chunks joined, padding cropped."""
        plan = self.plan
        if plan.request.task != "generate":
            x = tasks.join_chunks(x, 1, round_up(plan.length, plan.chunk))
        return x[0, :, :plan.length]

    def __call__(self, step) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise RunCancelled()
        self.done += 1
        if step.i in self.keep and self.plan.total_steps == self.plan.config.num_steps:
            self.frames.append(Frame(step.i, float(step.sigma), compact_frame(self.clip(step.denoised))))
        if self.on_step is not None:
            self.on_step(self.done, self.plan.total_steps, float(step.sigma))


def sample_plan(plan: LabPlan, generator: torch.Generator, callback, device) -> Tensor:
    """The task call of ``msdm generate`` / ``impute`` / ``separate`` for ``plan`` (a batch of one)."""
    req, cfg, model = plan.request, plan.config, plan.model
    precision = tasks.resolve_precision("auto", device)
    if req.task == "generate":
        length = models.generation_length(plan.length, models.length_multiple(model), plan.chunk)
        return tasks.generate(model, (1, len(plan.stems), length), config=cfg, generator=generator, callback=callback,
                              device=device, precision=precision, chunk_length=plan.chunk, overlap=plan.overlap)
    if req.task == "impute":
        keep = tuple(s for s in plan.stems if s in req.keep)
        return tasks.impute_long(model, plan.known[None].to(device), keep, cfg, chunk_length=plan.chunk,
                                 batch_size=plan.batch, generator=generator, callback=callback,
                                 chunking=plan.chunking, overlap=plan.overlap, precision=precision)
    return tasks.separate_long(model, plan.mixture.to(device)[None, None], cfg, chunk_length=plan.chunk,
                               batch_size=plan.batch, generator=generator, callback=callback,
                               chunking=plan.chunking, overlap=plan.overlap, precision=precision)


def divergence_hint(req: LabRequest) -> str:
    """What to change when the sampler diverged."""
    return DIVERGED_HINTS.get(req.likelihood if req.task == "separate" else "", "use more steps")


def separation_scores(plan: LabPlan, audio: Tensor) -> dict[str, float]:
    """SI-SDRi per stem against the reference (NaN for a silent reference stem)."""
    scores = metrics.si_sdr_improvement(audio, plan.reference, plan.mixture[None])
    silent = metrics.is_silent(plan.reference)
    return {s: (float("nan") if bool(silent[k]) else float(scores[k])) for k, s in enumerate(plan.stems)}


def execute(plan: LabPlan, device="cpu", on_step=None, cancel: threading.Event | None = None,
            max_frames: int = MAX_FRAMES) -> LabResult:
    """Run ``plan`` with the command line's task calls (``msdm generate`` / ``impute`` / ``separate``).

    ``on_step(done, total, sigma)`` is called after every σ step; setting ``cancel`` stops the run
    at the next step (:class:`RunCancelled`). A run that diverges (NaN/Inf) raises :class:`LabError`.
    """
    req, cfg = plan.request, plan.config
    recorder = TrajectoryRecorder(plan, on_step, cancel, max_frames)
    t0 = time.perf_counter()
    try:
        x = sample_plan(plan, models.seeded_generator(device, req.seed), recorder, device)
    except ValueError as err:
        if "NaN" not in str(err):
            raise
        raise LabError(f"the sampler diverged ({first_line(err)}) with {presets.settings_text(cfg)}: "
                       f"{divergence_hint(req)}") from None
    models.synchronize(device)
    elapsed = time.perf_counter() - t0
    audio = x[0, :, :plan.length].detach().float().cpu()
    if not torch.isfinite(audio).all():
        raise LabError(f"the sampler diverged (NaN/Inf in the result) with {presets.settings_text(cfg)}: "
                       f"{divergence_hint(req)}")
    notes = list(plan.notes)
    peak = float(audio.abs().max())
    if peak > DIVERGED_PEAK:
        notes.append(f"the result peaks at {peak:.3g} (audio lives in [−1, 1]): the sampler diverged; "
                     f"{divergence_hint(req)}")
    frames = recorder.frames
    if frames and frames[-1].step == cfg.num_steps - 1:
        frames.pop()
    frames.append(Frame(cfg.num_steps - 1, 0.0, compact_frame(audio)))    # the final sample itself
    result = LabResult(req, cfg, plan.stems, plan.sample_rate, audio, frames, plan.mixture, plan.reference,
                       elapsed=elapsed, notes=notes)
    if req.task == "separate" and plan.reference is not None:
        result.si_sdri = separation_scores(plan, audio)
    return result


def save_result(result: LabResult, folder) -> list[Path]:
    """Write the stems and ``mix.wav`` into a new sub-folder of ``folder`` (as the command line does)."""
    req = result.request
    name = f"{req.task}-{req.method if req.task == 'separate' else 'msdm'}-{req.sampler}{req.steps}-seed{req.seed}"
    try:
        folder = outputs.check_output_folder(Path(folder).expanduser())
        return outputs.write_stem_folder(folder / name, outputs.stem_files(result.stems, result.audio),
                                         result.sample_rate)
    except INPUT_ERRORS as err:
        raise LabError(first_line(err)) from None


# ----------------------------------------------------------------------------------------------
# 4. The equivalent command line
# ----------------------------------------------------------------------------------------------

def command_path(path) -> str:
    """``path`` as the command line would take it: relative to the repository root when inside it
    (where ``msdm`` commands are run from), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(course.repo_root()))
    except (ValueError, OSError):
        return str(path)


def track_path(request: LabRequest, data_root=None) -> str:
    """The toy song's folder as the command line takes it (``TRACK`` when none is chosen)."""
    return str(Path(data_root) / request.track) if data_root and request.track else (request.track or "TRACK")


def command_settings(request: LabRequest, checkpoint: str = "CHECKPOINT", isdm: dict | None = None,
                     device: str | None = None, batch: int | None = None, data_root=None) -> dict:
    """``{option name: value}`` of the ``msdm`` command that makes the same task call as ``request``
    (for :func:`msdm_tutorial.options.command_line`; None leaves an option at its default)."""
    settings = {}
    if request.isdm:
        settings["isdm"] = ",".join(f"{s}={p}" for s, p in (isdm or {}).items()) or "STEM=CHECKPOINT,…"
    else:
        settings["checkpoint"] = str(checkpoint)
    if request.task == "impute":
        settings["track"] = track_path(request, data_root)
        settings["keep"] = request.keep
    if request.task == "separate":
        settings["mixture"] = request.upload_name if request.source == "upload" and request.upload_name else "mix.wav"
        settings["method"] = request.likelihood
    settings["out"] = "OUT"
    if request.task != "separate":          # msdm separate reads the whole file: the lab crops it first
        settings["seconds"] = float(request.seconds)
    settings.update(steps=request.steps, sampler=request.sampler, churn=float(request.s_churn),
                    sigma_max=float(request.sigma_max), sigma_min=float(request.sigma_min), resamples=request.resamples,
                    seed=request.seed)
    if batch is not None and request.task != "generate" and batch != options.CHUNK_BATCH:
        settings["batch"] = batch
    settings["device"] = device
    return settings


def command_notes(request: LabRequest, data_root=None) -> list[str]:
    """What the command line alone cannot say: where ``mix.wav`` comes from."""
    notes = []
    if request.task == "separate" and request.source == "toy":
        track = track_path(request, data_root)
        notes.append(f"mix.wav = the first {request.seconds:g} s of the sum of {track}'s stems")
    elif request.task == "separate":
        notes.append(f"on the first {request.seconds:g} s of the file")
    return notes


def command_line(request: LabRequest, checkpoint: str = "CHECKPOINT", isdm: dict | None = None,
                 device: str | None = None, batch: int | None = None, data_root=None) -> str:
    """The ``msdm`` command line that runs the same task call as ``request`` (notes after ``#``)."""
    cmd = options.command_line(request.task, command_settings(request, checkpoint, isdm, device, batch, data_root))
    notes = command_notes(request, data_root)
    return cmd + ("   # " + "; ".join(notes) if notes else "")


__all__ = ["LabRequest", "LabPlan", "LabResult", "LabError", "RunCancelled", "Frame", "TrajectoryRecorder",
           "prepare", "execute", "save_result", "command_line", "command_settings", "read_upload", "toy_tracks",
           "read_song", "default_checkpoint", "find_isdm", "untrained_model", "TASKS", "METHODS", "SOURCES",
           "MAX_SECONDS", "MAX_FRAMES", "DIVERGED_PEAK", "GAUSSIAN_MIN_STEPS", "RECOMMENDED"]
