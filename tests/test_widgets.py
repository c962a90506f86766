"""The sampling lab (msdm_tutorial.widgets, its session msdm_tutorial.lab_session) without a browser.

* The controls' state becomes a LabRequest, and a request drives the *same* tasks calls, with the
  same arguments, as the ``msdm`` command line: both are run against recording stand-ins of
  ``tasks.generate`` / ``tasks.impute`` / ``tasks.separate_long`` and the recorded calls compared.
* Bad input (a file that is not audio, no stems selected, no upload, a silent file, a failing run)
  shows a readable line in ``lab.messages`` and never a traceback; another sample rate is resampled
  and stereo is downmixed, with a note.
* A real (tiny, random-weight) run fills the results: figure, players, trajectory slider, SI-SDRi,
  Save as WAV; Cancel stops a run.
"""

import datetime
import html
import io
import shlex
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from msdm_tutorial import STEMS, checkpoints, cli, lab_session, options, presets, tasks, unet, widgets
from msdm_tutorial.course import data_small, repo_root
from msdm_tutorial.data.datasets import load_track
from msdm_tutorial.denoiser import EDMDenoiser

SR = 22050
TOY = data_small() / "toy"
SONG = "Track00029"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lab") / "msdm-tiny.pt"
    checkpoints.save(path, EDMDenoiser(unet.build("tiny"), stems=STEMS, sample_rate=SR), "tiny")
    return path


@pytest.fixture
def lab(checkpoint):
    lab = widgets.SamplingLab(checkpoint=checkpoint, data_root=TOY, seconds=0.5, steps=2)
    lab.sampler.value = "euler"      # the paper's sampler, which the commands below default to for each task
    return lab


def wav_bytes(audio: np.ndarray, sr: int, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format=fmt, subtype="PCM_16" if fmt == "FLAC" else "FLOAT")
    return buf.getvalue()


def song_mix(seconds=0.4) -> np.ndarray:
    return load_track(TOY / "test" / SONG).sum(0)[:int(seconds * SR)].numpy()


def upload(lab, content: bytes, name: str = "song.wav"):
    lab.upload.value = ({"name": name, "type": "audio/wav", "size": len(content),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc),
                         "content": memoryview(content)},)


def text(lab) -> str:
    return html.unescape(lab.messages.value)


def assert_readable(lab, *needles):
    msg = text(lab)
    assert "Traceback" not in msg and "File \"" not in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in the lab's message: {msg}"


class Recorder:
    """Stands in for a tasks function: records each call, returns zeros of the right shape."""

    def __init__(self, kind):
        self.kind, self.calls = kind, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.kind == "generate":
            return torch.zeros(args[1])
        if self.kind in ("impute", "impute_long"):
            return torch.zeros_like(args[1])
        y = args[1]
        return torch.zeros(y.shape[0], len(STEMS), y.shape[-1])


def seed_of(gen: torch.Generator) -> tuple[int, str]:
    return gen.initial_seed(), gen.device.type


# ----------------------------------------------------------------------------------------------
# widget state → request → the command line's task calls
# ----------------------------------------------------------------------------------------------

def test_request_reads_the_controls(lab):
    lab.task.value = "impute"
    lab.keep["bass"].value, lab.keep["drums"].value, lab.keep["piano"].value = True, False, True
    lab.song.value = "Track00031"
    lab.sampler.value = "heun"
    lab.steps.value, lab.churn.value, lab.seed.value, lab.seconds.value = 7, 3.0, 42, 2.5
    req = lab.request()
    assert (req.task, req.keep, req.track, req.sampler, req.steps, req.s_churn, req.seed, req.seconds) == \
        ("impute", ("bass", "piano"), "Track00031", "heun", 7, 3.0, 42, 2.5)
    assert lab.resamples.disabled, "Heun has no correction resamples: R is disabled"
    cfg = req.config()
    assert cfg == tasks.ImputationConfig.recommended().with_heun(7).replace(s_churn=3.0)


