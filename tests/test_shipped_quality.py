"""The shipped tiny MSDM model separates the toy test songs as well as the course says it does.

Runs ``msdm evaluate`` (the paper's protocol: 4-s windows, 2-s hop, windows with ≤ 1 active stem
skipped) on the six test songs of ``data_small/toy`` with ``data_small/checkpoints/msdm-tiny.pt``:

* the course's recommended setting (``msdm evaluate``'s defaults) — the paper's Euler sampler with
  R = 2 from σ_max 1 on 12 steps, S_churn 0.4, its σ grid ending at σ_min 3e-3, 24 network calls — must average at least 9 dB SI-SDRi and reach 5 dB on every
  stem (issue 12's targets at ≤ 50 NFE). Calibration: the model shipped until 2026-12-03 (`tiny`, 32103
  steps) averaged 8.67 dB at its own recommended setting (Heun 24 from σ_max 0.5, 47 NFE) and fails it;
* it must beat the paper's own grid (down to σ_min 1e-4) and churn per step (S_churn 20·12/150 = 1.6)
  at the same budget (12 steps × R 2) by more than 1 dB: on so few steps the paper's last steps are too
  coarse for the Dirac sampler, which is why the recommended setting ends at 3e-3, and its churn
  re-noises more than the sampler takes back (docs/benchmarks.md, "Separation: choosing the recommended
  setting" and "… the churn of the recommended setting").

The numbers are in docs/benchmarks.md ("Shipped tiny models: separation quality") and
docs/training_recipe.md. About two minutes on one CPU thread.
"""

import json

import pytest

from msdm_tutorial import STEMS, cli
from msdm_tutorial.course import data_small

CHECKPOINT = data_small() / "checkpoints" / "msdm-tiny.pt"
DATA = data_small() / "toy"
PAPER_GRID = ["--sigma-min", "1e-4", "--churn", "1.6"]   # 12 steps × R 2 on the paper's σ grid and churn per step
TARGET_AVERAGE_DB = 9.0
TARGET_STEM_DB = 5.0


def evaluate(tmp_path, name, *options):
    out = tmp_path / f"{name}.json"
    assert cli.main(["evaluate", "--checkpoint", str(CHECKPOINT), "--data", str(DATA), "--quiet",
                     "--json", str(out), *options]) == 0
    result = json.loads(out.read_text())
    return result["summary"], result["run"]["config"]["nfe"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quality")      # torch's thread count as the run sets it (make test: default)
    return {"recommended": evaluate(tmp, "recommended"), "paper grid": evaluate(tmp, "paper-grid", *PAPER_GRID)}


def test_dirac_separation_reaches_the_course_target(results):
    summary, nfe = results["recommended"]
    assert nfe == 24 and summary["num_tracks"] == 6
    per_stem = summary["si_sdri"]
    assert set(per_stem) == set(STEMS)
    assert all(v >= TARGET_STEM_DB for v in per_stem.values()), f"every stem must reach {TARGET_STEM_DB} dB: {per_stem}"
    assert summary["average"] >= TARGET_AVERAGE_DB, f"average {summary['average']:.2f} dB < {TARGET_AVERAGE_DB} dB"


def test_the_recommended_grid_beats_the_papers_grid_at_the_same_budget(results):
    (paper, paper_nfe), (ours, our_nfe) = results["paper grid"], results["recommended"]
    assert our_nfe == paper_nfe == 24
    assert ours["average"] > paper["average"] + 1.0, (ours["average"], paper["average"])
