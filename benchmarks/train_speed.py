#!/usr/bin/env python
"""Training speed: steps/s and peak memory of the real training step, on CPU and (when present) GPU.

    .venv/bin/python benchmarks/train_speed.py            # print the results
    .venv/bin/python benchmarks/train_speed.py --write    # also update docs/benchmarks.md

What is timed is ``msdm_tutorial.train.train`` itself — data loading, forward and backward under
the run's autocast, gradient clipping, Adam, the EMA update and the per-step log line — over
``--steps`` optimisation steps after ``--warmup`` steps (time stamps from its ``callback``, with
``log_every=1`` and no validation). Each measurement runs in a fresh process, so its peak memory
is its own:

* CPU: the ``tiny`` preset on data_small/toy (32768-sample chunks, batch 8), fp32 and bf16
  autocast side by side; memory is the process's peak resident set (``ru_maxrss``) and its rise
  during training.
* GPU (only when ``torch.cuda.is_available()``): the ``paper`` preset (262144-sample chunks,
  batch 8) in bf16 and fp32, and ``tiny`` in bf16, on temporary 30 s toy songs (Slakh2100 is not
  needed to time a step); memory is ``torch.cuda.max_memory_allocated``. Without a GPU these rows
  are skipped with a message, and the section gives an *unmeasured* estimate instead, counted on
  the meta device (parameters, activations saved for backward, FLOPs per step).

Only the section "## Training speed" of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, print_section  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
SECTION = "## Training speed"
COMMAND = ".venv/bin/python benchmarks/train_speed.py --write"


# ---------------------------------------------------------------------------------------------
# One measurement (runs in a fresh process)
# ---------------------------------------------------------------------------------------------


def _max_rss_mib() -> float:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux, bytes on macOS
    return kib / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)


def measure(spec: dict) -> dict:
    """Train ``spec["preset"]`` for warmup + steps steps; time the last ``steps``; report memory."""
    import torch

    from msdm_tutorial import train

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    cfg = replace(train.get_preset(spec["preset"]), steps=spec["warmup"] + spec["steps"], log_every=1,
                  val_every=0, sample_steps=0, save_every=10 ** 9, autocast=spec["autocast"],
                  **spec.get("overrides", {}))
    stamps: dict[int, float] = {}

    def stamp(step, record):
        if "loss" in record:
            stamps.setdefault(step, time.perf_counter())   # after loss.item(): the step is finished

    out = {**spec, "threads": torch.get_num_threads(), "chunk_length": cfg.chunk_length,
           "batch_size": cfg.batch_size}
    rss_before = _max_rss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            summary = train.train(cfg, spec["data"], run_dir, device=str(device), progress=False, callback=stamp)
    except torch.cuda.OutOfMemoryError as err:
        return {**out, "error": "out of memory: " + str(err).splitlines()[0][:100]}
    seconds = stamps[cfg.steps] - stamps[spec["warmup"]]
    out.update(steps_per_s=spec["steps"] / seconds, s_per_step=seconds / spec["steps"], loss=summary["loss"])
    if device.type == "cuda":
        out.update(device_name=torch.cuda.get_device_name(device),
                   peak_gib=torch.cuda.max_memory_allocated(device) / 2 ** 30,
                   reserved_gib=torch.cuda.max_memory_reserved(device) / 2 ** 30)
    else:
        peak = _max_rss_mib()
        out.update(peak_rss_mib=peak, rise_mib=peak - rss_before)
    return out


def run_isolated(spec: dict) -> dict:
    """``measure`` in a fresh spawned process (its own peak RSS, its own CUDA context)."""
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(measure, spec).result()


# ---------------------------------------------------------------------------------------------
# The paper's model without a GPU: counting on the meta device
# ---------------------------------------------------------------------------------------------


def paper_estimate(batch: int = 8, length: int = 262144, preset: str = "paper") -> dict:
    """Parameters, bytes of weights + gradients + Adam + EMA, bytes of the tensors autograd saves for
    the backward pass (fp32 accounting) and FLOPs of one training step, on the meta device (no
    memory, no compute: this is arithmetic, not a measurement). ``preset``: any training preset."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from msdm_tutorial import train
    from msdm_tutorial.unet import build, num_parameters

    net = build(train.unet_config_for(train.get_preset(preset)), device="meta")
    x = torch.randn(batch, net.config.in_channels, length, device="meta")
    c_noise = torch.zeros(batch, device="meta")
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as flops:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = (net(x, c_noise) - x).pow(2).mean()
        loss.backward()
    n = num_parameters(net)
    return {"parameters": n, "static_gib": n * 20 / 2 ** 30, "saved_gib": saved[0] / 2 ** 30,
            "tflop_per_step": flops.get_total_flops() / 1e12, "batch": batch, "length": length}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def precision(autocast: str) -> str:
    return "bf16 autocast" if autocast == "bf16" else "fp32"


