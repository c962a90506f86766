"""The run folder: checkpoint rotation and the fallback past a corrupt checkpoint."""

from dataclasses import replace
from pathlib import Path

import pytest

from msdm_tutorial import runs, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data_small" / "toy"
FAST = replace(train.PRESETS["tiny"], chunk_length=8192, batch_size=4, steps=4, val_every=0, save_every=100,
               log_every=1, sample_steps=0)


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path):
    cfg = replace(FAST, save_every=1, steps=3)
    train.train(cfg, DATA, tmp_path, progress=False, device="cpu")
    paths = runs.checkpoint_paths(tmp_path)
    assert [p.name for p in paths] == ["step_00000003.pt", "step_00000002.pt", "step_00000001.pt"]
    paths[0].write_bytes(paths[0].read_bytes()[:1000])  # truncated, as after a crash mid-copy
    with pytest.warns(UserWarning, match="falling back"):
        payload, path = runs.load_latest(tmp_path)
    assert path.name == "step_00000002.pt" and payload["extra"]["train_state"]["step"] == 2
