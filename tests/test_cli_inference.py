"""``msdm generate / impute / separate / evaluate`` on a tiny random-weight checkpoint.

Every run uses a few sampler steps and short chunks (--chunk-seconds 0.2 → 5120 samples), so each
command takes a second or two on a laptop CPU. What is checked: the files each command writes, the
--json contents, --seed reproducibility (identical bytes), the Dirac constraint Σ stems = mixture
through the whole pipeline (resampling and downmixing included), and that every bad input gives one
line on stderr, exit status 2 and no output at all.
"""

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from msdm_tutorial import STEMS, checkpoints, cli, options, unet
from msdm_tutorial.course import data_small
from msdm_tutorial.data.audio import read_audio
from msdm_tutorial.data.datasets import load_track
from msdm_tutorial.denoiser import EDMDenoiser
from msdm_tutorial.configs import ImputationConfig

SR = 22050
TRACK = data_small() / "toy" / "test" / "Track00029"
FAST = ["--steps", "2", "--chunk-seconds", "0.2", "--quiet"]
GEN = ["--steps", "2", "--quiet"]   # generate has no chunks


def _save_model(path, stems, seed=None, extra=None):
    torch.manual_seed(len(stems) if seed is None else seed)
    cfg = unet.PRESETS["tiny"].replace(in_channels=len(stems))
    checkpoints.save(path, EDMDenoiser(unet.build(cfg), stems=tuple(stems), sample_rate=SR), cfg, extra=extra)
    return str(path)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"msdm": _save_model(root / "msdm.pt", STEMS),
            "bass": _save_model(root / "bass.pt", ("bass",)),
            "drums": _save_model(root / "drums.pt", ("drums",))}


@pytest.fixture(scope="module")
def track():
    return load_track(TRACK)  # (4, T) at 22050 Hz, read from FLAC


@pytest.fixture
def mixture(tmp_path, track):
    """0.4 s of the toy song's mixture, as a stereo 44.1 kHz WAV (both resampled and downmixed by the CLI)."""
    y = track.sum(0)[:int(0.4 * SR)].numpy()
    y44 = np.interp(np.arange(2 * len(y)) / 2, np.arange(len(y)), y)
    path = tmp_path / "mix44.wav"
    sf.write(path, np.stack([y44, y44], 1), 44100, subtype="FLOAT")
    return path


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _read(path):
    data, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return data


