#!/usr/bin/env python
"""MSDM against ISDM at equal compute: Dirac separation per stem, side by side in one run.

    .venv/bin/python benchmarks/isdm_vs_msdm.py --isdm "LABEL=PATTERN" [--isdm …] [--jobs 2] [--write]

PATTERN names the four single-stem checkpoints with ``{stem}`` in place of the stem, e.g.
``--isdm "8722 steps each=data_small/checkpoints/isdm-tiny-{stem}.pt"``. The MSDM row is the shipped
``data_small/checkpoints/msdm-tiny.pt``. ``benchmarks/isdm_compute.py`` gives the step counts at which
the four ISDM models together cost MSDM's CPU time.

Every cell is one ``msdm evaluate`` run (``separation_quality.py``'s protocol: the 6 toy test songs of
``data_small/toy``, independent chunks, fp32, seed 0, one thread per run) at three settings: Euler 12
steps × R 2, σ from 1 to 3e-3, with S_churn 0.4 for both methods (the course's recommended setting), the
same at each method's churn per step in the paper (MSDM 1.6, ISDM 3.2: the recommended setting until
the night of 2026-12-04), and Euler 24 × R 2 on the paper's grid (σ from 1 to 1e-4) at each method's churn (the recommended setting
earlier on 2026-12-04). A run that two rows share (the same model and options) is made once. Only the section
"## ISDM against MSDM at equal compute: separation" of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, print_section, score_cells  # noqa: E402
from separation_quality import MSDM, PROTOCOL, SIGMA_MAX_1, STEMS, run_row, shown  # noqa: E402

SECTION = "## ISDM against MSDM at equal compute: separation"
RECOMMENDED_GRID = ["--sigma-max", "1", "--sigma-min", "3e-3"]
RECOMMENDED = ["--sampler", "euler", "--steps", "12", "--churn", "0.4", *RECOMMENDED_GRID]
EULER = ["--sampler", "euler", "--steps", "12", "--churn", "1.6", *RECOMMENDED_GRID]
EULER_ISDM = ["--sampler", "euler", "--steps", "12", "--churn", "3.2", *RECOMMENDED_GRID]
SETTINGS = {"Euler 12 × R 2, σ 1 → 3e-3, S_churn 0.4 for both (recommended)": (RECOMMENDED, RECOMMENDED),
            "Euler 12 × R 2, σ 1 → 3e-3, each method's churn per step (the paper's: 1.6, ISDM 3.2)": (EULER, EULER_ISDM),
            "Euler 24 × R 2, σ 1 → 1e-4, each method's churn per step (recommended earlier on 2026-12-04)":
                (["--sampler", "euler", "--steps", "24", "--churn", "3.2", *SIGMA_MAX_1],
                 ["--sampler", "euler", "--steps", "24", "--churn", "6.4", *SIGMA_MAX_1])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isdm", action="append", required=True, metavar="LABEL=PATTERN",
                        help="a set of ISDM checkpoints; PATTERN contains {stem}")
    parser.add_argument("--jobs", type=int, default=1, help="evaluations at a time (one thread each)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    models = [("MSDM, shipped `msdm-tiny.pt`", MSDM, 0)]
    for spec in args.isdm:
        label, _, pattern = spec.partition("=")
        if "{stem}" not in pattern:
            raise SystemExit(f"--isdm {spec!r}: the pattern must contain {{stem}}")
        missing = [pattern.format(stem=s) for s in STEMS if not Path(pattern.format(stem=s)).is_file()]
        if missing:
            raise SystemExit(f"--isdm {spec!r}: {missing[0]}: checkpoint not found")
        models.append((f"ISDM ×4, {label}", ["--isdm", ",".join(f"{s}={pattern.format(stem=s)}" for s in STEMS),
                                               *PROTOCOL], 1))
    rows = [(f"{m} | {s}", m, s, opts + SETTINGS[s][isdm]) for s in SETTINGS for m, opts, isdm in models]
    unique = list({tuple(r[3]): r for r in rows}.values())                    # one run per distinct command
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max(1, args.jobs)) as pool:
        done = {tuple(r["options"]): r for r in pool.map(lambda r: run_row(r, Path(tmp)), unique)}
    results = [dict(done[tuple(opts)], sampler=s, model=m) for _, m, s, opts in rows]
    table = markdown_table(["setting", "model", "NFE", *STEMS, "average"],
                           ([r["sampler"], r["model"], r["nfe"], *score_cells(r["summary"], STEMS)] for r in results),
                           align="llr" + "r" * (len(STEMS) + 1))
    by = {(r["sampler"], r["model"]): r["summary"] for r in results}
    msdm = models[0][0]
    diffs = []
    for s in SETTINGS:
        for m, _, isdm in models[1:]:
            d = {k: by[(s, m)]["si_sdri"][k] - by[(s, msdm)]["si_sdri"][k] for k in STEMS}
            avg = by[(s, m)]["average"] - by[(s, msdm)]["average"]
            diffs.append(f"- {s}, {m} − MSDM: " + ", ".join(f"{k} {v:+.2f}" for k, v in d.items())
                         + f"; average {avg:+.2f} dB")
    command = ".venv/bin/python benchmarks/isdm_vs_msdm.py " + " ".join(f'--isdm "{s}"' for s in args.isdm) \
        + f" --jobs {args.jobs} --write"
    text = "\n".join([
        SECTION, "",
        f"Measured by `{command}`: the 6 toy test songs of `data_small/toy` ({results[0]['summary']['num_windows']} "
        "windows; paper protocol, independent chunks, fp32, seed 0, one thread per run). SI-SDRi in dB.", "",
        table, "", *diffs, "", "- Commands:", "", *[f"      {shown(list(o))}" for o in done], "",
    ])
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
