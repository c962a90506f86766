"""Training: exact resume, DDP equivalence, fine-tuning, export, and clear errors."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from msdm_tutorial import checkpoints, cli, runs, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data_small" / "toy"
FAST = replace(train.PRESETS["tiny"], chunk_length=8192, batch_size=4, steps=4, val_every=0, save_every=100,
               log_every=1, sample_steps=0)


def run_dir_state(run_dir):
    payload = torch.load(runs.checkpoint_paths(run_dir)[0], weights_only=True)
    return payload


def assert_same_weights(a, b):
    for key in ("state_dict", "ema_state_dict"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), f"{key}/{k} differs"


def test_interrupted_and_resumed_run_equals_straight_run(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train.train(FAST, DATA, straight, progress=False, device="cpu")
    summary = train.train(FAST, DATA, resumed, progress=False, device="cpu", stop_after=2)
    assert summary["step"] == 2 and len(runs.checkpoint_paths(resumed)) == 1
    train.train(FAST, DATA, resumed, resume=True, progress=False, device="cpu")
    a, b = run_dir_state(straight), run_dir_state(resumed)
    assert a["extra"]["train_state"]["step"] == b["extra"]["train_state"]["step"] == 4
    assert_same_weights(a, b)
    # the log of the resumed run has each step once
    steps = [json.loads(l)["step"] for l in (resumed / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_training_checkpoint_loads_as_a_denoiser_and_exports_small(tmp_path):
    train.train(replace(FAST, steps=1), DATA, tmp_path / "run", progress=False, device="cpu")
    ckpt = runs.checkpoint_paths(tmp_path / "run")[0]
    d = checkpoints.load(ckpt)
    assert d.stems == ("bass", "drums", "guitar", "piano") and d.sample_rate == 22050
    out = checkpoints.export(ckpt, tmp_path / "model.pt")
    assert out.stat().st_size < 0.6 * ckpt.stat().st_size / 2  # fp16, no optimizer state
    small = checkpoints.load(out)
    x = torch.randn(1, 4, 8192) * 0.2
    with torch.no_grad():
        assert torch.allclose(small(x, 0.1), d.eval()(x, 0.1).clamp(-1, 1), atol=2e-2)


def test_isdm_single_stem_model(tmp_path):
    cfg = replace(train.PRESETS["tiny-isdm"], chunk_length=8192, batch_size=2, steps=1, val_every=0)
    train.train(replace(cfg, stems=("drums",)), DATA, tmp_path, progress=False, device="cpu")
    d = checkpoints.load(runs.checkpoint_paths(tmp_path)[0])
    assert d.stems == ("drums",) and d.net.config.in_channels == 1


def test_one_ddp_step_equals_the_single_process_step(tmp_path):
    """2 CPU processes (gloo) on a global batch of 4 give the weights of 1 process on the same batch."""
    cfg = replace(FAST, steps=1, grad_clip=0.0, autocast="none")
    train.train(cfg, DATA, tmp_path / "single", progress=False, device="cpu")
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys\nfrom dataclasses import replace\nfrom msdm_tutorial import train\n"
        f"cfg = replace(train.PRESETS['tiny'], chunk_length=8192, batch_size=4, steps=1, val_every=0, "
        f"save_every=100, log_every=1, sample_steps=0, grad_clip=0.0, autocast='none')\n"
        f"train.train(cfg, {str(DATA)!r}, {str(tmp_path / 'ddp')!r}, progress=False, device='cpu')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = run_dir_state(tmp_path / "single"), run_dir_state(tmp_path / "ddp")
    # Adam's first moment after one step is (1 − β1)·g: the averaged gradients must agree.
    ga = a["extra"]["train_state"]["optimizer"]["state"]
    gb = b["extra"]["train_state"]["optimizer"]["state"]
    scale = max(v["exp_avg"].abs().max().item() for v in ga.values())
    worst = max((ga[i]["exp_avg"] - gb[i]["exp_avg"]).abs().max().item() for i in ga)
    assert worst < 1e-4 * scale, (worst, scale)
    # and the weights agree up to Adam's sign sensitivity on near-zero gradients (|Δ| ≤ lr)
    for k in a["state_dict"]:
        assert (a["state_dict"][k] - b["state_dict"][k]).abs().max() <= cfg.lr * 1.01, k
    # only rank 0 wrote: one log line per step
    assert len((tmp_path / "ddp" / "log.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--preset", "tiny", "--data", "/nonexistent/data"], "data folder not found"),
    (["--preset", "tiny", "--stems", "bass,flute"], "unknown stem"),
    (["--preset", "tiny", "--stem-loss-weights", "1,1,4"], "need 4 positive numbers"),
    (["--preset", "tiny", "--sigma-high-range", "20,1"], "need LOW,HIGH"),
    (["--preset", "tiny", "--sigma-high-fraction", "1.5"], "sigma-high-fraction"),
    (["--preset", "tiny", "--stem-loss-weights", "1,1,x,4"], "need 4 positive numbers"),
    (["--preset", "tiny", "--stems", "bass", "--stem-loss-weights", "1,2"], "need 1 positive numbers"),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, args, message):
    argv = ["train", "--data", str(DATA), "--out", str(tmp_path / "run"), *args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run").exists()


def test_empty_data_folder_and_foreign_run_folder(tmp_path, capsys):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    assert cli.main(["train", "--preset", "tiny", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    assert "no tracks found" in capsys.readouterr().err
    train.train(replace(FAST, steps=1), DATA, tmp_path / "run", progress=False, device="cpu")
    base = ["train", "--data", str(DATA), "--out", str(tmp_path / "run"), "--chunk-length", "8192", "--steps", "2"]
    assert cli.main([*base, "--preset", "tiny"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert cli.main([*base, "--preset", "tiny", "--resume", "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "another config" in err and "lr" in err
    assert len(runs.checkpoint_paths(tmp_path / "run")) == 1


def test_fine_tuning_starts_from_the_checkpoint_weights(tmp_path):
    train.train(replace(FAST, steps=2), DATA, tmp_path / "base", progress=False, device="cpu")
    base = runs.checkpoint_paths(tmp_path / "base")[0]
    ft = replace(FAST, steps=1, lr=0.0, warmup_steps=0, ema_decay=1.0, sigma_mean=-1.0, sigma_std=1.5,
                 init_from=str(base))
    train.train(ft, DATA, tmp_path / "ft", progress=False, device="cpu")
    a, b = run_dir_state(tmp_path / "base"), run_dir_state(tmp_path / "ft")
    assert b["extra"]["train_state"]["step"] == 1          # a fresh step count
    assert_same_weights(a, b)                                # lr 0 and EMA 1: the weights are the base's
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert saved["init_from"] == str(base) and saved["sigma_mean"] == -1.0


def test_stem_loss_weights_reach_the_training_step_and_the_saved_config(tmp_path, capsys):
    """Same seed, same data: only the piano's weight differs, so the first step's loss differs; the
    config keeps the weights, a resume must repeat them, and a bad weight vector stops before any step."""
    plain = train.train(replace(FAST, steps=1), DATA, tmp_path / "plain", progress=False, device="cpu")
    args = ["train", "--preset", "tiny", "--data", str(DATA), "--out", str(tmp_path / "pw"), "--chunk-length", "8192",
            "--batch-size", "4", "--steps", "1", "--val-every", "0", "--log-every", "1", "--warmup-steps", "100",
            "--stem-loss-weights", "1,1,1,4"]
    assert cli.main(args) == 0
    saved = json.loads((tmp_path / "pw" / "config.json").read_text())
    assert saved["stem_loss_weights"] == [1.0, 1.0, 1.0, 4.0]
    assert train.TrainConfig.from_dict(saved).stem_loss_weights == (1.0, 1.0, 1.0, 4.0)
    first = [json.loads(l)["loss"] for l in (tmp_path / "pw" / "log.jsonl").read_text().splitlines()][0]
    plain_first = json.loads((tmp_path / "plain" / "log.jsonl").read_text().splitlines()[0])["loss"]
    assert abs(first - plain_first) > 1e-3 * plain_first, (first, plain_first)
    assert cli.main([*args[:-2], "--stem-loss-weights", "1,1,1,4", "--steps", "2", "--resume"]) == 0
    assert cli.main([*args[:-2], "--steps", "3", "--resume"]) == 2      # without them it is another config
    assert "stem_loss_weights" in capsys.readouterr().err
    with pytest.raises(ValueError, match="stem_loss_weights"):
        train.train(replace(FAST, steps=1, stem_loss_weights=(1.0, 2.0)), DATA, tmp_path / "bad", progress=False,
                    device="cpu")
    assert not (tmp_path / "bad").exists()


def test_high_sigma_share_reaches_the_run(tmp_path):
    """--sigma-high-fraction/--sigma-high-range build a HighSigmaMixture and are kept in config.json;
    a fraction of 0 leaves the plain log-normal (and its random stream) as before."""
    cfg = replace(FAST, sigma_high_fraction=0.25, sigma_high_range=(2.0, 10.0))
    mix = train.training_sigma(cfg)
    assert mix.fraction == 0.25 and (mix.low, mix.high) == (2.0, 10.0) and mix.base.mean == cfg.sigma_mean
    assert train.training_sigma(FAST) == train.LogNormalSigma(FAST.sigma_mean, FAST.sigma_std)
    args = ["train", "--preset", "tiny", "--data", str(DATA), "--out", str(tmp_path / "hi"), "--chunk-length", "8192",
            "--batch-size", "4", "--steps", "1", "--val-every", "0", "--sigma-high-fraction", "0.25",
            "--sigma-high-range", "2,10"]
    assert cli.main(args) == 0
    saved = train.TrainConfig.from_dict(json.loads((tmp_path / "hi" / "config.json").read_text()))
    assert saved.sigma_high_fraction == 0.25 and saved.sigma_high_range == (2.0, 10.0)


def test_fine_tuning_refuses_another_architecture_or_stems(tmp_path):
    train.train(replace(FAST, steps=1), DATA, tmp_path / "base", progress=False, device="cpu")
    base = str(runs.checkpoint_paths(tmp_path / "base")[0])
    with pytest.raises(ValueError, match="different U-Net"):
        train.train(replace(FAST, model="tiny-isdm", stems=("bass",), init_from=base), DATA, tmp_path / "a",
                    progress=False, device="cpu")
    with pytest.raises(ValueError, match="not found"):
        train.train(replace(FAST, init_from=str(tmp_path / "missing.pt")), DATA, tmp_path / "b",
                    progress=False, device="cpu")
    with pytest.raises(ValueError, match="different U-Net"):      # other shapes: tiny-wide trains from scratch
        train.train(replace(FAST, model="tiny-wide", init_from=base), DATA, tmp_path / "c", progress=False, device="cpu")


def test_tiny_weights_fine_tune_into_local_groupnorm(tmp_path):
    """norm_window changes no weight: a tiny checkpoint initialises a tiny-localnorm run."""
    train.train(replace(FAST, steps=1), DATA, tmp_path / "base", progress=False, device="cpu")
    base = runs.checkpoint_paths(tmp_path / "base")[0]
    ft = replace(FAST, model="tiny-localnorm", steps=1, lr=0.0, warmup_steps=0, ema_decay=1.0, init_from=str(base))
    train.train(ft, DATA, tmp_path / "ft", progress=False, device="cpu")
    assert_same_weights(run_dir_state(tmp_path / "base"), run_dir_state(tmp_path / "ft"))
    assert checkpoints.load(runs.checkpoint_paths(tmp_path / "ft")[0]).net.config.norm_window == 2048


def test_training_previews_sample_from_generation_start(monkeypatch):
    """The audio previews run Heun on total generation's σ grid (from σ_max 20), not from σ 1."""
    from msdm_tutorial import samplers
    from msdm_tutorial.configs import GenerationConfig
    from msdm_tutorial.denoiser import EDMDenoiser
    from msdm_tutorial.unet import build

    seen = {}

    def fake_heun(derivative, x, sigmas, **kwargs):
        seen["sigmas"] = sigmas
        return x

    monkeypatch.setattr(samplers, "heun", fake_heun)
    cfg = replace(FAST, sample_steps=8)
    denoiser = EDMDenoiser(build(train.unet_config_for(cfg)), stems=cfg.stems)
    audio = train.generate_sample(denoiser, cfg, torch.device("cpu"))
    assert audio.shape == (len(cfg.stems), cfg.chunk_length)
    assert float(seen["sigmas"][0]) == pytest.approx(GenerationConfig().sigma_max)
    assert float(seen["sigmas"][-2]) == pytest.approx(GenerationConfig().sigma_min)
    assert float(audio.std()) > 1.0          # the initial noise at σ 20, passed through the fake sampler
