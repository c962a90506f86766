"""The sampling lab's view: ipywidgets around the session of :mod:`msdm_tutorial.lab_session`.

:class:`SamplingLab` reads its controls into a :class:`~msdm_tutorial.lab_session.LabRequest`
(``request()``), and ``sample()`` runs it with the session's ``prepare`` and ``execute`` in a
background thread, with a progress bar and a Cancel button (the sampler callback checks a flag and
stops the loop). Results show as a waveform + spectrogram figure, one audio player per stem and for
the mix, a trajectory slider over the σ steps, SI-SDRi against the reference when there is one, and
a Save-as-WAV button. Under **Sample** the lab shows the equivalent ``msdm`` command
(``lab_session.command_line``, rendered from the command line's own option definitions).

The controls start at the course's recommended separation setting (MSDM Dirac, Euler 12 steps
× R 2, S_churn 0.4, σ from 1 down to σ_min 3e-3, which has no control of its own). On a GPU, switching the
task or the method moves every sampler control to that task's paper preset. On a CPU, a separation moves to
its method's recommended setting (the Gaussian likelihood's: Euler 48 steps × R 1, S_churn 12.8), and
generation or imputation moves S_churn, σ_max and R to the paper's preset while the step count and the
sampler stay as you set them.
The **Paper settings** button sets all of them to the paper's.
Errors never show a traceback: they become a readable line in the lab's message area.
"""

from __future__ import annotations

import html
import math
import threading
import time
from pathlib import Path
from typing import Sequence

import torch

from . import models, plotting, presets
from .options import DEFAULT_GUIDE
from .lab_session import (GAUSSIAN_MIN_STEPS, INPUT_ERRORS, MAX_FRAMES, METHODS, RECOMMENDED, LabError, LabRequest,
                          LabResult, RunCancelled, chunk_batch, clip_samples, command_line, command_path,
                          default_checkpoint, default_data_root, execute, find_isdm, first_line, prepare,
                          processed_length, save_result, toy_tracks)

METHOD_LABELS = {"dirac": "MSDM · Dirac", "gaussian": "MSDM · Gaussian",
                 "isdm-dirac": "ISDM · Dirac", "isdm-gaussian": "ISDM · Gaussian"}

CSS = """<style>
.msdm-lab .msdm-lab-head {font-size: 15px}
.msdm-lab code {font-size: 12px}
.msdm-lab-msg-error {color: #b00020}
.msdm-lab-msg-note {color: #6b5b00}
.msdm-lab-msg-ok {color: #1b6e3a}
</style>"""
STYLE = {"description_width": "110px"}


def escape(text) -> str:
    """``text`` as HTML text."""
    return html.escape(str(text), quote=False)


def span(kind: str, text: str) -> str:
    """A message line in the lab's colours: ``kind`` is error, note or ok."""
    return f"<span class='msdm-lab-msg-{kind}'>{text}</span>"


def grey(text: str) -> str:
    return f"<span style='color:#555'>{text}</span>"


