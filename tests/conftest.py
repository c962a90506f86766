import importlib.util
from pathlib import Path

import pytest
import torch


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one thread is as fast, and steadier on a shared 2-core CPU.
    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def unet_reference_script():
    """scripts/make_unet_reference.py as a module (it builds the original models); skips the test when
    the original package, audio-diffusion-pytorch, is not installed."""
    pytest.importorskip("audio_diffusion_pytorch")
    path = Path(__file__).parents[1] / "scripts" / "make_unet_reference.py"
    spec = importlib.util.spec_from_file_location("make_unet_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