# ----------------------------------------------------------------------------------------------
# help and outputs
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["generate", "impute", "separate", "evaluate"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and command in out and "--json" in out and "--seed" in out and "--steps" in out


def test_generate_files_json_and_seed(tmp_path, models):
    def run(out, seed):
        args = ["generate", "--checkpoint", models["msdm"], "--out", str(tmp_path / out), "--seconds", "0.3",
                "--seed", str(seed), "--json", str(tmp_path / f"{out}.json"), *GEN]
        assert cli.main(args) == 0
        return tmp_path / out

    a, b, c = run("a", 1), run("b", 1), run("c", 2)
    assert _files(a) == sorted(f"{s}.wav" for s in (*STEMS, "mix"))
    for name in _files(a):
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs under the same seed"
    assert (a / "bass.wav").read_bytes() != (c / "bass.wav").read_bytes()
    stems = np.stack([_read(a / f"{s}.wav") for s in STEMS])
    assert stems.shape == (4, round(0.3 * SR))
    np.testing.assert_allclose(stems.sum(0), _read(a / "mix.wav"), atol=4 / 32768)
    info = json.loads((tmp_path / "a.json").read_text())
    assert info["stems"] == list(STEMS) and info["samples"] == round(0.3 * SR) and info["seed"] == 1
    assert info["config"]["num_steps"] == 2 and info["config"]["sigma_max"] == 20.0 and info["config"]["nfe"] == 2
    assert len(info["files"]) == 5

    assert cli.main(["generate", "--checkpoint", models["msdm"], "--out", str(tmp_path / "batch"),
                     "--seconds", "0.1", "--batch", "2", "--sampler", "heun", *GEN]) == 0
    assert _files(tmp_path / "batch") == sorted(f"sample_00{i}/{s}.wav" for i in (0, 1) for s in (*STEMS, "mix"))


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    """A model with a companion guide NAME-guide.pt that records its weight, and a guide of another stem set."""
    root = tmp_path_factory.mktemp("guided")
    return {"msdm": _save_model(root / "model.pt", STEMS),
            "guide": _save_model(root / "model-guide.pt", STEMS, seed=7,
                                 extra={"autoguidance": {"weight": 2.0, "sigma_max": 1.5}}),
            "bass": _save_model(root / "bass.pt", ("bass",))}


def test_generate_is_autoguided_by_the_companion_guide_and_impute_on_request(tmp_path, guided):
    def run(command, out, *extra):
        args = [command, "--checkpoint", guided["msdm"], "--out", str(tmp_path / out), "--seconds", "0.2",
                "--json", str(tmp_path / f"{out}.json"), *extra]
        args += GEN if command == "generate" else ["--track", str(TRACK), "--keep", "bass,drums", *FAST]
        assert cli.main(args) == 0
        return json.loads((tmp_path / f"{out}.json").read_text())["autoguidance"], _read(tmp_path / out / "piano.wav")

    for command in ("generate", "impute"):
        record, auto = run(command, f"{command}-auto", "--guide", "auto")
        assert record == {"guide": guided["guide"], "weight": 2.0, "sigma_max": 1.5}, "the companion at its recorded setting"
        none_record, plain = run(command, f"{command}-none", "--guide", "none")
        assert none_record is None and not np.array_equal(auto, plain), "guidance changes the result"
        one_record, one = run(command, f"{command}-w1", "--guide", "auto", "--guide-weight", "1")
        assert one_record["weight"] == 1.0 and np.array_equal(one, plain), "w = 1 is the model alone"
        default_record, _ = run(command, f"{command}-default")
        assert default_record == (record if command == "generate" else None), "generate guides by default, impute not"
    record, _ = run("generate", "explicit", "--guide", guided["guide"], "--guide-weight", "3", "--guide-sigma-max", "20")
    assert record == {"guide": guided["guide"], "weight": 3.0, "sigma_max": 20.0}
    # a checkpoint without a companion is not guided
    assert cli.main(["generate", "--checkpoint", guided["bass"], "--out", str(tmp_path / "b"), "--seconds", "0.2",
                     "--json", str(tmp_path / "b.json"), *GEN]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["autoguidance"] is None


def test_impute_keeps_the_given_stems(tmp_path, models, track):
    out, js = tmp_path / "out", tmp_path / "i.json"
    assert cli.main(["impute", "--checkpoint", models["msdm"], "--track", str(TRACK), "--keep", "drums,bass",
                     "--out", str(out), "--seconds", "0.3", "--json", str(js), *FAST]) == 0
    assert _files(out) == sorted(f"{s}.wav" for s in (*STEMS, "mix"))
    n = round(0.3 * SR)
    for k, s in enumerate(STEMS):
        audio = _read(out / f"{s}.wav")
        assert audio.shape == (n,)
        if s in ("bass", "drums"):   # FLAC 16-bit in, 16-bit WAV out: bit-exact
            np.testing.assert_array_equal(audio, track[k, :n].numpy())
        else:
            assert np.abs(audio).max() > 0
    info = json.loads(js.read_text())
    assert info["keep"] == ["drums", "bass"] and info["generated"] == ["guitar", "piano"]
    # the paper's imputation churn per step: S_churn 10 at 256 steps → 10·2/256 at 2 steps
    assert info["config"]["num_steps"] == 2 and info["config"]["s_churn"] == pytest.approx(10.0 * 2 / 256)
    # the course's recommended imputation: reconstruction guidance 2, and --guidance 0 is the paper's method
    assert info["config"]["guidance"] == ImputationConfig.recommended().guidance == 2.0
    plain, js0 = tmp_path / "plain", tmp_path / "i0.json"
    assert cli.main(["impute", "--checkpoint", models["msdm"], "--track", str(TRACK), "--keep", "drums,bass",
                     "--out", str(plain), "--seconds", "0.3", "--json", str(js0), "--guidance", "0", *FAST]) == 0
    assert json.loads(js0.read_text())["config"]["guidance"] == 0.0
    assert not np.array_equal(_read(plain / "piano.wav"), _read(out / "piano.wav")), "guidance changes the result"
    assert cli.main(["impute", "--checkpoint", models["msdm"], "--track", str(TRACK), "--keep", "drums,bass",
                     "--out", str(tmp_path / "bad"), "--guidance", "-1", *FAST]) != 0
    assert not (tmp_path / "bad").exists()


def test_separate_dirac_sums_to_the_mixture(tmp_path, models, mixture, capsys):
    def run(out, *extra):
        assert cli.main(["separate", "--checkpoint", models["msdm"], str(mixture), "--out", str(tmp_path / out),
                         "--json", str(tmp_path / f"{out}.json"), *FAST, *extra]) == 0
        return tmp_path / out

    a = run("a")
    err = capsys.readouterr().err
    assert "downmixed to mono" in err and "resampled from 44100 Hz" in err
    b = run("b")
    assert _files(a) == sorted(f"{s}.wav" for s in (*STEMS, "mix"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in _files(a))
    read = read_audio(mixture, SR)
    assert any("downmixed" in n for n in read.notes)
    y = read.audio[0].numpy()
    stems = np.stack([_read(a / f"{s}.wav") for s in STEMS])
    assert stems.shape == (4, len(y))
    # Dirac: Σ stems = y exactly, up to float32 rounding (a random model's stems can be huge) and 16-bit
    # PCM (libsndfile writes v·32767 and reads /32768: an error of up to (|v| + ½) LSB)
    rounding = 4 * 2 ** -23 * np.abs(stems).max()
    np.testing.assert_allclose(_read(a / "mix.wav"), y, atol=rounding + 2 / 32768)
    np.testing.assert_allclose(stems.sum(0), y, atol=rounding + 8 / 32768)
    info = json.loads((tmp_path / "a.json").read_text())
    assert info["model"] == "MSDM" and info["method"] == "dirac" and info["chunk_length"] == 5120
    # the recommended setting: the paper's Euler × R 2 (2·2 NFE) from σ_max 1, with the recommended S_churn
    # (which --steps does not rescale: it is given, not the preset's churn per step)
    assert info["config"]["sampler"] == "euler" and info["config"]["num_resamples"] == 2 and info["config"]["nfe"] == 4
    assert info["config"]["s_churn"] == options.RECOMMENDED_SEPARATION["churn"] and info["config"]["sigma_max"] == 1.0

    c = run("c", "--constrain", "piano")
    info = json.loads((tmp_path / "c.json").read_text())
    assert info["config"]["source_id"] == STEMS.index("piano")
    stems_c = np.stack([_read(c / f"{s}.wav") for s in STEMS])
    assert not np.array_equal(stems_c, stems)                 # another stem takes the residual…
    np.testing.assert_allclose(stems_c.sum(0), y, atol=4 * 2 ** -23 * np.abs(stems_c).max() + 8 / 32768)  # …still exact

    r = run("r", "--sampler", "euler", "--resamples", "3")
    info = json.loads((tmp_path / "r.json").read_text())
    assert info["config"]["num_resamples"] == 3 and info["config"]["nfe"] == 6, "--resamples overrides R 2"

    g = run("g", "--method", "gaussian", "--sampler", "heun")
    assert _files(g) == _files(a)
    info = json.loads((tmp_path / "g.json").read_text())
    assert info["config"]["sampler"] == "heun" and info["config"]["nfe"] == 3
    # the Gaussian likelihood's own recommended S_churn (the Dirac one's 12-step grid fails it)
    assert info["config"]["s_churn"] == options.RECOMMENDED_GAUSSIAN["churn"] != options.RECOMMENDED_SEPARATION["churn"]
    g40 = run("g40", "--method", "gaussian", "--sampler", "heun", "--churn", "40")
    assert json.loads((tmp_path / "g40.json").read_text())["config"]["s_churn"] == 40.0 and _files(g40) == _files(a)


def test_separate_isdm(tmp_path, models, mixture):
    out = tmp_path / "out"
    spec = f"bass={models['bass']},drums={models['drums']}"
    assert cli.main(["separate", "--isdm", spec, str(mixture), "--out", str(out), "--json", str(tmp_path / "j"),
                     *FAST]) == 0
    assert _files(out) == ["bass.wav", "drums.wav", "mix.wav"]
    info = json.loads((tmp_path / "j").read_text())
    assert info["model"] == "ISDM" and info["isdm"] == {"bass": models["bass"], "drums": models["drums"]}


def test_evaluate_json_and_csv(tmp_path, models):
    js, csv_dir = tmp_path / "e.json", tmp_path / "csv"
    assert cli.main(["evaluate", "--checkpoint", models["msdm"], "--data", str(data_small() / "toy"),
                     "--limit", "2", "--seconds", "0.5", "--json", str(js), "--csv", str(csv_dir), *FAST]) == 0
    res = json.loads(js.read_text())
    summary = res["summary"]
    assert set(summary["si_sdri"]) == set(STEMS) and summary["num_tracks"] == 2
    assert math.isclose(summary["average"], sum(summary["si_sdri"].values()) / 4)
    assert len(res["windows"]) == summary["num_windows"] >= 2
    assert res["run"]["tracks"] == ["Track00029", "Track00030"] and res["run"]["config"]["nfe"] == 4   # Euler 2 steps × R 2
    assert res["protocol"]["window_seconds"] == 4.0
    rows = (csv_dir / "windows.csv").read_text().splitlines()
    assert rows[0] == "track,start_sample,end_sample,active_stems,bass,drums,guitar,piano"
    assert len(rows) == 1 + summary["num_windows"]
    assert (csv_dir / "summary.csv").read_text().splitlines()[-1].startswith("average,")


def test_outputs_are_all_or_nothing(tmp_path, models, mixture, monkeypatch):
    """A failure while writing leaves neither OUT nor a temporary folder; an existing OUT keeps other files."""
    import msdm_tutorial.data.audio as audio

    real = audio.save_audio
    calls = []

    def failing(path, *a, **k):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(f"{path}: No space left on device")
        return real(path, *a, **k)

    monkeypatch.setattr(audio, "save_audio", failing)
    args = ["separate", "--checkpoint", models["msdm"], str(mixture), "--out", str(tmp_path / "out"), *FAST]
    assert cli.main(args) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix44.wav"]
    calls.clear()
    nested = ["separate", "--checkpoint", models["msdm"], str(mixture), "--out", str(tmp_path / "a" / "b" / "out"), *FAST]
    assert cli.main(nested) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix44.wav"], "folders made for OUT are removed"
    monkeypatch.setattr(audio, "save_audio", real)

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(args) == 0
    assert _files(out) == sorted(["notes.txt", *(f"{s}.wav" for s in (*STEMS, "mix"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix44.wav", "out"]


# ----------------------------------------------------------------------------------------------
# bad inputs: one line on stderr naming the input, exit 2, nothing written
# ----------------------------------------------------------------------------------------------

def _bad_inputs(tmp_path, models):
    sf.write(tmp_path / "silent.wav", np.zeros(SR // 2, dtype=np.float32), SR)
    (tmp_path / "text.wav").write_text("this is not audio\n")
    nan = np.full(SR // 2, 0.1, dtype=np.float32)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, SR, subtype="FLOAT")
    bad_track = tmp_path / "Track99999"
    bad_track.mkdir()
    sf.write(bad_track / "bass.wav", nan, SR, subtype="FLOAT")
    for stem in ("drums", "guitar", "piano"):
        sf.write(bad_track / f"{stem}.wav", np.full(SR // 2, 0.1, dtype=np.float32), SR)
    return bad_track


BAD = {
    "silent mixture": (["separate", "--checkpoint", "{msdm}", "{tmp}/silent.wav"], "silent.wav: the mixture is silent"),
    "not audio": (["separate", "--checkpoint", "{msdm}", "{tmp}/text.wav"], "text.wav: not a readable audio file"),
    "NaN samples": (["separate", "--checkpoint", "{msdm}", "{tmp}/nan.wav"], "nan.wav: contains 1 NaN/Inf sample"),
    "missing mixture": (["separate", "--checkpoint", "{msdm}", "{tmp}/nope.wav"], "nope.wav: no such file"),
    "missing checkpoint": (["separate", "--checkpoint", "{tmp}/nope.pt", "{tmp}/nan.wav"], "nope.pt: no such checkpoint"),
    "audio as checkpoint": (["generate", "--checkpoint", "{tmp}/silent.wav"], "silent.wav: not a checkpoint"),
    "stems differ from --stems": (["separate", "--checkpoint", "{msdm}", "--stems", "vocals,bass,drums,other",
                                   "{tmp}/nan.wav"], "msdm.pt: the checkpoint's stems are bass, drums, guitar, piano"),
    "ISDM checkpoint of another stem": (["separate", "--isdm", "bass={drums},drums={bass}", "{tmp}/nan.wav"],
                                        "drums.pt: --isdm assigns it to 'bass', but it is a checkpoint of drums"),
    "single-stem model": (["evaluate", "--checkpoint", "{bass}", "--data", str(TRACK.parents[1])],
                          "bass.pt: a model of the single stem 'bass' has nothing to separate"),
    "--keep unknown stem": (["impute", "--checkpoint", "{msdm}", "--track", str(TRACK), "--keep", "drums,vocals"],
                            "--keep: unknown stem(s) 'vocals'"),
    "--keep a stem the model lacks": (["impute", "--checkpoint", "{bass}", "--track", str(TRACK), "--keep", "drums"],
                                      "--keep: unknown stem(s) 'drums'; the checkpoint"),
    "--keep every stem": (["impute", "--checkpoint", "{msdm}", "--track", str(TRACK), "--keep",
                           "piano,guitar,drums,bass"], "nothing to impute"),
    "NaN in a kept stem": (["impute", "--checkpoint", "{msdm}", "--track", "{tmp}/Track99999", "--keep", "bass"],
                           "bass.wav: contains 1 NaN/Inf sample"),
    "missing track": (["impute", "--checkpoint", "{msdm}", "--track", "{tmp}/Track00000", "--keep", "bass"],
                      "Track00000: no such track folder"),
    "missing data": (["evaluate", "--checkpoint", "{msdm}", "--data", "{tmp}/nodata"], "nodata: no such data folder"),
    "NaN in test data": (["evaluate", "--checkpoint", "{msdm}", "--data", "{tmp}", "--split", "."],
                         "bass.wav: contains 1 NaN/Inf sample"),
    "OUT is a file": (["separate", "--checkpoint", "{msdm}", "{tmp}/silent.wav", "--out", "{tmp}/text.wav"],
                      "text.wav: exists and is not a folder"),
    "no model": (["separate", "{tmp}/silent.wav"], "give either --checkpoint"),
    "--constrain unknown stem": (["separate", "--checkpoint", "{msdm}", "{tmp}/nan.wav", "--constrain", "vocals"],
                                 "--constrain vocals: unknown stem; the model's stems are bass, drums, guitar, piano"),
    "--constrain with gaussian": (["evaluate", "--checkpoint", "{msdm}", "--data", str(TRACK.parents[1]),
                                   "--method", "gaussian", "--constrain", "bass"],
                                  "--constrain bass: only the dirac method constrains a stem"),
    "guide of other stems": (["generate", "--checkpoint", "{msdm}", "--guide", "{bass}"],
                             "bass.pt: the checkpoint's stems are bass, not the requested bass, drums, guitar, piano"),
    "missing guide": (["impute", "--checkpoint", "{msdm}", "--track", str(TRACK), "--keep", "bass",
                       "--guide", "{tmp}/nope.pt"], "nope.pt: no such checkpoint file"),
    "guide weight below 1": (["generate", "--checkpoint", "{msdm}", "--guide-weight", "0.5"],
                             "--guide-weight: 0.5: must be >= 1"),
    "--json into a missing folder": (["generate", "--checkpoint", "{msdm}", "--json", "{tmp}/no/such/r.json"],
                                     "--json {tmp}/no/such/r.json: the folder {tmp}/no/such does not exist"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_2_no_output(case, tmp_path, models, capsys):
    _bad_inputs(tmp_path, models)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv, message = BAD[case]
    argv = [a.format(tmp=tmp_path, **models) for a in argv]
    message = message.format(tmp=tmp_path)
    command = argv[0]
    if "--out" not in argv and command != "evaluate":
        argv += ["--out", str(tmp_path / "out")]
    if "--json" not in argv:
        argv += ["--json", str(tmp_path / "out.json")]
    argv += GEN if command == "generate" else FAST
    if command == "evaluate":
        argv += ["--csv", str(tmp_path / "csv")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"msdm {command}: error: ") and message in err[0], err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was written"


# ----------------------------------------------------------------------------------------------
# long inputs: seamless chunks, outpainting, precision
# ----------------------------------------------------------------------------------------------

def test_generate_outpaints_songs_longer_than_a_chunk(tmp_path, models):
    js = tmp_path / "g.json"
    assert cli.main(["generate", "--checkpoint", models["msdm"], "--out", str(tmp_path / "g"), "--seconds", "0.6",
                     "--chunk-seconds", "0.2", "--precision", "fp32", "--json", str(js), *GEN]) == 0
    info = json.loads(js.read_text())
    n = round(0.6 * SR)
    assert info["samples"] == n and info["chunk_length"] == 5120 and info["overlap"] == 1280
    assert info["chunks"] == 1 + math.ceil((n - 5120) / (5120 - 1280)) and info["precision"] == "fp32"
    assert _read(tmp_path / "g" / "bass.wav").shape == (n,)


def test_separate_and_evaluate_record_chunking_and_precision(tmp_path, models, mixture):
    from msdm_tutorial.tasks import resolve_precision

    runs = {}
    for name, extra in {"seamless": [], "independent": ["--chunking", "independent"],
                        "fp32": ["--precision", "fp32", "--overlap", "0.1"]}.items():
        out, js = tmp_path / name, tmp_path / f"{name}.json"
        assert cli.main(["separate", "--checkpoint", models["msdm"], str(mixture), "--out", str(out),
                         "--json", str(js), *FAST, *extra]) == 0
        runs[name] = (json.loads(js.read_text()), np.stack([_read(out / f"{s}.wav") for s in STEMS]))
    assert runs["seamless"][0]["chunking"] == "seamless" and runs["seamless"][0]["overlap"] == 640   # an eighth
    assert runs["seamless"][0]["precision"] == resolve_precision("auto", "cpu")
    assert runs["independent"][0]["chunking"] == "independent"
    assert runs["fp32"][0]["precision"] == "fp32" and runs["fp32"][0]["overlap"] == 512
    y = _read(tmp_path / "seamless" / "mix.wav")
    for info, stems in runs.values():        # Dirac: every design keeps Σ stems = mixture
        np.testing.assert_allclose(stems.sum(0), y, atol=4 * 2 ** -23 * np.abs(stems).max() + 8 / 32768)
    assert not np.array_equal(runs["seamless"][1], runs["independent"][1])
    js = tmp_path / "e.json"
    assert cli.main(["evaluate", "--checkpoint", models["msdm"], "--data", str(data_small() / "toy"), "--limit", "1",
                     "--seconds", "0.5", "--chunking", "independent", "--precision", "bf16", "--json", str(js),
                     *FAST]) == 0
    run = json.loads(js.read_text())["run"]
    assert run["chunking"] == "independent" and run["precision"] == "bf16"


def test_impute_long_track_keeps_stems_across_chunks(tmp_path, models, track):
    out, js = tmp_path / "out", tmp_path / "i.json"
    assert cli.main(["impute", "--checkpoint", models["msdm"], "--track", str(TRACK), "--keep", "drums",
                     "--out", str(out), "--seconds", "0.6", "--json", str(js), *FAST]) == 0
    n = round(0.6 * SR)
    np.testing.assert_array_equal(_read(out / "drums.wav"), track[1, :n].numpy())
    info = json.loads(js.read_text())
    assert info["chunking"] == "seamless" and info["chunk_length"] == 5120


def test_compile_wraps_the_networks_without_running_them():
    """--compile hands each network to torch.compile (compiling happens on the first call, not tested here:
    it takes minutes on a CPU)."""
    from msdm_tutorial.models import compile_model
    from msdm_tutorial.tasks import AutoguidedDenoiser, ISDMDenoiser

    def tiny(stems):
        cfg = unet.PRESETS["tiny"].replace(in_channels=len(stems))
        return EDMDenoiser(unet.build(cfg), stems=tuple(stems), sample_rate=SR)

    msdm = compile_model(tiny(STEMS))
    isdm = compile_model(ISDMDenoiser({"bass": tiny(("bass",)), "drums": tiny(("drums",))}))
    guided = compile_model(AutoguidedDenoiser(tiny(STEMS), tiny(STEMS), 1.5))
    for d in (msdm, *isdm.denoisers, guided.main, guided.guide):
        assert type(d.net).__name__ == "OptimizedModule"