class SamplingLab:
    """The sampling lab. Display it (leave it last in a cell), then press **Sample**.

    ``model``: a denoiser (``checkpoints.load``); default: load ``checkpoint`` (default the shipped
    tiny model). ``isdm``: ``{stem: checkpoint}`` for the ISDM methods (default: ``isdm-tiny-{stem}.pt``
    next to the checkpoint, when all exist). Generation is autoguided by the checkpoint's companion
    ``NAME-guide.pt`` when it has one, as ``msdm generate`` is. ``data_root``: the toy songs (``…/toy``, its ``test`` split).
    ``steps`` / ``seconds``: the starting values of those controls (default: the paper preset's steps
    of ``task``, for separation the recommended setting's 24; 3 s). The controls stay the source of
    truth: ``request()`` reads them.
    """

    def __init__(self, model=None, *, checkpoint=None, isdm=None, data_root=None, device=None,
                 task: str = "separate", steps: int | None = None, seconds: float = 3.0,
                 out_dir="outputs/lab", max_frames: int = MAX_FRAMES):
        import ipywidgets

        self.device = torch.device(device) if device is not None else models.pick_device()
        self.data_root = Path(data_root) if data_root is not None else default_data_root()
        self._load_models(model, checkpoint, isdm)
        self._start_state(max_frames)
        plotting.use_style()
        self._build_input_controls(ipywidgets, task)
        self._build_sampler_controls(ipywidgets, seconds)
        self._build_run_area(ipywidgets)
        self._build_results(ipywidgets, out_dir)
        self.widget = self._layout(ipywidgets)
        self._connect()
        if self.task.value == "separate":
            self.apply_setting(RECOMMENDED)             # the course's recommended separation setting
        else:
            self.apply_preset(paper_steps=True)
        if steps is not None:
            self.steps.value = int(steps)

    # -- building -----------------------------------------------------------------------------
    def _load_models(self, model, checkpoint, isdm) -> None:
        """The MSDM model (``model`` or ``checkpoint``'s), its stems and rate, and the ISDM models."""
        if model is None:
            checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
            try:
                model = models.load_model(checkpoint, self.device)
            except INPUT_ERRORS as err:
                raise LabError(first_line(err)) from None
        self.model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.checkpoint = str(checkpoint) if checkpoint is not None else "CHECKPOINT"
        # generation is autoguided by the checkpoint's companion guide, as msdm generate is (DEFAULT_GUIDE)
        try:
            self.guided_model = (models.with_guide(self.model, checkpoint, device=self.device).eval()
                                 if checkpoint is not None else self.model)
        except INPUT_ERRORS as err:
            raise LabError(first_line(err)) from None
        self.stems, self.sample_rate = models.model_stems(self.model), models.model_rate(self.model)
        self.isdm_paths, self.isdm_model, self._isdm_note = self._load_isdm(isdm, checkpoint)

    def _load_isdm(self, isdm, checkpoint):
        """(paths, ISDM model, note): the single-stem models, or None and why not."""
        from .tasks import ISDMDenoiser

        if isinstance(isdm, ISDMDenoiser):
            return None, isdm.to(self.device), ""
        paths = isdm
        if paths is None and checkpoint is not None:
            paths = find_isdm(Path(checkpoint).parent, self.stems)
        if not paths:
            where = command_path(Path(checkpoint).parent) if checkpoint is not None else "the checkpoint folder"
            return None, None, span("note", f"ISDM is disabled: it needs one single-stem model per stem "
                                            f"({escape(where)}/isdm-tiny-{{{escape(','.join(self.stems))}}}.pt), "
                                            f"which are not there.")
        try:
            model = models.load_isdm(",".join(f"{s}={p}" for s, p in paths.items()), self.device, self.stems)
        except INPUT_ERRORS as err:
            return None, None, span("error", f"ISDM is disabled: {escape(first_line(err))}")
        return {s: str(p) for s, p in paths.items()}, model.eval(), ""

    def _start_state(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.result: LabResult | None = None
        self.last_error: str | None = None
        self._outcome: LabResult | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._started = 0.0
        self._png_cache: dict[int, bytes] = {}
        self._scale: tuple[float, float] | None = None
        self._seconds_per_nfe_sample: float | None = None    # measured speed, for the time estimate
        self._paper_steps_on_switch = self.device.type == "cuda"

    def _build_input_controls(self, W, task: str) -> None:
        """Task, kept stems, mixture source, song, upload, method."""
        wide = W.Layout(width="420px")
        self.task = W.ToggleButtons(options=[("Generate", "generate"), ("Impute", "impute"), ("Separate", "separate")],
                                    value=task, description="Task", style=STYLE,
                                    tooltips=["all stems from noise", "keep some stems, generate the rest",
                                              "split a mixture into stems"])
        self.keep = {s: W.Checkbox(value=(i < 2), description=s, indent=False, layout=W.Layout(width="90px"))
                     for i, s in enumerate(self.stems)}
        for cb in self.keep.values():
            cb.add_class("msdm-lab-keep")
        self.keep_box = W.HBox([W.Label("Keep", layout=W.Layout(width="114px")), *self.keep.values()])
        self.source = W.RadioButtons(options=[("a toy test song", "toy"), ("an uploaded WAV/FLAC", "upload")],
                                     value="toy", description="Mixture", style=STYLE)
        songs = toy_tracks(self.data_root)
        self.song = W.Dropdown(options=songs or [("(no songs found)", None)], value=songs[0] if songs else None,
                               description="Song", style=STYLE, layout=wide)
        self.upload = W.FileUpload(accept=".wav,.flac,audio/*", multiple=False, description="Upload")
        self.upload_label = W.HTML(grey("WAV or FLAC, any sample rate; stereo is averaged to mono"))
        self.upload_box = W.HBox([W.Label("File", layout=W.Layout(width="114px")), self.upload, self.upload_label])
        methods = [(METHOD_LABELS[m], m) for m in METHODS if not METHODS[m][1] or self.isdm_model is not None]
        self.method = W.Dropdown(options=methods, value=LabRequest.method, description="Method", style=STYLE,
                                 layout=wide)
        self.method_note = W.HTML(self._isdm_note)

    def _build_sampler_controls(self, W, seconds: float) -> None:
        """Sampler, N, S_churn, σ_max, R, seed, length, the paper button and the info line."""
        wide = W.Layout(width="420px")
        self.sampler = W.ToggleButtons(options=[("Euler", "euler"), ("Heun", "heun")], value=RECOMMENDED.sampler,
                                       description="Sampler", style=STYLE)
        self.steps = W.IntSlider(value=RECOMMENDED.num_steps, min=1, max=300, description="Steps N", style=STYLE,
                                 layout=wide, continuous_update=False)
        self.steps.add_class("msdm-lab-steps")
        self.churn = W.FloatSlider(value=RECOMMENDED.s_churn, min=0.0, max=80.0, step=1.0, description="S_churn",
                                   style=STYLE, layout=wide, continuous_update=False)
        self.sigma_max = W.FloatLogSlider(value=RECOMMENDED.sigma_max, base=10, min=-1, max=2, step=0.05,
                                          description="σ_max", style=STYLE, layout=wide, readout_format=".3g",
                                          continuous_update=False)
        self.sigma_min = float(RECOMMENDED.sigma_min)     # set with the sampler presets (apply_setting)
        self.resamples = W.IntSlider(value=RECOMMENDED.num_resamples, min=1, max=4, description="R resamples",
                                     style=STYLE, layout=wide, continuous_update=False)
        self.seed = W.BoundedIntText(value=0, min=0, max=2 ** 31 - 1, description="Seed", style=STYLE,
                                     layout=W.Layout(width="220px"))
        self.seconds = W.FloatSlider(value=float(seconds), min=0.5, max=12.0, step=0.5, description="Length (s)",
                                     style=STYLE, layout=wide, continuous_update=False)
        self.seconds.add_class("msdm-lab-seconds")
        self.paper_button = W.Button(description="Paper settings", icon="book",
                                     tooltip="the paper's steps, S_churn, σ_max and R for this task")
        self.info = W.HTML()

    def _build_run_area(self, W) -> None:
        """Sample and Cancel, the progress bar and status, messages, the equivalent command."""
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

    def _build_results(self, W, out_dir) -> None:
        """The figure, the trajectory slider, scores, players, and saving."""
        self.figure = W.Image(format="png", layout=W.Layout(max_width="900px"))
        self.figure.add_class("msdm-lab-figure")
        self.trajectory = W.IntSlider(value=0, min=0, max=0, description="Trajectory", style=STYLE,
                                      layout=W.Layout(width="600px"), continuous_update=False, disabled=True,
                                      readout=False)
        self.trajectory.add_class("msdm-lab-trajectory")
        self.trajectory_label = W.HTML()
        self.scores = W.HTML()
        self.scores.add_class("msdm-lab-scores")
        self.players = W.VBox()
        self.players.add_class("msdm-lab-players")
        self.save_folder = W.Text(value=str(out_dir), description="Save to", style=STYLE,
                                  layout=W.Layout(width="420px"))
        self.save_button = W.Button(description="Save as WAV", icon="save", disabled=True)
        self.save_button.add_class("msdm-lab-save")
        self.save_message = W.HTML()

    def _layout(self, W):
        """The whole panel: a head line, the controls, the run area, the results."""
        head = W.HTML(f"{CSS}<div class='msdm-lab-head'><b>MSDM sampling lab</b> · "
                      f"{escape(Path(self.checkpoint).name)} · stems {escape(', '.join(self.stems))} · "
                      f"{self.sample_rate} Hz · {escape(self.device)}</div>")
        self.input_box = W.VBox([self.keep_box, self.source, self.song, self.upload_box, self.method, self.method_note])
        controls = W.VBox([self.task, self.input_box, self.sampler, self.steps, self.churn, self.sigma_max,
                           self.resamples, W.HBox([self.seed, self.paper_button]), self.seconds, self.info])
        run = W.VBox([W.HBox([self.sample_button, self.cancel_button, self.progress, self.status]),
                      self.messages, self.command])
        results = W.VBox([self.scores, self.players, self.figure, W.HBox([self.trajectory, self.trajectory_label]),
                          W.HBox([self.save_folder, self.save_button]), self.save_message])
        panel = W.VBox([head, controls, run, results])
        panel.add_class("msdm-lab")
        return panel

    def _connect(self) -> None:
        """The controls' observers and the buttons' clicks."""
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

    # -- display ------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- reading the controls -----------------------------------------------------------------
    def request(self) -> LabRequest:
        """The controls' state as a :class:`~msdm_tutorial.lab_session.LabRequest`."""
        upload = self.upload.value[0] if self.upload.value else None
        return LabRequest(
            task=self.task.value, method=self.method.value,
            keep=tuple(s for s, cb in self.keep.items() if cb.value),
            source=self.source.value, track=self.song.value,
            upload_name=upload["name"] if upload else None,
            upload=bytes(upload["content"]) if upload else None,
            sampler=self.sampler.value, steps=int(self.steps.value), s_churn=float(self.churn.value),
            sigma_max=float(self.sigma_max.value), sigma_min=self.sigma_min, num_resamples=int(self.resamples.value),
            seed=int(self.seed.value), seconds=float(self.seconds.value))

    def apply_preset(self, paper_steps: bool = True) -> None:
        """With ``paper_steps``, set the sampler, N, S_churn, σ_max, σ_min and R to the paper's values for
        the current task and method. Without it (on a CPU), a separation gets its method's recommended
        setting (``presets.recommended_separation``: Dirac on 12 steps × R 2 with S_churn 0.4, Gaussian on
        48 steps × R 1 with S_churn 12.8, both down to σ_min 3e-3 — the Gaussian likelihood fails on Dirac's
        12 steps), and generation or imputation keeps N and the sampler with the paper's S_churn per step."""
        request = self.request()
        if self.task.value == "separate" and not paper_steps:
            self.apply_setting(presets.recommended_separation(request.isdm, request.likelihood))
            return
        preset = request.preset()
        steps = min(preset.num_steps, self.steps.max) if paper_steps else int(self.steps.value)
        sampler = preset.sampler if paper_steps else self.sampler.value
        self.apply_setting(preset.with_steps(steps), sampler)

    def apply_setting(self, cfg, sampler: str | None = None) -> None:
        """Set the sampler controls to the config ``cfg`` (its sampler, unless ``sampler`` is given)."""
        self.sampler.value = sampler or cfg.sampler
        self.steps.value = cfg.num_steps
        self.churn.value = cfg.s_churn
        self.sigma_max.value = cfg.sigma_max
        self.sigma_min = float(cfg.sigma_min)            # no control of its own: the preset's or the recommended
        self.resamples.value = cfg.num_resamples
        self._refresh()

    def _on_task(self, change=None) -> None:
        self.apply_preset(paper_steps=self._paper_steps_on_switch)

    def _on_upload(self, change=None) -> None:
        up = self.upload.value[0] if self.upload.value else None
        if up:
            self.source.value = "upload"
            self.upload_label.value = f"{escape(up['name'])} ({up.get('size', len(up['content'])) / 1e6:.2f} MB)"
        self._refresh()

    def _show_inputs_of_task(self) -> None:
        task = self.task.value
        show = {self.keep_box: task == "impute", self.source: task == "separate",
                self.song: task == "impute" or (task == "separate" and self.source.value == "toy"),
                self.upload_box: task == "separate" and self.source.value == "upload",
                self.method: task == "separate", self.method_note: task == "separate"}
        for w, visible in show.items():
            w.layout.display = "" if visible else "none"
        self.resamples.disabled = self.sampler.value == "heun"

    def _info_html(self, req: LabRequest) -> str:
        """The cost of a run (and its time at the last run's speed), the preset, a stiffness warning."""
        cfg, preset = req.config(), req.preset()
        guess = ""
        if self._seconds_per_nfe_sample:
            samples = processed_length(req, self._model_for(req))
            guess = f" (≈ {cfg.nfe * samples * self._seconds_per_nfe_sample:.0f} s at the last run's speed)"
        text = grey(f"{cfg.nfe} denoiser evaluations{guess} · paper preset: "
                    f"{escape(presets.settings_text(preset))}")
        if req.task == "separate" and req.likelihood == "gaussian" and cfg.num_steps < GAUSSIAN_MIN_STEPS:
            text += "<br>" + span("note", f"careful: with fewer than {GAUSSIAN_MIN_STEPS} steps the stiff Gaussian "
                                          f"likelihood (γ = 0.75σ) often makes the sampler overshoot and diverge")
        return text

    def _refresh(self, change=None) -> None:
        self._show_inputs_of_task()
        try:
            self.info.value = self._info_html(self.request())
            self.command.value = (grey("same as, from the repository folder:") + " <code>"
                                  + escape(self.command_line()) + "</code>")
        except Exception as err:  # noqa: BLE001 - an observer must never raise; say what is wrong instead
            self.info.value = span("error", escape(first_line(err)))
            self.command.value = ""

    def _model_for(self, req: LabRequest):
        return self.isdm_model if req.isdm and self.isdm_model is not None else self.model

    def command_line(self) -> str:
        """The ``msdm`` command that makes the same task calls as the current controls (shown under Sample)."""
        req = self.request()
        batch = None
        if req.task != "generate":
            batch = chunk_batch(clip_samples(req, self.sample_rate), models.chunk_length(self._model_for(req)))
        isdm = {s: command_path(p) for s, p in self.isdm_paths.items()} if self.isdm_paths else None
        checkpoint = command_path(self.checkpoint) if self.checkpoint != "CHECKPOINT" else self.checkpoint
        device = None if self.device.type == "cpu" else str(self.device)
        return command_line(req, checkpoint, isdm, device, batch, command_path(self.data_root / "test"))

    # -- messages -----------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note", notes: Sequence[str] = ()) -> None:
        lines = [f"<div class='msdm-lab-msg-{kind}'>{escape(text)}</div>"] if text else []
        lines += [f"<div class='msdm-lab-msg-note'>note: {escape(n)}</div>" for n in notes]
        self.messages.value = "".join(lines)

    def _fail(self, err: BaseException | str) -> None:
        msg = err if isinstance(err, str) else first_line(err)
        self.last_error = msg
        self._say(msg, "error")

    # -- running ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sample(self, wait: bool = False) -> LabResult | None:
        """Press **Sample**: check the controls, then sample in a background thread.

        ``wait=True`` blocks until the run ends and returns its result (None after an error or a
        cancel; the message is in ``lab.messages``).
        """
        if self.running:
            self._say("already sampling: wait, or press Cancel", "note")
            return None
        self.last_error = None
        try:
            req = self.request()
            plan = prepare(req, self.guided_model if DEFAULT_GUIDE.get(req.task) == "auto" else self.model,
                           self.data_root, self.isdm_model)
        except INPUT_ERRORS as err:
            self._fail(err)
            return None
        except Exception as err:  # noqa: BLE001 - the learner sees one line, never a traceback
            self._fail(f"unexpected error ({type(err).__name__}): {first_line(err)}")
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
        return self._outcome

    def cancel(self) -> None:
        """Press **Cancel**: the sampler stops at its next step."""
        if self.running:
            self._cancel.set()
            self.status.value = "cancelling…"

    def _progress(self, done: int, total: int, sigma: float) -> None:
        self.progress.value = done
        rate = (time.perf_counter() - self._started) / max(done, 1)
        self.status.value = f"step {done}/{total} · σ = {sigma:.3g} · {rate * (total - done):.0f} s left"

    def _run(self, plan) -> None:
        """The background thread: execute the plan, show the result or say what went wrong."""
        try:
            result = execute(plan, self.device, self._progress, self._cancel, self.max_frames)
            samples = processed_length(plan.request, plan.model)
            self._seconds_per_nfe_sample = result.elapsed / (result.config.nfe * samples)
            self._show(result)
            self._outcome = result
            self.progress.bar_style = "success"
            self.status.value = (f"done in {time.perf_counter() - self._started:.1f} s "
                                 f"({result.config.nfe} denoiser evaluations)")
            self._say("", notes=result.notes)
            self._refresh()
        except RunCancelled:
            self.progress.bar_style = "warning"
            self.status.value = f"cancelled after {self.progress.value} of {plan.total_steps} steps"
            self._say("cancelled: the previous results stay on show", "note", plan.notes)
        except Exception as err:  # noqa: BLE001 - shown as one line, never a traceback
            self.progress.bar_style = "danger"
            self.status.value = "failed"
            known = isinstance(err, (*INPUT_ERRORS, RuntimeError))
            self._fail(err if known else f"unexpected error ({type(err).__name__}): {first_line(err)}")
        finally:
            self.sample_button.disabled, self.cancel_button.disabled = False, True

    # -- results ------------------------------------------------------------------------------
    @staticmethod
    def _labels(result: LabResult) -> dict[str, str]:
        req = result.request
        if req.task == "impute":
            return {s: ("kept" if s in req.keep else "generated") for s in result.stems}
        if req.task == "separate":
            return {s: "estimate" for s in result.stems}
        return {}

    @staticmethod
    def _references(result: LabResult) -> dict | None:
        """What is drawn in grey behind the stems: the true stems and their mix, or the input mixture."""
        if result.reference is not None:
            ref = {s: result.reference[k] for k, s in enumerate(result.stems)}
            ref["mix"] = result.mixture if result.mixture is not None else result.reference.sum(0)
            return ref
        return {"mix": result.mixture} if result.mixture is not None else None

    def render(self, index: int) -> bytes:
        """PNG of trajectory frame ``index`` (the last one is the final result)."""
        res = self.result
        if index in self._png_cache:
            return self._png_cache[index]
        frame = res.frames[index]
        est = frame.estimate.float()
        last = index == len(res.frames) - 1
        what = ("final sample" if last else
                f"step {frame.step + 1}/{res.config.num_steps}: the sampler's estimate at σ = {frame.sigma:.3g}")
        behind = ("  ·  grey: the true stems" if res.reference is not None else
                  "  ·  grey: the input mixture" if res.mixture is not None else "")
        amplitude, loudest = self._scale if self._scale else (None, None)
        png, _ = plotting.stems_png({s: est[k] for k, s in enumerate(res.stems)}, res.sample_rate, mix=est.sum(0),
                                    reference=self._references(res), title=f"{res.request.task} · {what}{behind}",
                                    labels=self._labels(res), amplitude=amplitude, loudest_db=loudest)
        if len(self._png_cache) > 64:
            self._png_cache.clear()
        self._png_cache[index] = png
        return png

    def _set_scale(self, result: LabResult) -> None:
        """Every frame of the trajectory is drawn on the final result's amplitude and dB scales."""
        final = result.audio
        rows = [*final, final.sum(0)]
        if result.reference is not None:
            rows += [*result.reference, result.reference.sum(0)]
        if result.mixture is not None:
            rows.append(result.mixture)
        amp = max(float(a.abs().max()) for a in rows) or 1.0
        loudest = max(float(plotting.spectrogram_db(a, result.sample_rate, reference=1.0, top_db=1e9)[0].max())
                      for a in rows[:len(final) + 1])
        self._scale = (amp, loudest)

    def _show(self, result: LabResult) -> None:
        self.result = result
        self._png_cache = {}
        self._set_scale(result)
        last = len(result.frames) - 1
        self.figure.value = self.render(last)
        self.trajectory.unobserve(self._on_trajectory, "value")
        self.trajectory.max = last
        self.trajectory.value = last
        self.trajectory.disabled = last == 0
        self.trajectory.observe(self._on_trajectory, "value")
        self._label_frame(last)
        sounds = {s: result.audio[k] for k, s in enumerate(result.stems)}
        sounds["mix"] = result.mix
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
        self.trajectory_label.value = grey(escape(text))

    def _on_trajectory(self, change) -> None:
        if self.result is None:
            return
        try:
            index = int(change["new"])
            self.figure.value = self.render(index)
            self._label_frame(index)
        except Exception as err:  # noqa: BLE001
            self._fail(f"could not draw that step: {first_line(err)}")

    @staticmethod
    def _scores_html(result: LabResult) -> str:
        req = result.request
        head = (f"<b>{escape(req.task)}</b> · {result.audio.shape[-1] / result.sample_rate:.2f} s · "
                f"{escape(presets.settings_text(result.config))} · "
                f"{result.elapsed:.1f} s")
        if result.si_sdri is None:
            if req.task == "separate":
                return head + "<br>" + grey("no reference stems for an uploaded mixture, so no SI-SDRi")
            return head
        cells = "".join(f"<td style='padding:0 10px'>{escape(s)}<br><b>{'—' if math.isnan(v) else f'{v:+.1f} dB'}"
                        f"</b></td>" for s, v in result.si_sdri.items())
        finite = [v for v in result.si_sdri.values() if not math.isnan(v)]
        avg = f"{sum(finite) / len(finite):+.1f} dB" if finite else "—"
        return (head + f"<br>SI-SDRi against the song's true stems (higher is better; — = silent stem): "
                f"<table><tr>{cells}<td style='padding:0 10px'>average<br><b>{avg}</b></td></tr></table>")

    def save(self, folder=None) -> list[Path] | None:
        """Press **Save as WAV**: the stems and ``mix.wav`` go to a sub-folder of the chosen folder."""
        if self.result is None:
            self.save_message.value = span("error", "nothing to save yet: press Sample first")
            return None
        try:
            paths = save_result(self.result, folder or self.save_folder.value)
        except INPUT_ERRORS as err:
            self.save_message.value = span("error", escape(first_line(err)))
            return None
        self.save_message.value = span("ok", f"wrote {len(paths)} files to <code>{escape(paths[0].parent)}</code>")
        return paths


__all__ = ["SamplingLab", "METHOD_LABELS"]
