"""The sampling lab: an ipywidgets interface to generation, imputation and separation.

The lab is three plain layers, so that everything but the clicking is testable without a browser:

1. :class:`LabRequest` — a frozen dataclass of what the controls say (task, stems to keep, mixture
   source, method, sampler settings, seed, length). ``SamplingLab.request()`` reads it off the widgets.
2. :func:`prepare` — checks a request and reads its audio (a toy test song, or an uploaded file,
   resampled and downmixed as ``msdm separate`` does) into a :class:`LabPlan`; bad input raises
   :class:`LabError` with a one-line message.
3. :func:`execute` — runs the plan through the same :mod:`msdm_tutorial.tasks` calls, with the same
   arguments, as the ``msdm`` command line (:mod:`msdm_tutorial.cli`): the paper preset with
   the overrides of ``presets.with_overrides`` / ``presets.separation_settings``, chunks of
   ``models.chunk_length``, the command line's seamless chunks (``--chunking seamless``) and
   outpainting for clips longer than a chunk, its default precision, the generator of ``--seed``.
   It records the denoising trajectory (``Step.denoised`` of every σ step; only when the run is one
   sampler pass, i.e. a clip of at most one chunk) and returns a :class:`LabResult`.

:class:`SamplingLab` puts widgets around them: the run happens in a background thread with a
progress bar and a Cancel button (the sampler callback checks a flag and stops the loop), results
show as a waveform + spectrogram figure, one audio player per stem and for the mix, a trajectory
slider over the σ steps, SI-SDRi against the reference when there is one, and a Save-as-WAV button.
Errors never show a traceback: they become a readable line in the lab's message area.
"""

from __future__ import annotations

import html
import math
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from . import STEMS, course, metrics, models, outputs, plotting, presets, tasks

#: Errors that come from the learner's input (shown as one line); anything else is "unexpected".
_INPUT_ERRORS = (ValueError, OSError)

TASKS = ("generate", "impute", "separate")
#: Method choice → (likelihood, use ISDM single-stem models).
METHODS = {"dirac": ("dirac", False), "gaussian": ("gaussian", False),
           "isdm-dirac": ("dirac", True), "isdm-gaussian": ("gaussian", True)}
METHOD_LABELS = {"dirac": "MSDM · Dirac", "gaussian": "MSDM · Gaussian",
                 "isdm-dirac": "ISDM · Dirac", "isdm-gaussian": "ISDM · Gaussian"}
SOURCES = ("toy", "upload")
#: The longest clip the lab works on (uploads and songs are cropped to the chosen length).
MAX_SECONDS = 30.0
#: At most this many trajectory frames are kept (evenly spread over the σ steps, the last always).
MAX_FRAMES = 40
#: Default sampler steps on a CPU: quick to hear; the paper's presets are one click away.
CPU_STEPS = 24
#: A result louder than this has left audio's [−1, 1] range for good: the sampler diverged.
DIVERGED_PEAK = 10.0
#: Below this many Euler steps the Gaussian likelihood (γ = 0.75σ, stiff as 1/σ) tends to overshoot and diverge.
GAUSSIAN_MIN_STEPS = 50
_DIVERGED_HINT = {"gaussian": f"the Gaussian likelihood is stiff; use at least {GAUSSIAN_MIN_STEPS} steps "
                              "(the paper: 150 × R 2) or the Dirac method",
                  "dirac": "use more steps or less churn"}


class LabError(ValueError):
    """Bad input in the lab: the message is shown to the learner as is (one line, no traceback)."""