def test_task_and_method_switch_to_their_presets(lab):
    # on a CPU generation keeps the step count (here 2) and the preset's churn per step at it
    lab.task.value = "generate"
    assert (lab.churn.value, lab.sigma_max.value) == (pytest.approx(20.0 * 2 / 150), 20.0)
    lab.task.value = "separate"                  # a separation moves to the recommended setting (Dirac)
    assert (lab.churn.value, lab.sigma_max.value, lab.sigma_min) == \
        (pytest.approx(options.RECOMMENDED_SEPARATION["churn"]), 1.0, options.RECOMMENDED_SEPARATION["sigma_min"])
    lab.method.value = "gaussian"                # … and a Gaussian one its own recommended setting, 48 steps × R 1
    assert lab.request().config() == presets.recommended_separation(method="gaussian")
    assert (lab.steps.value, lab.resamples.value, lab.churn.value) == \
        (options.RECOMMENDED_GAUSSIAN["steps"], 1, pytest.approx(options.RECOMMENDED_GAUSSIAN["churn"]))
    assert "careful" not in lab.info.value, "the lab must not warn about the setting it recommends"
    lab.steps.value = 12
    assert "careful" in lab.info.value, "…but about Dirac's 12 steps, on which the Gaussian likelihood diverges"
    lab.steps.value = options.RECOMMENDED_GAUSSIAN["steps"]
    lab.method.value = "dirac"
    assert lab.request().config() == presets.recommended_separation()
    lab.method.value = "gaussian"
    lab.paper_button.click()
    assert lab.request().config() == tasks.SeparationConfig.paper_gaussian()


def test_every_sampler_knob_of_the_lab_is_a_command_line_option():
    req = lab_session.LabRequest(task="separate", method="dirac", sampler="euler", steps=10, s_churn=5, sigma_max=2.0,
                                 sigma_min=1e-3, num_resamples=3, track=SONG)
    assert req.config() == tasks.SeparationConfig.paper_dirac().replace(num_steps=10, s_churn=5, sigma_max=2.0,
                                                                        sigma_min=1e-3, num_resamples=3)
    command = lab_session.command_line(req)
    assert "--churn 5 --sigma-max 2 --sigma-min 0.001 --resamples 3" in command and "lab-only" not in command
    argv = shlex.split(command.split("   #")[0])[1:]
    args = cli.build_parser().parse_args(argv)
    assert presets.separation_settings(args.method, False, args.steps, args.sampler, args.churn, args.resamples,
                                       args.sigma_max, args.sigma_min) == req.config()


def test_the_lab_starts_at_the_recommended_separation_setting(checkpoint):
    lab = widgets.SamplingLab(checkpoint=checkpoint, data_root=TOY)
    assert (lab.task.value, lab.method.value) == ("separate", options.RECOMMENDED_SEPARATION["method"])
    assert lab.request().config() == presets.recommended_separation()
    assert lab_session.LabRequest(track=SONG).config() == presets.recommended_separation()
    cfg = presets.recommended_separation()
    assert (f"--steps {cfg.num_steps} --sampler euler --churn {cfg.s_churn:g} --sigma-max 1 --sigma-min 0.003 "
            "--resamples 2 --seed") in lab.command_line()
    lab.task.value = "generate"                  # the generation preset's grid, down to the paper's σ_min
    assert lab.request().config().sigma_min == tasks.GenerationConfig.paper().sigma_min


TASK_CALLS = {"generate": "generate", "impute": "impute_long", "separate": "separate_long"}


def config_of(task, args, kwargs):
    """The sampling config of a recorded task call."""
    return kwargs["config"] if task == "generate" else args[3] if task == "impute" else args[2]


@pytest.mark.parametrize("task", TASK_CALLS)
def test_the_printed_command_samples_with_the_lab_config(lab, task, tmp_path, monkeypatch):
    """Round trip: the "same as" command, parsed by msdm's own parser and run, uses the lab's config."""
    lab.task.value, lab.song.value = task, SONG
    lab.steps.value, lab.churn.value, lab.resamples.value, lab.seed.value, lab.seconds.value = 3, 7.0, 3, 9, 0.5
    req = lab.request()
    argv = shlex.split(lab.command_line().split("   # ")[0])
    assert argv[:2] == ["msdm", task] and "--resamples" in argv
    sf.write(tmp_path / "mix.wav", song_mix(0.5), SR, subtype="FLOAT")
    placeholders = {"mix.wav": str(tmp_path / "mix.wav"), "OUT": str(tmp_path / "out")}
    argv = [placeholders.get(a, a) for a in argv[1:]]
    rec = Recorder(TASK_CALLS[task])
    monkeypatch.setattr(tasks, TASK_CALLS[task], rec)
    monkeypatch.chdir(repo_root())               # the command is run from the repository folder
    assert cli.main(argv) == 0
    lab_session.execute(lab_session.prepare(req, lab.model, TOY))
    (cli_args, cli_kw), (lab_args, lab_kw) = rec.calls
    assert config_of(task, cli_args, cli_kw) == config_of(task, lab_args, lab_kw) == req.config()
    assert req.config().num_resamples == 3
    assert seed_of(lab_kw["generator"]) == seed_of(cli_kw["generator"]) == (9, "cpu")


