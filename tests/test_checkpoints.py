"""Checkpoints: our format, the paper's Lightning files (parity through the whole loading path),
the restricted unpickler, and the ``msdm convert-checkpoint`` command's errors."""

import contextlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from msdm_tutorial import checkpoints, cli, paper_checkpoints, unet
from msdm_tutorial.denoiser import EDMDenoiser

FIXTURES = Path(__file__).parent / "fixtures"
MICRO = FIXTURES / "unet_reference_micro.pt"
CORNERS = FIXTURES / "unet_reference_corners.pt"


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


# ---------------------------------------------------------------------------------------------
# Fake "paper" checkpoints: what PyTorch Lightning 1.7 writes for the MSDM repository's Model


@contextlib.contextmanager
def foreign_classes():
    """Stand-ins for the classes the paper's checkpoints pickle by reference, importable under
    their original names while the checkpoint is written (the real ones when installed)."""
    made = []

    def module(name):
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            made.append(name)
        return sys.modules[name]

    def define(module_name, cls_or_fn):
        name = cls_or_fn.__name__
        cls_or_fn.__module__, cls_or_fn.__qualname__ = module_name, name
        setattr(module(module_name), name, cls_or_fn)
        return cls_or_fn

    ns = types.SimpleNamespace()
    if importlib.util.find_spec("audio_diffusion_pytorch") is not None:
        from audio_diffusion_pytorch.diffusion import LogNormalDistribution
    else:
        for parent in ("audio_diffusion_pytorch",):
            module(parent)

        class LogNormalDistribution:
            def __init__(self, mean, std):
                self.mean, self.std = mean, std

        define("audio_diffusion_pytorch.diffusion", LogNormalDistribution)
    ns.LogNormalDistribution = LogNormalDistribution
    for parent in ("main", "pytorch_lightning", "pytorch_lightning.utilities"):
        module(parent)

    def _identity(x):
        return x

    class MultiSourceDataset(torch.utils.data.Dataset):
        def __init__(self, stems, sr):
            self.sr, self.stems, self.channels, self.sample_length = sr, stems, 1, 262144
            self.tracks = ["Track00001", "Track00002"]
            self.durations = [np.float64(4e6), np.float64(5e6)]
            self.cumsum = np.cumsum(np.array(self.durations))
            self.transform = _identity

    class AttributeDict(dict):
        pass

    ns.identity = define("main.data", _identity)
    ns.MultiSourceDataset = define("main.data", MultiSourceDataset)
    ns.AttributeDict = define("pytorch_lightning.utilities.parsing", AttributeDict)
    try:
        yield ns
    finally:
        for name in made:
            sys.modules.pop(name, None)


class Evil:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class EvilExec:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def write_lightning_checkpoint(path, state_dict, hparams, stems=("bass", "drums", "guitar", "piano"),
                               sample_rate=22050, extra_objects=()):
    """A checkpoint shaped like the paper's: Lightning keys, ``model.`` prefix, duplicated
    ``model.diffusion.net.*`` weights, foreign objects in the (datamodule) hyper-parameters."""
    with foreign_classes() as ns:
        hp = {"learning_rate": 1e-4, "beta1": 0.9, "beta2": 0.99, **hparams,
              "diffusion_sigma_distribution": ns.LogNormalDistribution(mean=-3.0, std=1.0)}
        dm = ns.AttributeDict(train_dataset=ns.MultiSourceDataset(list(stems), sample_rate),
                              val_dataset=ns.MultiSourceDataset(list(stems), sample_rate),
                              batch_size=8, num_workers=4, pin_memory=True)
        sd = {f"model.{k}": v for k, v in state_dict.items()}
        if not any(k.startswith("model.diffusion.net.") for k in sd):
            sd.update({k.replace("model.unet.", "model.diffusion.net."): v for k, v in sd.items()})
        ckpt = {"epoch": 419, "global_step": 880000, "pytorch-lightning_version": "1.7.7",
                "state_dict": sd, "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 420}}}},
                "hparams_name": "kwargs", "hyper_parameters": hp, "datamodule_hyper_parameters": dm,
                "callbacks_extra": list(extra_objects)}
        torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def micro_ref():
    return torch.load(MICRO, weights_only=True)


