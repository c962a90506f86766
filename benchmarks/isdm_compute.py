#!/usr/bin/env python
"""Equal compute for ISDM: how many steps each single-stem model gets for the MSDM model's budget.

    .venv/bin/python benchmarks/isdm_compute.py            # print the results
    .venv/bin/python benchmarks/isdm_compute.py --write    # also update docs/benchmarks.md
    .venv/bin/python benchmarks/isdm_compute.py --msdm-preset tiny --isdm-preset tiny-isdm   # the old pair

MSDM trains one network on the four stems (``tiny-wide``, shipped); ISDM ("weakly supervised") trains
four single-stem networks, one per stem (``tiny-wide-isdm``: the same levels at half the widths). A fair comparison gives the four together the compute of the
one. Two measures of compute, both reported:

* **CPU time.** The real training step (``msdm_tutorial.train.train``: data, forward and backward
  under bf16 autocast, Adam, EMA) timed for both presets with one torch thread, alternating
  ``--rounds`` times in fresh processes so that drifts in the machine's speed hit both alike.
  Equal CPU time: each ISDM model gets  N_MSDM · t_MSDM / (4 · t_ISDM)  steps.
* **FLOPs.** One training step (forward + backward, batch 8 × 32768 samples) counted on the meta
  device with ``torch.utils.flop_counter``. Equal FLOPs: each gets  N_MSDM · F_MSDM / (4 · F_ISDM).

N_MSDM is the shipped MSDM model's step count, read from its training log; ``--isdm-logs PREFIX`` also
reports the share of MSDM's CPU time that ISDM models ``PREFIX-{stem}.log.jsonl`` got.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, print_section  # noqa: E402
from train_speed import paper_estimate, run_isolated  # noqa: E402

SECTION = "## ISDM against MSDM at equal compute: the budget"
COMMAND = ".venv/bin/python benchmarks/isdm_compute.py --write"


def logged_steps(log: Path) -> int:
    """The last step of a training log (``*.log.jsonl``, base and fine-tune phases counted on)."""
    steps = [json.loads(line).get("step", 0) for line in log.read_text().splitlines() if line.strip()]
    return max(steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed optimisation steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before them")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each preset")
    parser.add_argument("--msdm-preset", default="tiny-wide", help="the shipped MSDM model's training preset")
    parser.add_argument("--isdm-preset", default="tiny-wide-isdm", help="the single-stem models' training preset")
    parser.add_argument("--isdm-logs", default=None,
                        help="prefix of trained ISDM logs in data_small/checkpoints (e.g. isdm-tiny)")
    parser.add_argument("--train-data", default="toy-stream", choices=["toy-stream", "files"],
                        help="the training data of the timed steps (the shipped MSDM model trained on the stream)")
    parser.add_argument("--write", action="store_true", help="update the section of docs/benchmarks.md")
    args = parser.parse_args(argv)

    from msdm_tutorial.course import data_small

    checkpoints = data_small() / "checkpoints"
    msdm_steps = logged_steps(checkpoints / "msdm-tiny.log.jsonl")
    isdm_steps = None
    if args.isdm_logs:
        isdm_steps = min(logged_steps(checkpoints / f"{args.isdm_logs}-{stem}.log.jsonl")
                         for stem in ("bass", "drums", "guitar", "piano"))
    base = {"steps": args.steps, "warmup": args.warmup, "data": str(data_small() / "toy"), "device": "cpu",
            "autocast": "bf16", "threads": 1, "overrides": {"train_data": args.train_data}}
    presets = (args.msdm_preset, args.isdm_preset)
    seconds = {p: [] for p in presets}
    load_start = os.getloadavg()[0]
    for i in range(args.rounds):
        for preset in presets:
            r = run_isolated({**base, "preset": preset})
            seconds[preset].append(r["s_per_step"])
            print(f"round {i + 1}: {preset}: {r['s_per_step'] * 1000:.1f} ms/step", flush=True)
    load_end = os.getloadavg()[0]
    t_msdm, t_isdm = (statistics.median(seconds[p]) for p in presets)
    counts = {p: paper_estimate(batch=8, length=32768, preset=p) for p in presets}
    (p_msdm, f_msdm), (p_isdm, f_isdm) = ((counts[p]["parameters"], counts[p]["tflop_per_step"] * 1e12)
                                          for p in presets)

    equal_time = round(msdm_steps * t_msdm / (4 * t_isdm))
    equal_flops = round(msdm_steps * f_msdm / (4 * f_isdm))
    rows = [[f"MSDM `{args.msdm_preset}` (one network, 4 stems)", f"{p_msdm / 1e6:.2f} M", f"{f_msdm / 1e9:.1f}",
             f"{t_msdm * 1000:.0f}", f"{msdm_steps}", "—", "—"],
            [f"ISDM `{args.isdm_preset}` (one network per stem)", f"{p_isdm / 1e6:.2f} M", f"{f_isdm / 1e9:.1f}",
             f"{t_isdm * 1000:.0f}", f"{isdm_steps} each" if isdm_steps else "—", f"{equal_time} each",
             f"{equal_flops} each"]]
    command = COMMAND + "".join(f" {flag} {value}" for flag, value, default in (
        ("--msdm-preset", args.msdm_preset, "tiny-wide"), ("--isdm-preset", args.isdm_preset, "tiny-wide-isdm"),
        ("--isdm-logs", args.isdm_logs, None), ("--train-data", args.train_data, "toy-stream")) if value != default)
    notes = [f"- One ISDM step costs {t_isdm / t_msdm:.2f}× an MSDM step in CPU time and "
             f"{f_isdm / f_msdm:.2f}× in FLOPs."]
    if isdm_steps:
        share = 4 * isdm_steps * t_isdm / (msdm_steps * t_msdm)
        notes.append(f"- The ISDM models `{args.isdm_logs}-{{stem}}` got {share:.2f}× MSDM's CPU time in all "
                     f"({4 * isdm_steps} ISDM steps against {msdm_steps} MSDM steps).")
    notes.append("- Equal CPU time is the budget the comparison uses: it is what a learner pays on this machine.")
    text = "\n".join([
        SECTION, "",
        f"Measured by `{command}`: one torch thread, bf16 autocast, batch 8 × 32768 samples, "
        f"training data `{args.train_data}`, median of {args.rounds} alternating runs of {args.steps} steps each (after {args.warmup}); "
        f"1-minute load average {load_start:.1f} before, {load_end:.1f} after. GFLOP per training step "
        "(forward + backward) counted on the meta device.", "",
        markdown_table(["model", "parameters", "GFLOP/step", "ms/step", "trained steps",
                        "steps for equal CPU time", "steps for equal FLOPs"], rows), "",
        *notes,
    ])
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