def row(r: dict) -> list:
    dev = r.get("device_name") or "CPU"
    head = [r["preset"], dev, precision(r["autocast"]), r["threads"] if dev == "CPU" else "—",
            f"{r['chunk_length']} × {r['batch_size']}"]
    if "error" in r:
        return head + [r["error"], "", ""]
    if "peak_gib" in r:
        return head + [f"{r['steps_per_s']:.2f}", f"{r['s_per_step']:.3f}",
                       f"{r['peak_gib']:.1f} GiB allocated ({r['reserved_gib']:.1f} reserved)"]
    return head + [f"{r['steps_per_s']:.2f}", f"{r['s_per_step']:.3f}",
                   f"{r['peak_rss_mib']:.0f} MiB RSS (+{r['rise_mib']:.0f} in training)"]


def ratio_lines(rows: list[dict]) -> list[str]:
    lines = []
    keyed = {(r["preset"], r["device"], r["threads"], r["autocast"]): r for r in rows if "error" not in r}
    for (preset, device, threads, ac), bf in keyed.items():
        fp = keyed.get((preset, device, threads, "none"))
        if ac != "bf16" or fp is None:
            continue
        mem = ((bf["peak_gib"] / fp["peak_gib"]) if "peak_gib" in bf else (bf["rise_mib"] / max(fp["rise_mib"], 1e-9)))
        where = "GPU" if device.startswith("cuda") else f"CPU, {threads} thread{'s' if threads > 1 else ''}"
        lines.append(f"- `{preset}` on {where}: bf16 autocast runs at **{bf['steps_per_s'] / fp['steps_per_s']:.2f}×** "
                     f"the steps/s of fp32, with {mem:.2f}× its {'peak GPU memory' if 'peak_gib' in bf else 'memory rise'}.")
    return lines


def thread_lines(rows: list[dict]) -> list[str]:
    """More threads against one, at the same preset and precision (CPU rows)."""
    keyed = {(r["preset"], r["autocast"], r["threads"]): r for r in rows if "error" not in r and r["device"] == "cpu"}
    lines = []
    for (preset, ac, threads), r in keyed.items():
        one = keyed.get((preset, ac, 1))
        if threads > 1 and one:
            lines.append(f"- `{preset}` on CPU, {precision(ac)}: {threads} threads run at "
                         f"**{r['steps_per_s'] / one['steps_per_s']:.2f}×** the steps/s of 1 thread.")
    return lines