@pytest.fixture
def micro_ckpt(tmp_path, micro_ref):
    return write_lightning_checkpoint(tmp_path / "epoch=419-valid_loss=0.015.ckpt", micro_ref["state_dict"],
                                      micro_ref["hparams"])


# ---------------------------------------------------------------------------------------------
# Parity through the whole loading path


@pytest.mark.parametrize("fixture", [MICRO, CORNERS], ids=["micro", "corners"])
def test_lightning_checkpoint_matches_original_outputs(tmp_path, fixture):
    ref = torch.load(fixture, weights_only=True)
    stems = ("bass", "drums", "guitar", "piano")[: ref["hparams"]["in_channels"]]
    path = write_lightning_checkpoint(tmp_path / "paper.ckpt", ref["state_dict"], ref["hparams"], stems=stems,
                                      sample_rate=16000)
    d = checkpoints.load(path)
    assert isinstance(d, EDMDenoiser) and not d.training
    assert d.stems == stems and d.sample_rate == 16000 and d.sigma_data == 0.2 and d.clamp
    for case in ref["cases"]:
        with torch.no_grad():
            out = d(case["x"], case["sigma"])
        assert rel_err(out, case["denoised"]) < 1e-5


def test_checkpoint_without_hyper_parameters_reads_shapes(tmp_path, micro_ref):
    """A bare original state dict: the architecture comes from the tensor shapes. The head split
    and the GroupNorm group count are not in the shapes and default to the paper's (8 and 8)."""
    path = tmp_path / "bare.pt"
    torch.save(micro_ref["state_dict"], path)
    payload = checkpoints.read(path)
    cfg = unet.get_config(payload["config"])
    assert cfg.replace(attention_heads=2, attention_features=8, resnet_groups=4) == unet.UNetConfig(
        **{k: v for k, v in micro_ref["hparams"].items() if k in unet.UNetConfig.__dataclass_fields__})
    assert payload["stems"] == ["bass", "drums", "guitar", "piano"] and payload["sample_rate"] == 22050


@pytest.mark.skipif(os.environ.get("MSDM_SLOW_TESTS") != "1", reason="set MSDM_SLOW_TESTS=1 (~5 GB RAM and disk, ~1 min)")
def test_live_paper_parity_through_lightning_checkpoint(tmp_path, unet_reference_script):
    """The original at the paper's configuration (405,497,700 parameters), saved as a Lightning
    checkpoint with its foreign objects, loaded by ``checkpoints.load``: same outputs."""
    mk = unet_reference_script
    model = mk.build_original(mk.PAPER)
    assert sum(p.numel() for p in model.unet.parameters()) == 405_497_700
    cases = mk.reference_cases(model, mk.PAPER, lengths=(1, 2))
    path = write_lightning_checkpoint(tmp_path / "msdm.ckpt", model.state_dict(), {**mk.PAPER, **mk.DIFFUSION})
    del model
    d = checkpoints.load(path)
    assert d.net.config == unet.PRESETS["paper"]
    for case in cases:
        with torch.no_grad():
            assert rel_err(d(case["x"], case["sigma"]), case["denoised"]) < 1e-5


# ---------------------------------------------------------------------------------------------
# Our format


def _micro_denoiser(seed=0):
    torch.manual_seed(seed)
    cfg = unet.UNetConfig(in_channels=2, channels=16, patch_factor=4, multipliers=(1, 2), factors=(2,),
                          num_blocks=(1,), attentions=(True,), attention_heads=2, attention_features=8,
                          resnet_groups=4)
    return EDMDenoiser(unet.UNet(cfg), sigma_data=0.3, clamp=False, stems=("bass", "drums"), sample_rate=8000), cfg


