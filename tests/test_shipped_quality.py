"""The shipped tiny MSDM model separates the toy test songs as well as the course says it does.

Runs ``msdm evaluate`` (the paper's protocol: 4-s windows, 2-s hop, windows with ≤ 1 active stem
skipped) on the six test songs of ``data_small/toy`` with ``data_small/checkpoints/msdm-tiny.pt``:

* the course's recommended setting (``msdm evaluate``'s defaults) — the paper's Euler sampler with
  R = 2 from σ_max 1 on 24 steps, at the paper's churn *per step* (S_churn 20·24/150 = 3.2), 48
  network calls — must average at least 9 dB SI-SDRi and reach 5 dB on every stem (issue 12's targets at
  ≤ 50 NFE). Calibration: the model shipped until 2026-12-03 (`tiny`, 32103 steps) averaged 8.67 dB
  at its own recommended setting (Heun 24 from σ_max 0.5) and fails it;
* it must beat EDM's Heun sampler at the same budget (24 steps, 47 calls) from σ_max 0.5, the course's
  recommended setting until 2026-12-04: with today's model, following its score with resampling pays
  (docs/benchmarks.md, "Separation: choosing the recommended setting").

The numbers are in docs/benchmarks.md ("Shipped tiny models: separation quality") and
docs/training_recipe.md. About two minutes on one CPU thread.
"""

import json

import pytest

from msdm_tutorial import STEMS, cli
from msdm_tutorial.course import data_small

CHECKPOINT = data_small() / "checkpoints" / "msdm-tiny.pt"
DATA = data_small() / "toy"
HEUN = ["--sampler", "heun", "--steps", "24", "--churn", "3.2", "--sigma-max", "0.5"]   # the former recommended
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
    return {"recommended": evaluate(tmp, "recommended"), "heun": evaluate(tmp, "heun", *HEUN)}


def test_dirac_separation_reaches_the_course_target(results):
    summary, nfe = results["recommended"]
    assert nfe == 48 and summary["num_tracks"] == 6
    per_stem = summary["si_sdri"]
    assert set(per_stem) == set(STEMS)
    assert all(v >= TARGET_STEM_DB for v in per_stem.values()), f"every stem must reach {TARGET_STEM_DB} dB: {per_stem}"
    assert summary["average"] >= TARGET_AVERAGE_DB, f"average {summary['average']:.2f} dB < {TARGET_AVERAGE_DB} dB"


def test_the_recommended_euler_with_resampling_beats_heun_at_the_same_budget(results):
    (heun, heun_nfe), (euler, euler_nfe) = results["heun"], results["recommended"]
    assert euler_nfe == 48 and heun_nfe == 47
    assert euler["average"] > heun["average"], (euler["average"], heun["average"])