def section(rows: list[dict], est: dict, args, load: tuple, gpu_note: str) -> str:
    import torch

    when = datetime.date.today().isoformat()
    lines = [SECTION, "",
             f"Measured by `{COMMAND}` on {when}: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}"
             f"{', ' + rows[-1]['device_name'] if rows and rows[-1].get('device_name') else ''}.",
             "", "The real training step (`msdm_tutorial.train.train`: data loading, forward and backward, gradient "
             f"clipping, Adam, EMA, the log line), timed over {args.steps} steps after {args.warmup} warm-up steps, each "
             "row in a fresh process. Peak memory: the process's peak resident set on CPU (and how much it rose "
             "during training), `torch.cuda.max_memory_allocated` on GPU.", ""]
    if load[0] > 0.5 * (os.cpu_count() or 1) or load[1] > 0.5 * (os.cpu_count() or 1):
        lines += [f"**The machine was busy** (1-minute load average {load[0]:.1f} at the start and {load[1]:.1f} at the "
                  f"end, on {os.cpu_count()} cores: other training runs and test suites were running), so these "
                  "CPU numbers are lower bounds and noisy; on an idle machine expect more steps/s. Under such "
                  "contention torch's default of one OpenMP thread per core suffers most (its threads wait for each "
                  "other at every operation), hence the 1-thread rows: on a shared machine `OMP_NUM_THREADS=1` "
                  "(or `torch.set_num_threads(1)`) is the faster choice.", ""]
    lines += [markdown_table(["preset", "device", "precision", "threads", "chunk × batch", "steps/s", "s/step",
                              "peak memory"], [row(r) for r in rows], align="lllrlrrl")]
    lines += [""] + ratio_lines(rows) + thread_lines(rows)
    lines += ["", gpu_note, "",
              f"Counting for the `paper` preset (meta device, {est['batch']} × {est['length']} samples; arithmetic, not "
              f"a measurement): {est['parameters'] / 1e6:.1f}M parameters → {est['static_gib']:.1f} GiB for weights, "
              f"gradients, Adam's two moments and the EMA (20 bytes per parameter); {est['saved_gib']:.1f} GiB of tensors "
              f"saved for the backward pass in fp32 (less under bf16 autocast); {est['tflop_per_step']:.1f} TFLOP per "
              "training step (forward + backward)."]
    if not any(r.get("device_name") and r["preset"] == "paper" for r in rows):
        lines += ["", "**Unmeasured estimate** for one A100/H100-class GPU, from the counting above: ~12–20 GiB at "
                  "batch 8, and ~0.05–0.2 s per step if the GPU sustains an assumed 30–120 TFLOP/s "
                  f"(so ~14–55 h for the preset's 10⁶ steps). Replace it by running `{COMMAND}` on a GPU."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimisation steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--threads", default="default,1",
                        help="CPU thread counts to measure, comma-separated ('default' = torch's own choice)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU measurements even if a GPU is present")
    parser.add_argument("--write", action="store_true", help="update the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    import torch

    from msdm_tutorial.course import data_small
    from msdm_tutorial.data.toyset import write_toy_dataset

    load_start = os.getloadavg()[0]
    rows = []
    base = {"steps": args.steps, "warmup": args.warmup, "data": str(data_small() / "toy"), "device": "cpu"}
    for threads in [t.strip() for t in args.threads.split(",") if t.strip()]:
        for autocast in ("none", "bf16"):
            spec = {**base, "preset": "tiny", "autocast": autocast, "threads": None if threads == "default" else int(threads)}
            r = run_isolated(spec)
            rows.append(r)
            print("| " + " | ".join(map(str, row(r))) + " |", flush=True)

    if torch.cuda.is_available() and not args.no_gpu:
        with tempfile.TemporaryDirectory() as tmp:
            write_toy_dataset(Path(tmp) / "long", songs=4, validation_songs=0, test_songs=0, seconds=30.0, seed=0,
                              fmt="wav")
            gpu = {**base, "device": "cuda", "threads": None, "data": str(Path(tmp) / "long")}
            for preset, autocast in (("tiny", "bf16"), ("paper", "bf16"), ("paper", "none")):
                r = run_isolated({**gpu, "preset": preset, "autocast": autocast})
                rows.append(r)
                print("| " + " | ".join(map(str, row(r))) + " |", flush=True)
        gpu_note = ("The `paper` rows use temporary 30 s toy songs in WAV (timing a step needs no Slakh2100) with the "
                    "preset's own settings (batch 8, 262144-sample chunks, 8 loader workers).")
    else:
        gpu_note = ("The `paper` preset on a GPU: **not measured** — no GPU on this machine (the script measures it "
                    "whenever `torch.cuda.is_available()`).")
        print("no GPU: skipping the paper preset (run this script on a GPU machine to measure it)")

    est = paper_estimate()
    text = section(rows, est, args, (load_start, os.getloadavg()[0]), gpu_note)
    print_section(SECTION, text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
