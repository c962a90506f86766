"""The notebooks' common start (``course.start``) and the shipped tiny model (``course.tiny_model``)."""

import matplotlib
import torch

from msdm_tutorial import course, plotting


def test_start_picks_the_device_styles_and_seeds(capsys):
    matplotlib.rcParams["axes.grid"] = not plotting.STYLE["axes.grid"]
    device, gen = course.start(seed=3)
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "device:" in capsys.readouterr().out
    assert matplotlib.rcParams["axes.grid"] == plotting.STYLE["axes.grid"], "the course style is applied"
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=torch.Generator().manual_seed(3)))
    a = torch.rand(2)
    course.seed_everything(3)
    assert torch.equal(a, torch.rand(2)), "the global torch stream is seeded too"


def test_tiny_model_has_its_training_length(capsys):
    model, rate, chunk = course.tiny_model()
    assert (rate, chunk) == (22050, 32 * model.net.downsampling) == (22050, 32768)
    assert "msdm-tiny" in capsys.readouterr().out
    assert course.checkpoint("msdm-tiny").is_file()