def test_save_load_roundtrip_weights_only(tmp_path):
    d, cfg = _micro_denoiser()
    ema = unet.UNet(cfg)
    path = checkpoints.save(tmp_path / "run" / "model.pt", d, cfg, ema_state=ema, extra={"step": 7, "note": "hi"})
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left behind
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == checkpoints.FORMAT and raw["config"] == cfg.to_dict() and raw["extra"]["step"] == 7
    x = 0.3 * torch.randn(2, 2, 16)
    loaded = checkpoints.load(path, ema=False)
    assert loaded.stems == ("bass", "drums") and loaded.sample_rate == 8000
    assert loaded.sigma_data == 0.3 and loaded.clamp is False and loaded.net.config == cfg
    with torch.no_grad():
        assert torch.allclose(loaded(x, 0.5), d.eval()(x, 0.5))
        ema_loaded = checkpoints.load(path)  # EMA weights by default
        assert torch.allclose(ema_loaded.net(x, 0.1), ema.eval()(x, 0.1))


def test_save_refuses_non_plain_extra(tmp_path):
    d, cfg = _micro_denoiser()
    with pytest.raises(ValueError, match=r"extra\['obj'\]: object cannot be stored"):
        checkpoints.save(tmp_path / "m.pt", d, cfg, extra={"obj": object()})
    assert not list(tmp_path.iterdir())


def test_save_refuses_mismatched_config(tmp_path):
    d, _ = _micro_denoiser()
    with pytest.raises(ValueError, match="weights do not fit"):
        checkpoints.save(tmp_path / "m.pt", d, "tiny")


def test_average_is_the_mean_of_the_ema_weights(tmp_path):
    (a, cfg), (b, _) = _micro_denoiser(), _micro_denoiser()
    ema_a, ema_b = unet.UNet(cfg), unet.UNet(cfg)
    pa = checkpoints.save(tmp_path / "a.pt", a, cfg, ema_state=ema_a)
    pb = checkpoints.save(tmp_path / "b.pt", b, cfg, ema_state=ema_b)
    mean = checkpoints.load(checkpoints.average([pa, pb], tmp_path / "mean.pt", dtype=torch.float32))
    for name, value in mean.net.state_dict().items():
        if value.is_floating_point():
            expected = (ema_a.state_dict()[name] + ema_b.state_dict()[name]) / 2
            assert torch.allclose(value, expected, atol=1e-7), name
    weights = [name for name, p in ema_a.named_parameters() if p.dim() > 1]
    assert not torch.allclose(mean.net.state_dict()[weights[0]], ema_a.state_dict()[weights[0]])  # a new model
    assert mean.clamp is True and mean.stems == ("bass", "drums")
    other = EDMDenoiser(unet.UNet(cfg), sigma_data=0.5, stems=("bass", "drums"), sample_rate=8000)
    po = checkpoints.save(tmp_path / "other.pt", other, cfg)
    with pytest.raises(ValueError, match="other.pt: another model than"):
        checkpoints.average([pa, po], tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()


def test_load_into_fixed_config_refuses_other_architecture(micro_ckpt):
    with pytest.raises(ValueError, match=r"holds a different U-Net than preset 'tiny': channels 16 \(wanted 32\)"):
        checkpoints.load(micro_ckpt, config="tiny")


# ---------------------------------------------------------------------------------------------
# Safety: code in a checkpoint never runs


def test_malicious_pickle_never_runs(tmp_path, micro_ref):
    marker, marker2 = tmp_path / "pwned", tmp_path / "pwned2"
    path = write_lightning_checkpoint(tmp_path / "evil.ckpt", micro_ref["state_dict"], micro_ref["hparams"],
                                      extra_objects=[Evil(marker), EvilExec(marker2)])
    d = checkpoints.load(path)  # the foreign objects are stubbed; the weights still load
    assert not marker.exists() and not marker2.exists()
    assert d.stems == ("bass", "drums", "guitar", "piano")
    obj = paper_checkpoints.read_torch_file(path)
    stubs = obj["callbacks_extra"]
    assert all(isinstance(s, paper_checkpoints.Stub) for s in stubs)
    assert stubs[0].qualname in ("posix.system", "nt.system") and stubs[0].args == (f"touch {marker}",)
    assert stubs[1].qualname == "builtins.exec"
    assert isinstance(obj["hyper_parameters"]["diffusion_sigma_distribution"], paper_checkpoints.Stub)
    assert obj["hyper_parameters"]["diffusion_sigma_distribution"].fields() == {"mean": -3.0, "std": 1.0}
    assert not marker.exists() and not marker2.exists()


def test_malicious_file_that_is_not_a_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"payload": Evil(marker)}, path)
    with pytest.raises(ValueError, match="not an MSDM checkpoint"):
        checkpoints.load(path)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# msdm convert-checkpoint