def test_separate_makes_the_same_call_as_msdm_separate(lab, checkpoint, tmp_path, monkeypatch):
    y = song_mix(0.4)
    content = wav_bytes(np.stack([y, y], 1), 44100)   # stereo, 44.1 kHz: resampled and downmixed by both
    (tmp_path / "mix.wav").write_bytes(content)
    rec = Recorder("separate")
    monkeypatch.setattr(tasks, "separate_long", rec)
    argv = ["separate", "--checkpoint", str(checkpoint), str(tmp_path / "mix.wav"), "--out", str(tmp_path / "cli"),
            "--method", "gaussian", "--sampler", "euler", "--steps", "3", "--churn", "5", "--sigma-max", "1",
            "--seed", "7", "--quiet"]
    assert cli.main(argv) == 0
    lab.task.value, lab.method.value = "separate", "gaussian"
    upload(lab, content, "mix.wav")
    assert lab.source.value == "upload"
    lab.steps.value, lab.churn.value, lab.seed.value, lab.seconds.value = 3, 5.0, 7, 5.0
    assert lab.sample(wait=True) is not None, text(lab)
    assert_readable(lab, "resampled from 44100 Hz", "downmixed to mono")
    (cli_args, cli_kw), (lab_args, lab_kw) = rec.calls
    assert lab_args[0] is lab.model and isinstance(cli_args[0], EDMDenoiser)
    assert torch.equal(lab_args[1], cli_args[1]), "the lab must read the upload exactly as msdm separate reads the file"
    # the method switch gives the Gaussian likelihood's recommended R and σ_min, the command line's defaults
    assert lab_args[2] == cli_args[2] == tasks.SeparationConfig.paper_gaussian().replace(
        num_steps=3, s_churn=5.0, sigma_min=3e-3, num_resamples=options.RECOMMENDED_GAUSSIAN["resamples"])
    assert seed_of(lab_kw.pop("generator")) == seed_of(cli_kw.pop("generator")) == (7, "cpu")
    lab_kw.pop("callback"), cli_kw.pop("callback")
    assert lab_kw == cli_kw == {"chunk_length": 32768, "batch_size": 8, "chunking": "seamless", "overlap": 4096,
                                "precision": tasks.resolve_precision("auto", "cpu")}
    # and the command the lab shows is that command
    assert "msdm separate --checkpoint" in lab.command.value
    assert "--method gaussian --out OUT --steps 3" in lab.command.value


def test_impute_makes_the_same_calls_as_msdm_impute(lab, checkpoint, tmp_path, monkeypatch):
    rec = Recorder("impute_long")
    monkeypatch.setattr(tasks, "impute_long", rec)
    argv = ["impute", "--checkpoint", str(checkpoint), "--track", str(TOY / "test" / SONG), "--keep", "bass,piano",
            "--out", str(tmp_path / "cli"), "--seconds", "1.6", "--steps", "4", "--sampler", "heun", "--seed", "3",
            "--quiet"]
    assert cli.main(argv) == 0
    n_cli = len(rec.calls)
    lab.task.value = "impute"
    for s in STEMS:
        lab.keep[s].value = s in ("bass", "piano")
    lab.song.value = SONG
    lab.sampler.value = "heun"
    lab.steps.value, lab.seed.value = 4, 3
    lab.churn.value = tasks.ImputationConfig.recommended().with_steps(4).s_churn   # what --steps 4 gives the CLI
    req = replace(lab.request(), seconds=1.6)   # (the slider moves in 0.5 s steps) 1.6 s spans 2 chunks
    plan = lab_session.prepare(req, lab.model, TOY)
    lab_session.execute(plan)
    assert n_cli == len(rec.calls) - n_cli == 1, "both impute the whole track in one call"
    (cli_args, cli_kw), (lab_args, lab_kw) = rec.calls
    assert torch.equal(lab_args[1], cli_args[1]), "same known stems"
    assert lab_args[1].shape == (1, 4, round(1.6 * SR))
    assert lab_args[2] == cli_args[2] == ("bass", "piano")
    assert lab_args[3] == cli_args[3] == tasks.ImputationConfig.recommended().with_steps(4).with_heun()
    assert seed_of(lab_kw.pop("generator")) == seed_of(cli_kw.pop("generator")) == (3, "cpu")
    lab_kw.pop("callback"), cli_kw.pop("callback")
    assert lab_kw.pop("batch_size") >= 8 and cli_kw.pop("batch_size") == 8
    assert lab_kw == cli_kw == {"chunk_length": 32768, "chunking": "seamless", "overlap": 8192,
                                "precision": tasks.resolve_precision("auto", "cpu")}
    command = lab_session.command_line(req)
    assert "--keep bass,piano" in command and "--sampler heun" in command and "--resamples" not in command