class _Cancelled(Exception):
    """Raised inside the sampler callback when the Cancel button was pressed."""


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ----------------------------------------------------------------------------------------------
# 1. The request: what the controls say
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabRequest:
    """Everything a run depends on, read off the widgets (``SamplingLab.request()``)."""

    task: str = "separate"
    method: str = "dirac"
    keep: tuple[str, ...] = ()
    source: str = "toy"
    track: str | None = None
    upload_name: str | None = None
    upload: bytes | None = field(default=None, repr=False)
    sampler: str = "euler"
    steps: int = CPU_STEPS
    s_churn: float = 20.0
    sigma_max: float = 1.0
    num_resamples: int = 1
    seed: int = 0
    seconds: float = 3.0

    @property
    def likelihood(self) -> str:
        return METHODS[self.method][0]

    @property
    def isdm(self) -> bool:
        return self.task == "separate" and METHODS[self.method][1]

    def preset(self) -> tasks.SamplingConfig:
        """The paper preset of this task (and method), as the command line starts from."""
        if self.task == "generate":
            return tasks.GenerationConfig.paper()
        if self.task == "impute":
            return tasks.ImputationConfig.paper()
        return presets.separation_preset(self.likelihood, METHODS[self.method][1])

    def config(self) -> tasks.SamplingConfig:
        """The sampling configuration: the command line's (preset + ``--steps``, ``--sampler``,
        ``--churn``), then the lab's two extra knobs σ_max and R when they differ from the preset."""
        self.check()
        try:
            if self.task == "separate":
                cfg = presets.separation_settings(self.likelihood, self.isdm, self.steps, self.sampler, self.s_churn)
            else:
                cfg = presets.with_overrides(self.preset(), self.steps, self.sampler, self.s_churn)
            if not math.isclose(self.sigma_max, cfg.sigma_max, rel_tol=1e-6):
                cfg = cfg.replace(sigma_max=float(self.sigma_max))
            if cfg.sampler == "euler" and self.num_resamples != cfg.num_resamples:
                cfg = cfg.replace(num_resamples=int(self.num_resamples))
        except _INPUT_ERRORS as err:
            raise LabError(_one_line(err)) from None
        return cfg

    def check(self) -> None:
        """Raise :class:`LabError` for settings that cannot run."""
        if self.task not in TASKS:
            raise LabError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.method not in METHODS:
            raise LabError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.sampler not in ("euler", "heun"):
            raise LabError(f"unknown sampler {self.sampler!r}; choose euler or heun")
        if self.steps < 1:
            raise LabError(f"steps must be at least 1, got {self.steps}")
        if self.s_churn < 0:
            raise LabError(f"S_churn must be ≥ 0, got {self.s_churn}")
        if not self.sigma_max > 0:
            raise LabError(f"σ_max must be > 0, got {self.sigma_max}")
        if self.num_resamples < 1:
            raise LabError(f"R (resamples) must be at least 1, got {self.num_resamples}")
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

    def command(self, checkpoint: str = "CHECKPOINT", isdm: dict | None = None, device: str | None = None,
                batch: int | None = None, data_root=None) -> str:
        """The ``msdm`` command line that runs the same task calls (lab-only knobs noted after #)."""
        parts = ["msdm", self.task]
        if self.isdm:
            spec = ",".join(f"{s}={p}" for s, p in (isdm or {}).items()) or "STEM=CHECKPOINT,…"
            parts += ["--isdm", spec]
        else:
            parts += ["--checkpoint", str(checkpoint)]
        track = str(Path(data_root) / self.track) if (data_root and self.track) else (self.track or "TRACK")
        if self.task == "impute":
            parts += ["--track", track, "--keep", ",".join(self.keep)]
        if self.task == "separate":
            parts.append(self.upload_name if self.source == "upload" and self.upload_name else "mix.wav")
            parts += ["--method", self.likelihood]
        parts += ["--out", "OUT"]
        if self.task != "separate":          # msdm separate reads the whole file: the lab crops it first
            parts += ["--seconds", f"{self.seconds:g}"]
        parts += ["--steps", str(self.steps), "--sampler", self.sampler, "--churn", f"{self.s_churn:g}",
                  "--seed", str(self.seed)]
        if batch is not None and self.task != "generate" and batch != 8:
            parts += ["--batch", str(batch)]
        if device:
            parts += ["--device", str(device)]
        notes = []
        if self.task == "separate" and self.source == "toy":
            notes.append(f"mix.wav = the first {self.seconds:g} s of the sum of {track}'s stems")
        elif self.task == "separate":
            notes.append(f"on the first {self.seconds:g} s of the file")
        try:
            cfg, preset = self.config(), self.preset()
        except LabError:
            cfg = preset = None
        if cfg is not None:
            if not math.isclose(cfg.sigma_max, preset.sigma_max, rel_tol=1e-6):
                notes.append(f"σ_max {cfg.sigma_max:g} (preset {preset.sigma_max:g}) is a lab-only knob")
            if cfg.sampler == "euler" and cfg.num_resamples != preset.num_resamples:
                notes.append(f"R {cfg.num_resamples} (preset {preset.num_resamples}) is a lab-only knob")
        cmd = " ".join(parts)
        return cmd + ("   # " + "; ".join(notes) if notes else "")


# ----------------------------------------------------------------------------------------------
# 2. Inputs: toy songs and uploaded files
# ----------------------------------------------------------------------------------------------

def read_upload(content: bytes, name: str, sample_rate: int) -> tuple[Tensor, list[str]]:
    """An uploaded file's bytes → a mono (T,) float32 tensor at ``sample_rate``, plus notes.

    :func:`msdm_tutorial.models.read_model_input`, as ``msdm separate`` reads a file: another sample
    rate is resampled, stereo is averaged to mono, both are noted. Bad files raise :class:`LabError`.
    """
    try:
        return models.read_model_input(bytes(content), sample_rate, name=name or "upload")
    except ValueError as err:
        raise LabError(_one_line(err)) from None


def toy_tracks(data_root) -> list[str]:
    """Names of the toy test songs under ``data_root/test`` (empty when the folder is missing)."""
    from .data.datasets import list_tracks

    try:
        return [p.name for p in list_tracks(data_root, "test")]
    except ValueError:
        return []


def read_song(data_root, track: str, stems: Sequence[str], sample_rate: int) -> Tensor:
    """A toy test song's stems (K, T) at ``sample_rate``, as ``msdm evaluate`` reads a track."""
    from .data.datasets import load_track

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
    chunk: int | None = None          # chunk length (impute / separate), as the command line uses
    batch: int = 8
    known: Tensor | None = None       # impute: (K, T), kept stems, zeros elsewhere
    mixture: Tensor | None = None     # separate: (T,)
    reference: Tensor | None = None   # (K, T) true stems when known
    notes: list[str] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        """Sampler steps the callback will see (one pass per batch of chunks; seamless chunks and
        outpainting take several, see ``tasks.chunk_passes``)."""
        if self.request.task == "generate":
            if self.length <= self.chunk:
                return self.config.num_steps
            return tasks.chunk_runs(self.length, self.chunk, self.overlap, "sequential", 1, 1) * self.config.num_steps
        return tasks.chunk_runs(self.length, self.chunk, self.overlap, "seamless", 1, self.batch) * self.config.num_steps

    @property
    def overlap(self) -> int:
        """Samples shared by neighbouring chunks (``--overlap`` default of the command line)."""
        return tasks.default_overlap(self.chunk)