def run_cli(capsys, *args):
    rc = cli.main(["convert-checkpoint", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_convert_checkpoint_writes_weights_only_file(tmp_path, capsys, micro_ckpt, micro_ref):
    out = tmp_path / "converted.pt"
    rc, stdout, err = run_cli(capsys, micro_ckpt, out, "--json", tmp_path / "summary.json")
    assert rc == 0, err
    assert "wrote" in stdout and "222,648 parameters" in stdout
    raw = torch.load(out, weights_only=True)
    assert raw["format"] == checkpoints.FORMAT and raw["stems"] == ["bass", "drums", "guitar", "piano"]
    assert not any(k.startswith(("model.", "unet.", "diffusion.")) for k in raw["state_dict"])
    d = checkpoints.load(out)
    case = micro_ref["cases"][0]
    with torch.no_grad():
        assert rel_err(d(case["x"], case["sigma"]), case["denoised"]) < 1e-5
    assert (tmp_path / "summary.json").exists()


def test_convert_checkpoint_isdm_stem_and_check_length(tmp_path, capsys):
    ref = torch.load(CORNERS, weights_only=True)  # one stem
    src = write_lightning_checkpoint(tmp_path / "drums.ckpt", ref["state_dict"], ref["hparams"], stems=["drums"])
    rc, stdout, err = run_cli(capsys, src, tmp_path, "--check-length", 48)
    assert rc == 0, err
    assert checkpoints.load(tmp_path / "drums.pt").stems == ("drums",)


def one_line_error(rc, err, *needles):
    assert rc == 2
    assert err.endswith("\n") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_cli_truncated_file(tmp_path, capsys, micro_ckpt):
    data = micro_ckpt.read_bytes()
    bad = tmp_path / "truncated.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    rc, _, err = run_cli(capsys, bad, tmp_path / "out.pt")
    one_line_error(rc, err, "truncated.ckpt", "truncated")
    assert not (tmp_path / "out.pt").exists()


def test_cli_not_a_checkpoint(tmp_path, capsys):
    for name, content in [("notes.txt", b"hello, this is text\n"), ("empty.ckpt", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        rc, _, err = run_cli(capsys, path, tmp_path / "out.pt")
        one_line_error(rc, err, name, "not a checkpoint")
    path = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(2)}, path)
    rc, _, err = run_cli(capsys, path, tmp_path / "out.pt")
    one_line_error(rc, err, "weights.pt", "not an MSDM checkpoint")
    rc, _, err = run_cli(capsys, tmp_path / "missing.ckpt", tmp_path / "out.pt")
    one_line_error(rc, err, "missing.ckpt", "no such file")
    assert not (tmp_path / "out.pt").exists()


def test_cli_other_architecture_into_fixed_preset(tmp_path, capsys, micro_ckpt):
    rc, _, err = run_cli(capsys, micro_ckpt, tmp_path / "out.pt", "--preset", "paper")
    one_line_error(rc, err, "epoch=419-valid_loss=0.015.ckpt", "different U-Net than preset 'paper'")
    assert not (tmp_path / "out.pt").exists()


def test_cli_wrong_input_length(tmp_path, capsys, micro_ckpt):
    rc, _, err = run_cli(capsys, micro_ckpt, tmp_path / "out.pt", "--check-length", 100)
    one_line_error(rc, err, "input length 100 is not a multiple of 64")
    assert not (tmp_path / "out.pt").exists()  # no partial output
    rc, _, err = run_cli(capsys, micro_ckpt, tmp_path / "out.pt", "--preset", "tiny", "--check-length", 100)
    one_line_error(rc, err, "--check-length 100", "1024")