def test_generate_makes_the_same_call_as_msdm_generate(lab, checkpoint, tmp_path, monkeypatch):
    rec = Recorder("generate")
    monkeypatch.setattr(tasks, "generate", rec)
    argv = ["generate", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "cli"), "--seconds", "1",
            "--steps", "5", "--churn", "0", "--seed", "11", "--quiet"]
    assert cli.main(argv) == 0
    lab.task.value = "generate"
    lab.steps.value, lab.churn.value, lab.seed.value, lab.seconds.value = 5, 0.0, 11, 1.0
    result = lab.sample(wait=True)
    assert result is not None, text(lab)
    assert result.audio.shape == (4, SR)
    (cli_args, cli_kw), (lab_args, lab_kw) = rec.calls
    assert lab_args[1] == cli_args[1] == (1, 4, 22528)     # 1 s rounded up to a multiple of 1024
    assert seed_of(lab_kw.pop("generator")) == seed_of(cli_kw.pop("generator")) == (11, "cpu")
    lab_kw.pop("callback"), cli_kw.pop("callback")
    assert lab_kw == cli_kw
    assert lab_kw["config"] == tasks.GenerationConfig.paper().replace(num_steps=5, s_churn=0.0)


def test_generation_is_autoguided_by_the_companion_guide_as_on_the_command_line(
        checkpoint, tmp_path, monkeypatch):
    from msdm_tutorial.autoguidance import AutoguidedDenoiser

    main = tmp_path / "model.pt"
    main.write_bytes(checkpoint.read_bytes())
    torch.manual_seed(1)
    checkpoints.save(tmp_path / "model-guide.pt", EDMDenoiser(unet.build("tiny"), stems=STEMS, sample_rate=SR), "tiny",
                     extra={"autoguidance": {"weight": 1.5, "sigma_max": 2.0}})
    rec = Recorder("generate")
    monkeypatch.setattr(tasks, "generate", rec)
    assert cli.main(["generate", "--checkpoint", str(main), "--out", str(tmp_path / "cli"), "--seconds", "0.5",
                     "--steps", "2", "--quiet"]) == 0
    lab = widgets.SamplingLab(checkpoint=main, data_root=TOY, seconds=0.5, steps=2)
    lab.task.value = "generate"
    assert lab.sample(wait=True) is not None, text(lab)
    for args, _ in rec.calls:
        model = args[0]
        assert isinstance(model, AutoguidedDenoiser) and (model.weight, model.sigma_max) == (1.5, 2.0)
    assert "--guide" not in lab.command_line(), "msdm generate takes the companion by default"
    for task, name in (("impute", "impute_long"), ("separate", "separate_long")):   # the model alone, as the CLI's
        rec = Recorder(name)
        monkeypatch.setattr(tasks, name, rec)
        lab.task.value = task
        lab.song.value = SONG
        assert lab.sample(wait=True) is not None, text(lab)
        assert not isinstance(rec.calls[0][0][0], AutoguidedDenoiser)


# ----------------------------------------------------------------------------------------------
# bad input: a readable message, never a traceback
# ----------------------------------------------------------------------------------------------

def test_not_audio_upload_is_a_readable_message(lab):
    lab.task.value = "separate"
    upload(lab, b"%PDF-1.4 this is not a sound file at all" * 20, "notes.pdf")
    assert lab.sample(wait=True) is None
    assert_readable(lab, "notes.pdf: not a readable audio file")
    assert lab.sample_button.disabled is False