def prepare(request: LabRequest, model, data_root=None, isdm_model=None) -> LabPlan:
    """Check ``request`` and read its inputs (toy songs from ``data_root``, default the shipped
    ``data_small/toy``). Raises :class:`LabError` with a readable message."""
    data_root = Path(data_root) if data_root is not None else course.data_small() / "toy"
    request.check()
    cfg = request.config()
    if request.isdm:
        if isdm_model is None:
            raise LabError("ISDM needs one single-stem checkpoint per stem (isdm-tiny-{stem}.pt); "
                           "none were found, so choose an MSDM method")
        model = isdm_model
    stems, sr = models.model_stems(model), models.model_rate(model)
    unknown = [s for s in request.keep if s not in stems]
    if unknown:
        raise LabError(f"unknown stem(s) {', '.join(unknown)}; the model has {', '.join(stems)}")
    if request.task == "impute" and set(request.keep) == set(stems):
        raise LabError("every stem is kept: untick at least one stem to generate it")
    n = max(1, round(request.seconds * sr))
    plan = LabPlan(request, cfg, model, stems, sr, n)
    plan.chunk = models.chunk_length(model)
    if request.task == "generate":
        return plan
    if request.task == "impute" or request.source == "toy":
        ref = read_song(data_root, request.track, stems, sr)
        if ref.shape[-1] > n:
            plan.notes.append(f"{request.track}: using the first {request.seconds:g} s of {ref.shape[-1] / sr:.1f} s")
        ref = ref[:, :n]
        plan.reference = ref
        if request.task == "impute":
            mask = torch.tensor([1.0 if s in request.keep else 0.0 for s in stems])[:, None]
            plan.known = ref * mask
        else:
            plan.mixture = ref.sum(0)
    else:
        y, notes = read_upload(request.upload, request.upload_name, sr)
        plan.notes += notes
        if y.shape[-1] > n:
            plan.notes.append(f"{request.upload_name}: using the first {request.seconds:g} s of {y.shape[-1] / sr:.1f} s")
        plan.mixture = y[:n]
    signal = plan.known if plan.known is not None else plan.mixture
    plan.length = signal.shape[-1]
    if request.task == "separate" and float(plan.mixture.abs().max()) < tasks.SILENT_PEAK:
        raise LabError(f"{request.upload_name or request.track}: the mixture is silent; there is nothing to separate")
    plan.batch = max(8, math.ceil(plan.length / plan.chunk))    # one batch: the whole trajectory at once
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


class _Recorder:
    """The tasks' ``callback(step)``: counts steps, stops on cancel, keeps a thinned trajectory."""

    def __init__(self, plan: LabPlan, on_step: Callable[[int, int, float], None] | None = None,
                 cancel: threading.Event | None = None, max_frames: int = MAX_FRAMES):
        self.plan, self.on_step, self.cancel = plan, on_step, cancel
        n = plan.config.num_steps
        self.keep = {round(i * (n - 1) / max(max_frames - 2, 1)) for i in range(max_frames - 1)} | {n - 1}
        self.done, self.frames = 0, []

    def _stitch(self, x: Tensor) -> Tensor:
        plan = self.plan
        if plan.request.task != "generate":
            x = tasks.join_chunks(x, 1, math.ceil(plan.length / plan.chunk) * plan.chunk)
        return x[0, :, :plan.length]

    def __call__(self, step) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise _Cancelled()
        self.done += 1
        if step.i in self.keep and self.plan.total_steps == self.plan.config.num_steps:
            self.frames.append(Frame(step.i, float(step.sigma), _half(self._stitch(step.denoised))))
        if self.on_step is not None:
            self.on_step(self.done, self.plan.total_steps, float(step.sigma))


def _half(x: Tensor) -> Tensor:
    """A trajectory frame as stored: float16 on the CPU (clamped so a diverging run stays finite)."""
    return x.detach().float().clamp(-1e4, 1e4).to("cpu", torch.float16)


def _generator(device, seed: int) -> torch.Generator:
    return models.seeded_generator(device, seed)


def _call_task(plan: LabPlan, gen: torch.Generator, callback, device) -> Tensor:
    """The task call of ``msdm generate`` / ``impute`` / ``separate`` (see msdm_tutorial.cli)."""
    req, cfg, model = plan.request, plan.config, plan.model
    precision = tasks.resolve_precision("auto", device)
    if req.task == "generate":
        length = models.generation_length(plan.length, models.length_multiple(model), plan.chunk)
        return tasks.generate(model, (1, len(plan.stems), length), config=cfg, generator=gen, callback=callback,
                              device=device, precision=precision, chunk_length=plan.chunk, overlap=plan.overlap)
    if req.task == "impute":
        keep = tuple(s for s in plan.stems if s in req.keep)
        return tasks.impute_long(model, plan.known[None].to(device), keep, cfg, chunk_length=plan.chunk,
                                 batch_size=plan.batch, generator=gen, callback=callback, chunking="seamless",
                                 overlap=plan.overlap, precision=precision)
    return tasks.separate_long(model, plan.mixture.to(device)[None, None], cfg, chunk_length=plan.chunk,
                               batch_size=plan.batch, generator=gen, callback=callback, chunking="seamless",
                               overlap=plan.overlap, precision=precision)


def _diverged_hint(req: LabRequest) -> str:
    return _DIVERGED_HINT.get(req.likelihood if req.task == "separate" else "", "use more steps")