def test_wrong_sample_rate_is_resampled_and_stereo_downmixed(lab):
    y = song_mix(0.5)
    y16 = np.interp(np.arange(int(len(y) * 16000 / SR)) * SR / 16000, np.arange(len(y)), y)
    lab.task.value = "separate"
    upload(lab, wav_bytes(np.stack([y16, 0.5 * y16], 1), 16000, "FLAC"), "low-rate.flac")
    plan = lab_session.prepare(lab.request(), lab.model, TOY)
    assert plan.mixture.shape == (round(len(y16) * SR / 16000),)
    assert any("resampled from 16000 Hz" in n for n in plan.notes)
    assert any("2 channels, downmixed to mono" in n for n in plan.notes)
    err = plan.mixture[:len(y)].numpy() - 0.75 * y[:len(plan.mixture)]
    assert np.linalg.norm(err) < 0.2 * np.linalg.norm(0.75 * y), "(L + R) / 2 of the 16 kHz copy ≈ 0.75 y"
    assert lab.sample(wait=True) is not None, text(lab)
    assert_readable(lab, "resampled from 16000 Hz to the model's 22050 Hz", "downmixed to mono")
    assert "no reference stems" in lab.scores.value


def test_no_stems_selected_is_a_readable_message(lab):
    lab.task.value = "impute"
    for cb in lab.keep.values():
        cb.value = False
    assert lab.sample(wait=True) is None
    assert_readable(lab, "no stems selected")
    assert "no stems selected" in lab.info.value, "the controls already say so before Sample"
    for cb in lab.keep.values():
        cb.value = True
    assert lab.sample(wait=True) is None
    assert_readable(lab, "every stem is kept")


@pytest.mark.parametrize("content, needle", [
    (None, "no file uploaded"),
    (b"", "no file uploaded"),
    ("silent", "the mixture is silent"),
    ("nan", "NaN/Inf"),
])
def test_other_bad_uploads(lab, content, needle):
    lab.task.value, lab.source.value = "separate", "upload"
    if content == "silent":
        upload(lab, wav_bytes(np.zeros(4000), SR), "quiet.wav")
    elif content == "nan":
        upload(lab, wav_bytes(np.full(4000, np.nan), SR), "nan.wav")
    elif content is not None:
        upload(lab, content, "empty.wav")
    assert lab.sample(wait=True) is None
    assert_readable(lab, needle)


def test_isdm_separation_makes_the_same_call_as_msdm_separate_isdm(checkpoint, tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "msdm-tiny.pt").symlink_to(checkpoint)
    cfg1 = unet.PRESETS["tiny"].replace(in_channels=1)
    for k, s in enumerate(STEMS):
        torch.manual_seed(k)
        checkpoints.save(folder / f"isdm-tiny-{s}.pt", EDMDenoiser(unet.build(cfg1), stems=(s,), sample_rate=SR), cfg1)
    lab = widgets.SamplingLab(checkpoint=folder / "msdm-tiny.pt", data_root=TOY, seconds=0.5, steps=2)
    lab.sampler.value = "euler"      # the paper's ISDM sampler, as the command below asks for
    assert {"isdm-dirac", "isdm-gaussian"} <= set(dict(lab.method.options).values()) and not lab.method_note.value
    content = wav_bytes(song_mix(0.3), SR)
    (tmp_path / "mix.wav").write_bytes(content)
    rec = Recorder("separate")
    monkeypatch.setattr(tasks, "separate_long", rec)
    spec = ",".join(f"{s}={folder / f'isdm-tiny-{s}.pt'}" for s in STEMS)
    assert cli.main(["separate", "--isdm", spec, str(tmp_path / "mix.wav"), "--out", str(tmp_path / "cli"),
                     "--sampler", "euler", "--steps", "2", "--sigma-max", "1", "--seed", "5", "--quiet"]) == 0
    lab.method.value = "isdm-dirac"
    upload(lab, content, "mix.wav")
    lab.steps.value, lab.seed.value = 2, 5
    assert lab.churn.value == pytest.approx(options.RECOMMENDED_SEPARATION["churn"])  # as the CLI's default
    lab.resamples.value = tasks.SeparationConfig.paper_isdm_dirac().num_resamples
    assert lab.sample(wait=True) is not None, text(lab)
    (cli_args, cli_kw), (lab_args, lab_kw) = rec.calls
    assert isinstance(lab_args[0], tasks.ISDMDenoiser) and lab_args[0].stems == cli_args[0].stems == STEMS
    assert torch.equal(lab_args[1], cli_args[1])
    assert lab_args[2] == cli_args[2] == \
        tasks.SeparationConfig.paper_isdm_dirac().replace(num_steps=2, s_churn=0.4, sigma_min=3e-3)
    assert seed_of(lab_kw.pop("generator")) == seed_of(cli_kw.pop("generator")) == (5, "cpu")
    lab_kw.pop("callback"), cli_kw.pop("callback")
    assert lab_kw == cli_kw
    assert "msdm separate --isdm bass=" in html.unescape(lab.command.value)


def test_isdm_is_disabled_with_a_note_when_its_checkpoints_are_missing(lab):
    assert "isdm-dirac" not in dict(lab.method.options).values()
    assert "ISDM is disabled" in lab.method_note.value
    with pytest.raises(lab_session.LabError, match="ISDM needs"):
        lab_session.prepare(lab_session.LabRequest(method="isdm-dirac", track=SONG), lab.model, TOY)


def test_a_failing_run_is_a_readable_message(lab, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("out of memory\nsecond line of a long error")

    monkeypatch.setattr(tasks, "separate_long", boom)
    lab.task.value, lab.source.value = "separate", "toy"
    assert lab.sample(wait=True) is None
    assert_readable(lab, "out of memory")
    assert "second line" not in text(lab) and lab.progress.bar_style == "danger"


def test_missing_checkpoint_is_a_lab_error(tmp_path):
    with pytest.raises(lab_session.LabError, match="no such checkpoint"):
        widgets.SamplingLab(checkpoint=tmp_path / "nope.pt", data_root=TOY)


# ----------------------------------------------------------------------------------------------
# a real run, the results, cancel
# ----------------------------------------------------------------------------------------------

def test_real_separation_fills_every_result(lab, tmp_path):
    lab.task.value, lab.source.value, lab.song.value = "separate", "toy", SONG
    lab.steps.value, lab.resamples.value, lab.seconds.value = 3, 1, 0.5
    result = lab.sample(wait=True)
    assert result is not None, text(lab)
    assert result.audio.shape == (4, int(0.5 * SR))
    assert torch.allclose(result.audio.sum(0), result.mixture, atol=1e-4), "Dirac: the stems sum to the mixture"
    assert set(result.si_sdri) == set(STEMS) and "SI-SDRi" in lab.scores.value
    assert lab.figure.value[:4] == b"\x89PNG"
    assert len(lab.players.children) == 1 and lab.players.children[0].children, "a grid of players"
    assert lab.trajectory.max == len(result.frames) - 1 == 2 and lab.trajectory.value == 2
    assert [f.step for f in result.frames] == [0, 1, 2]
    assert lab.progress.value == lab.progress.max == 3 and lab.progress.bar_style == "success"
    assert "at the last run's speed" in lab.info.value, "after a run the lab estimates the next run's time"
    final = lab.figure.value
    lab.trajectory.value = 0
    assert lab.figure.value != final and f"σ = {result.config.sigma_max:g}" in lab.trajectory_label.value
    lab.trajectory.value = 2
    assert lab.figure.value == final
    paths = lab.save(tmp_path / "saved")
    assert [p.name for p in paths] == [f"{s}.wav" for s in STEMS] + ["mix.wav"]
    data, sr = sf.read(paths[0])
    assert sr == SR and len(data) == int(0.5 * SR)
    assert "wrote 5 files" in lab.save_message.value


def test_save_into_a_file_is_a_readable_message(lab, tmp_path):
    assert lab.save(tmp_path) is None and "press Sample first" in lab.save_message.value
    lab.task.value, lab.steps.value, lab.seconds.value = "generate", 1, 0.5
    assert lab.sample(wait=True) is not None, text(lab)
    (tmp_path / "file").write_text("x")
    assert lab.save(tmp_path / "file") is None
    assert "exists and is not a folder" in lab.save_message.value


def test_cancel_stops_the_run(lab):
    lab.task.value, lab.steps.value, lab.seconds.value = "generate", 200, 0.5
    lab.sample()
    deadline = time.time() + 60
    while lab.progress.value < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert lab.running and lab.cancel_button.disabled is False
    lab.cancel()
    assert lab.wait(60) is None
    assert not lab.running and "cancelled" in lab.status.value and lab.progress.value < 200
    assert lab.sample_button.disabled is False and lab.cancel_button.disabled is True
    assert_readable(lab, "cancelled")


def test_read_upload_accepts_wav_and_flac():
    y = song_mix(0.2)
    for fmt in ("WAV", "FLAC"):
        audio, notes = lab_session.read_upload(wav_bytes(y, SR, fmt), f"x.{fmt.lower()}", SR)
        assert notes == [] and audio.dtype == torch.float32
        assert np.allclose(audio.numpy(), y, atol=1e-4)