def execute(plan: LabPlan, device="cpu", on_step=None, cancel: threading.Event | None = None,
            max_frames: int = MAX_FRAMES) -> LabResult:
    """Run ``plan`` with the command line's task calls (``msdm generate`` / ``impute`` / ``separate``).

    ``on_step(done, total, sigma)`` is called after every σ step; setting ``cancel`` stops the run
    at the next step (``_Cancelled``). A run that diverges (NaN/Inf) raises :class:`LabError`.
    """
    req, cfg = plan.request, plan.config
    rec = _Recorder(plan, on_step, cancel, max_frames)
    t0 = time.perf_counter()
    try:
        x = _call_task(plan, _generator(device, req.seed), rec, device)
    except ValueError as err:
        if "NaN" not in str(err):
            raise
        raise LabError(f"the sampler diverged ({_one_line(err)}) with {presets.settings_text(cfg)}: "
                       f"{_diverged_hint(req)}") from None
    models.synchronize(device)
    elapsed = time.perf_counter() - t0
    audio = x[0, :, :plan.length].detach().float().cpu()
    if not torch.isfinite(audio).all():
        raise LabError(f"the sampler diverged (NaN/Inf in the result) with {presets.settings_text(cfg)}: "
                       f"{_diverged_hint(req)}")
    notes = list(plan.notes)
    peak = float(audio.abs().max())
    if peak > DIVERGED_PEAK:
        notes.append(f"the result peaks at {peak:.3g} (audio lives in [−1, 1]): the sampler diverged; "
                     f"{_diverged_hint(req)}")
    frames = rec.frames
    if frames and frames[-1].step == cfg.num_steps - 1:
        frames[-1] = Frame(cfg.num_steps - 1, 0.0, _half(audio))   # the final sample itself
    else:
        frames.append(Frame(cfg.num_steps - 1, 0.0, _half(audio)))
    result = LabResult(req, cfg, plan.stems, plan.sample_rate, audio, frames, plan.mixture, plan.reference,
                       elapsed=elapsed, notes=notes)
    if req.task == "separate" and plan.reference is not None:
        scores = metrics.si_sdr_improvement(audio, plan.reference, plan.mixture[None])
        silent = metrics.is_silent(plan.reference)
        result.si_sdri = {s: (float("nan") if bool(silent[k]) else float(scores[k])) for k, s in enumerate(plan.stems)}
    return result


def save_result(result: LabResult, folder) -> list[Path]:
    """Write the stems and ``mix.wav`` into a new sub-folder of ``folder`` (as the command line does)."""
    req = result.request
    name = f"{req.task}-{req.method if req.task == 'separate' else 'msdm'}-{req.sampler}{req.steps}-seed{req.seed}"
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise LabError(f"{folder}: exists and is not a folder")
    try:
        return outputs.write_stem_folder(folder / name, outputs.stem_files(result.stems, result.audio), result.sample_rate)
    except _INPUT_ERRORS as err:
        raise LabError(_one_line(err)) from None


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

def default_checkpoint() -> Path:
    """The shipped tiny MSDM checkpoint."""
    return course.data_small() / "checkpoints" / "msdm-tiny.pt"


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


# ----------------------------------------------------------------------------------------------
# The widgets
# ----------------------------------------------------------------------------------------------

_CSS = """<style>
.msdm-lab .msdm-lab-head {font-size: 15px}
.msdm-lab code {font-size: 12px}
.msdm-lab-msg-error {color: #b00020}
.msdm-lab-msg-note {color: #6b5b00}
.msdm-lab-msg-ok {color: #1b6e3a}
</style>"""


def _show_path(path) -> str:
    """``path`` as the command line would take it: relative to the repository root when inside it
    (where ``msdm`` commands are run from), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(course.repo_root()))
    except (ValueError, OSError):
        return str(path)


def _esc(text) -> str:
    return html.escape(str(text), quote=False)


class SamplingLab:
    """The sampling lab. Display it (leave it last in a cell), then press **Sample**.

    ``model``: a denoiser (``checkpoints.load``); default: load ``checkpoint`` (default the shipped
    tiny model). ``isdm``: ``{stem: checkpoint}`` for the ISDM methods (default: ``isdm-tiny-{stem}.pt``
    next to the checkpoint, when all exist). ``data_root``: the toy songs (``…/toy``, its ``test`` split).
    ``steps`` / ``seconds``: the starting values of those controls (default: 24 steps on a CPU, the
    paper's on a GPU; 3 s). The controls stay the source of truth: ``request()`` reads them.
    """

    def __init__(self, model=None, *, checkpoint=None, isdm=None, data_root=None, device=None,
                 task: str = "separate", steps: int | None = None, seconds: float = 3.0,
                 out_dir="outputs/lab", max_frames: int = MAX_FRAMES):
        import ipywidgets as W

        self.device = torch.device(device) if device is not None else models.pick_device()
        self.data_root = Path(data_root) if data_root is not None else course.data_small() / "toy"
        if model is None:
            checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
            try:
                model = models.load_model(checkpoint, self.device)
            except _INPUT_ERRORS as err:
                raise LabError(_one_line(err)) from None
        self.model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.checkpoint = str(checkpoint) if checkpoint is not None else "CHECKPOINT"
        self.stems, self.sample_rate = models.model_stems(self.model), models.model_rate(self.model)
        self.isdm_paths, self.isdm_model, isdm_note = self._load_isdm(isdm, checkpoint)
        self.max_frames = max_frames
        self.result: LabResult | None = None
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._png_cache: dict[int, bytes] = {}
        self._scale: tuple[float, float] | None = None
        self._seconds_per_nfe_sample: float | None = None    # measured speed, for the time estimate
        plotting.use_style()
        self._paper_steps = self.device.type == "cuda"
        paper_start = self._paper_steps and steps is None
        if steps is None:
            steps = LabRequest(task=task).preset().num_steps if self._paper_steps else CPU_STEPS

        songs = toy_tracks(self.data_root)
        style = {"description_width": "110px"}
        wide = W.Layout(width="420px")

        # -- controls --
        self.task = W.ToggleButtons(options=[("Generate", "generate"), ("Impute", "impute"), ("Separate", "separate")],
                                    value=task, description="Task", style=style,
                                    tooltips=["all stems from noise", "keep some stems, generate the rest",
                                              "split a mixture into stems"])
        self.keep = {s: W.Checkbox(value=(i < 2), description=s, indent=False, layout=W.Layout(width="90px"))
                     for i, s in enumerate(self.stems)}
        for cb in self.keep.values():
            cb.add_class("msdm-lab-keep")
        self.keep_box = W.HBox([W.Label("Keep", layout=W.Layout(width="114px")), *self.keep.values()])
        self.source = W.RadioButtons(options=[("a toy test song", "toy"), ("an uploaded WAV/FLAC", "upload")],
                                     value="toy", description="Mixture", style=style)
        self.song = W.Dropdown(options=songs or [("(no songs found)", None)], value=songs[0] if songs else None,
                               description="Song", style=style, layout=wide)
        self.upload = W.FileUpload(accept=".wav,.flac,audio/*", multiple=False, description="Upload")
        self.upload_label = W.HTML("<span style='color:#555'>WAV or FLAC, any sample rate; stereo is "
                                   "averaged to mono</span>")
        self.upload_box = W.HBox([W.Label("File", layout=W.Layout(width="114px")), self.upload, self.upload_label])
        methods = [(METHOD_LABELS[m], m) for m in METHODS if not METHODS[m][1] or self.isdm_model is not None]
        self.method = W.Dropdown(options=methods, value="dirac", description="Method", style=style, layout=wide)
        self.method_note = W.HTML(isdm_note)
        self.sampler = W.ToggleButtons(options=[("Euler", "euler"), ("Heun", "heun")], value="euler",
                                       description="Sampler", style=style)
        self.steps = W.IntSlider(value=int(steps), min=1, max=300, description="Steps N", style=style,
                                 layout=wide, continuous_update=False)
        self.steps.add_class("msdm-lab-steps")
        self.churn = W.FloatSlider(value=20.0, min=0.0, max=80.0, step=1.0, description="S_churn", style=style,
                                   layout=wide, continuous_update=False)
        self.sigma_max = W.FloatLogSlider(value=1.0, base=10, min=-1, max=2, step=0.05, description="σ_max",
                                          style=style, layout=wide, readout_format=".3g", continuous_update=False)
        self.resamples = W.IntSlider(value=1, min=1, max=4, description="R resamples", style=style, layout=wide,
                                     continuous_update=False)
        self.seed = W.BoundedIntText(value=0, min=0, max=2 ** 31 - 1, description="Seed", style=style,
                                     layout=W.Layout(width="220px"))
        self.seconds = W.FloatSlider(value=float(seconds), min=0.5, max=12.0, step=0.5, description="Length (s)",
                                     style=style, layout=wide, continuous_update=False)
        self.seconds.add_class("msdm-lab-seconds")
        self.paper_button = W.Button(description="Paper settings", icon="book",
                                     tooltip="the paper's steps, S_churn, σ_max and R for this task")
        self.info = W.HTML()

        # -- run --
        self.sample_button = W.Button(description="Sample", button_style="success", icon="play")
        self.sample_button.add_class("msdm-lab-sample")
        self.cancel_button = W.Button(description="Cancel", button_style="warning", icon="stop", disabled=True)
        self.cancel_button.add_class("msdm-lab-cancel")
        self.progress = W.IntProgress(value=0, min=0, max=1, bar_style="info", layout=W.Layout(width="300px"))
        self.status = W.HTML()
        self.status.add_class("msdm-lab-status")
        self.messages = W.HTML()
        self.messages.add_class("msdm-lab-messages")
        self.command = W.HTML()

        # -- results --
        self.figure = W.Image(format="png", layout=W.Layout(max_width="900px"))
        self.figure.add_class("msdm-lab-figure")
        self.trajectory = W.IntSlider(value=0, min=0, max=0, description="Trajectory", style=style,
                                      layout=W.Layout(width="600px"), continuous_update=False, disabled=True,
                                      readout=False)
        self.trajectory.add_class("msdm-lab-trajectory")
        self.trajectory_label = W.HTML()
        self.scores = W.HTML()
        self.scores.add_class("msdm-lab-scores")
        self.players = W.VBox()
        self.players.add_class("msdm-lab-players")
        self.save_folder = W.Text(value=str(out_dir), description="Save to", style=style, layout=wide)
        self.save_button = W.Button(description="Save as WAV", icon="save", disabled=True)
        self.save_button.add_class("msdm-lab-save")
        self.save_message = W.HTML()

        # -- layout --
        head = W.HTML(f"{_CSS}<div class='msdm-lab-head'><b>MSDM sampling lab</b> · "
                      f"{_esc(Path(self.checkpoint).name)} · stems {_esc(', '.join(self.stems))} · "
                      f"{self.sample_rate} Hz · {_esc(self.device)}</div>")
        self.input_box = W.VBox([self.keep_box, self.source, self.song, self.upload_box, self.method, self.method_note])
        controls = W.VBox([self.task, self.input_box, self.sampler, self.steps, self.churn, self.sigma_max,
                           self.resamples, W.HBox([self.seed, self.paper_button]), self.seconds, self.info])
        run = W.VBox([W.HBox([self.sample_button, self.cancel_button, self.progress, self.status]),
                      self.messages, self.command])
        results = W.VBox([self.scores, self.players, self.figure, W.HBox([self.trajectory, self.trajectory_label]),
                          W.HBox([self.save_folder, self.save_button]), self.save_message])
        self.widget = W.VBox([head, controls, run, results])
        self.widget.add_class("msdm-lab")

        # -- behaviour --
        self.task.observe(self._on_task, "value")
        self.method.observe(self._on_task, "value")
        self.source.observe(self._refresh, "value")
        self.sampler.observe(self._refresh, "value")
        self.upload.observe(self._on_upload, "value")
        for w in (self.steps, self.churn, self.sigma_max, self.resamples, self.seed, self.seconds, self.song,
                  *self.keep.values()):
            w.observe(self._refresh, "value")
        self.paper_button.on_click(lambda _: self.apply_preset(paper_steps=True))
        self.sample_button.on_click(lambda _: self.sample())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.trajectory.observe(self._on_trajectory, "value")
        self.save_button.on_click(lambda _: self.save())
        self.apply_preset(paper_steps=paper_start)

    # -- display ------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _load_isdm(self, isdm, checkpoint):
        from .tasks import ISDMDenoiser

        if isinstance(isdm, ISDMDenoiser):
            return None, isdm.to(self.device), ""
        paths = isdm
        if paths is None and checkpoint is not None:
            paths = find_isdm(Path(checkpoint).parent, self.stems)
        if not paths:
            where = _show_path(Path(checkpoint).parent) if checkpoint is not None else "the checkpoint folder"
            return None, None, (f"<span class='msdm-lab-msg-note'>ISDM is disabled: it needs one single-stem "
                                f"model per stem ({_esc(where)}/isdm-tiny-{{{_esc(','.join(self.stems))}}}.pt), "
                                f"which are not there.</span>")
        try:
            model = models.load_isdm(",".join(f"{s}={p}" for s, p in paths.items()), self.device, self.stems)
        except _INPUT_ERRORS as err:
            return None, None, f"<span class='msdm-lab-msg-error'>ISDM is disabled: {_esc(_one_line(err))}</span>"
        return {s: str(p) for s, p in paths.items()}, model.eval(), ""

    # -- reading the controls -----------------------------------------------------------------
    def request(self) -> LabRequest:
        """The controls' state as a :class:`LabRequest`."""
        upload = self.upload.value[0] if self.upload.value else None
        return LabRequest(
            task=self.task.value, method=self.method.value,
            keep=tuple(s for s, cb in self.keep.items() if cb.value),
            source=self.source.value, track=self.song.value,
            upload_name=upload["name"] if upload else None,
            upload=bytes(upload["content"]) if upload else None,
            sampler=self.sampler.value, steps=int(self.steps.value), s_churn=float(self.churn.value),
            sigma_max=float(self.sigma_max.value), num_resamples=int(self.resamples.value),
            seed=int(self.seed.value), seconds=float(self.seconds.value))

    def apply_preset(self, paper_steps: bool = True) -> None:
        """Set S_churn and σ_max (and, with ``paper_steps``, N, R and the Euler sampler) to the paper's
        values for the current task and method."""
        preset = replace(self.request(), upload=None).preset()
        self.churn.value = preset.s_churn
        self.sigma_max.value = preset.sigma_max
        if paper_steps:
            self.sampler.value = "euler"
            self.steps.value = min(preset.num_steps, self.steps.max)
            self.resamples.value = preset.num_resamples
        self._refresh()

    def _on_task(self, change=None) -> None:
        self.apply_preset(paper_steps=self._paper_steps)

    def _on_upload(self, change=None) -> None:
        up = self.upload.value[0] if self.upload.value else None
        if up:
            self.source.value = "upload"
            self.upload_label.value = f"{_esc(up['name'])} ({up.get('size', len(up['content'])) / 1e6:.2f} MB)"
        self._refresh()

    def _refresh(self, change=None) -> None:
        task = self.task.value
        show = {self.keep_box: task == "impute", self.source: task == "separate",
                self.song: task == "impute" or (task == "separate" and self.source.value == "toy"),
                self.upload_box: task == "separate" and self.source.value == "upload",
                self.method: task == "separate", self.method_note: task == "separate"}
        for w, visible in show.items():
            w.layout.display = "" if visible else "none"
        self.resamples.disabled = self.sampler.value == "heun"
        try:
            req = self.request()
            cfg = req.config()
            preset = req.preset()
            guess = ""
            if self._seconds_per_nfe_sample:
                samples = self._padded_length(req)
                guess = f" (≈ {cfg.nfe * samples * self._seconds_per_nfe_sample:.0f} s at the last run's speed)"
            self.info.value = (f"<span style='color:#555'>{cfg.nfe} denoiser evaluations{guess} · paper preset: "
                               f"{_esc(presets.settings_text(preset))}, σ_max {preset.sigma_max:g}</span>")
            if req.task == "separate" and req.likelihood == "gaussian" and cfg.num_steps < GAUSSIAN_MIN_STEPS:
                self.info.value += (f"<br><span class='msdm-lab-msg-note'>careful: with fewer than "
                                    f"{GAUSSIAN_MIN_STEPS} steps the stiff Gaussian likelihood (γ = 0.75σ) "
                                    f"often makes the sampler overshoot and diverge</span>")
            self.command.value = ("<span style='color:#555'>same as, from the repository folder:</span> <code>"
                                  + _esc(self.command_line()) + "</code>")
        except Exception as err:  # noqa: BLE001 - an observer must never raise; say what is wrong instead
            self.info.value = f"<span class='msdm-lab-msg-error'>{_esc(_one_line(err))}</span>"
            self.command.value = ""

    def _padded_length(self, req: LabRequest) -> int:
        """Samples the network actually processes for ``req`` (chunks or a valid length)."""
        model = self.isdm_model if req.isdm and self.isdm_model is not None else self.model
        n = max(1, round(req.seconds * self.sample_rate))
        m = models.chunk_length(model) if req.task != "generate" else models.length_multiple(model)
        return math.ceil(n / m) * m

    def command_line(self) -> str:
        """The ``msdm`` command that makes the same task calls as the current controls (shown under Sample)."""
        req = self.request()
        n = max(1, round(req.seconds * self.sample_rate))
        batch = None
        if req.task != "generate":
            model = self.isdm_model if req.isdm and self.isdm_model is not None else self.model
            batch = max(8, math.ceil(n / models.chunk_length(model)))
        isdm = {s: _show_path(p) for s, p in self.isdm_paths.items()} if self.isdm_paths else None
        checkpoint = _show_path(self.checkpoint) if self.checkpoint != "CHECKPOINT" else self.checkpoint
        return req.command(checkpoint, isdm, None if self.device.type == "cpu" else str(self.device),
                           batch, self._data_label())

    def _data_label(self) -> str:
        return _show_path(self.data_root / "test")

    # -- messages -----------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note", notes: Sequence[str] = ()) -> None:
        lines = [f"<div class='msdm-lab-msg-{kind}'>{_esc(text)}</div>"] if text else []
        lines += [f"<div class='msdm-lab-msg-note'>note: {_esc(n)}</div>" for n in notes]
        self.messages.value = "".join(lines)

    def _fail(self, err: BaseException | str) -> None:
        msg = err if isinstance(err, str) else _one_line(err)
        self.last_error = msg
        self._say(msg, "error")

    # -- running ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sample(self, wait: bool = False) -> LabResult | None:
        """Press **Sample**: check the controls, then sample in a background thread.

        ``wait=True`` blocks until the run ends and returns its :class:`LabResult` (None after an
        error or a cancel; the message is in ``lab.messages``).
        """
        if self.running:
            self._say("already sampling: wait, or press Cancel", "note")
            return None
        self.last_error = None
        try:
            plan = prepare(self.request(), self.model, self.data_root, self.isdm_model)
        except _INPUT_ERRORS as err:
            self._fail(err)
            return None
        except Exception as err:  # noqa: BLE001 - the learner sees one line, never a traceback
            self._fail(f"unexpected error ({type(err).__name__}): {_one_line(err)}")
            return None
        self._cancel.clear()
        self._outcome = None
        self.sample_button.disabled, self.cancel_button.disabled = True, False
        self.progress.max, self.progress.value, self.progress.bar_style = plan.total_steps, 0, "info"
        self.status.value = f"sampling… 0/{plan.total_steps} steps"
        self._say("", notes=plan.notes)
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, args=(plan,), daemon=True, name="msdm-lab")
        self._thread.start()
        if wait:
            self._thread.join()
            return self._outcome
        return None

    def wait(self, timeout: float | None = None) -> LabResult | None:
        """Block until the current run ends; its result (or None)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return getattr(self, "_outcome", None)

    def cancel(self) -> None:
        """Press **Cancel**: the sampler stops at its next step."""
        if self.running:
            self._cancel.set()
            self.status.value = "cancelling…"

    def _progress(self, done: int, total: int, sigma: float) -> None:
        self.progress.value = done
        rate = (time.perf_counter() - self._started) / max(done, 1)
        self.status.value = (f"step {done}/{total} · σ = {sigma:.3g} · "
                             f"{rate * (total - done):.0f} s left")

    def _run(self, plan: LabPlan) -> None:
        try:
            result = execute(plan, self.device, self._progress, self._cancel, self.max_frames)
            self._seconds_per_nfe_sample = result.elapsed / (result.config.nfe * self._padded_length(plan.request))
            self._show(result)
            self._outcome = result
            self.progress.bar_style = "success"
            self.status.value = (f"done in {time.perf_counter() - self._started:.1f} s "
                                 f"({result.config.nfe} denoiser evaluations)")
            self._say("", notes=result.notes)
            self._refresh()
        except _Cancelled:
            self.progress.bar_style = "warning"
            self.status.value = f"cancelled after {self.progress.value} of {plan.total_steps} steps"
            self._say("cancelled: the previous results stay on show", "note", plan.notes)
        except (*_INPUT_ERRORS, RuntimeError) as err:
            self.progress.bar_style = "danger"
            self.status.value = "failed"
            self._fail(err)
        except Exception as err:  # noqa: BLE001 - shown as one line, never a traceback
            self.progress.bar_style = "danger"
            self.status.value = "failed"
            self._fail(f"unexpected error ({type(err).__name__}): {_one_line(err)}")
        finally:
            self.sample_button.disabled, self.cancel_button.disabled = False, True

    # -- results ------------------------------------------------------------------------------
    def _labels(self, result: LabResult) -> dict[str, str]:
        req = result.request
        if req.task == "impute":
            return {s: ("kept" if s in req.keep else "generated") for s in result.stems}
        if req.task == "separate":
            return {s: "estimate" for s in result.stems}
        return {}

    def render(self, index: int) -> bytes:
        """PNG of trajectory frame ``index`` (the last one is the final result)."""
        res = self.result
        if index in self._png_cache:
            return self._png_cache[index]
        frame = res.frames[index]
        est = frame.estimate.float()
        rows = {s: est[k] for k, s in enumerate(res.stems)}
        ref = None
        if res.reference is not None:
            ref = {s: res.reference[k] for k, s in enumerate(res.stems)}
            ref["mix"] = res.mixture if res.mixture is not None else res.reference.sum(0)
        elif res.mixture is not None:
            ref = {"mix": res.mixture}
        last = index == len(res.frames) - 1
        what = ("final sample" if last else
                f"step {frame.step + 1}/{res.config.num_steps}: the sampler's estimate at σ = {frame.sigma:.3g}")
        grey = ("  ·  grey: the true stems" if res.reference is not None else
                "  ·  grey: the input mixture" if res.mixture is not None else "")
        amplitude, loudest = self._scale if self._scale else (None, None)
        png, _ = plotting.stems_png(rows, res.sample_rate, mix=est.sum(0), reference=ref,
                                    title=f"{res.request.task} · {what}{grey}", labels=self._labels(res),
                                    amplitude=amplitude, loudest_db=loudest)
        if len(self._png_cache) > 64:
            self._png_cache.clear()
        self._png_cache[index] = png
        return png

    def _show(self, result: LabResult) -> None:
        self.result = result
        self._png_cache = {}
        final = result.audio
        rows = [*final, final.sum(0)]
        if result.reference is not None:
            rows += [*result.reference, result.reference.sum(0)]
        if result.mixture is not None:
            rows.append(result.mixture)
        amp = max(float(a.abs().max()) for a in rows) or 1.0
        loudest = max(float(plotting.spectrogram_db(a, result.sample_rate, reference=1.0, top_db=1e9)[0].max())
                      for a in rows[:len(final) + 1])
        self._scale = (amp, loudest)     # every frame of the trajectory is drawn on the final's scales
        last = len(result.frames) - 1
        self.figure.value = self.render(last)
        self.trajectory.unobserve(self._on_trajectory, "value")
        self.trajectory.max = last
        self.trajectory.value = last
        self.trajectory.disabled = last == 0
        self.trajectory.observe(self._on_trajectory, "value")
        self._label_frame(last)
        sounds = {s: final[k] for k, s in enumerate(result.stems)}
        sounds["mix"] = final.sum(0)
        self.players.children = (plotting.players(sounds, result.sample_rate, columns=3),)
        self.scores.value = self._scores_html(result)
        self.save_button.disabled = False
        self.save_message.value = ""

    def _label_frame(self, index: int) -> None:
        res = self.result
        f = res.frames[index]
        if index == len(res.frames) - 1:
            text = f"final sample (after {res.config.num_steps} steps)"
        else:
            text = f"step {f.step + 1}/{res.config.num_steps} · σ = {f.sigma:.3g}"
        self.trajectory_label.value = f"<span style='color:#555'>{_esc(text)}</span>"

    def _on_trajectory(self, change) -> None:
        if self.result is None:
            return
        try:
            index = int(change["new"])
            self.figure.value = self.render(index)
            self._label_frame(index)
        except Exception as err:  # noqa: BLE001
            self._fail(f"could not draw that step: {_one_line(err)}")

    def _scores_html(self, result: LabResult) -> str:
        req = result.request
        head = (f"<b>{_esc(req.task)}</b> · {result.audio.shape[-1] / result.sample_rate:.2f} s · "
                f"{_esc(presets.settings_text(result.config))}, σ_max {result.config.sigma_max:g} · "
                f"{result.elapsed:.1f} s")
        if result.si_sdri is None:
            if req.task == "separate":
                return head + "<br><span style='color:#555'>no reference stems for an uploaded mixture, so no SI-SDRi</span>"
            return head
        cells = "".join(f"<td style='padding:0 10px'>{_esc(s)}<br><b>{'—' if math.isnan(v) else f'{v:+.1f} dB'}</b></td>"
                        for s, v in result.si_sdri.items())
        finite = [v for v in result.si_sdri.values() if not math.isnan(v)]
        avg = f"{sum(finite) / len(finite):+.1f} dB" if finite else "—"
        return (head + f"<br>SI-SDRi against the song's true stems (higher is better; — = silent stem): "
                f"<table><tr>{cells}<td style='padding:0 10px'>average<br><b>{avg}</b></td></tr></table>")

    def save(self, folder=None) -> list[Path] | None:
        """Press **Save as WAV**: the stems and ``mix.wav`` go to a sub-folder of the chosen folder."""
        if self.result is None:
            self.save_message.value = "<span class='msdm-lab-msg-error'>nothing to save yet: press Sample first</span>"
            return None
        try:
            paths = save_result(self.result, folder or self.save_folder.value)
        except _INPUT_ERRORS as err:
            self.save_message.value = f"<span class='msdm-lab-msg-error'>{_esc(_one_line(err))}</span>"
            return None
        self.save_message.value = (f"<span class='msdm-lab-msg-ok'>wrote {len(paths)} files to "
                                   f"<code>{_esc(paths[0].parent)}</code></span>")
        return paths

