#!/usr/bin/env python
"""U-Net forward speed: ours against the original audio-diffusion-pytorch 0.0.43, in one process.

Needs an environment with the original package (see scripts/make_unet_reference.py):

    /tmp/adp/bin/python benchmarks/unet_speed.py --threads 1 --write   # also update docs/benchmarks.md

For the paper and tiny configurations it builds the original ``AudioDiffusionModel`` (norm and
Fourier weights perturbed), loads the same weights into ours, and times the denoiser
D(x; σ) = c_skip·x + c_out·F(c_in·x, ¼ ln σ) on the same input (batch 1, 65536 samples), in fp32
and under bf16 autocast, interleaving the two models and keeping the fastest of ``--repeats``
runs (the least disturbed by other processes). Errors are max|D − D_ref| / max|D_ref| against
the original in fp32. Everything runs under ``torch.no_grad()``: autocast then keeps its bf16
copies of the weights between calls, as in a sampling loop (``torch.inference_mode`` does not).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
from _report import markdown_table, write_section  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
sys.path.insert(0, str(ROOT))

from msdm_tutorial import paper_checkpoints, unet  # noqa: E402
from msdm_tutorial.denoiser import EDMDenoiser  # noqa: E402
from msdm_tutorial.models import pick_device  # noqa: E402

SECTION = "## U-Net forward speed"
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def reference_module():
    spec = importlib.util.spec_from_file_location("make_unet_reference", ROOT / "scripts" / "make_unet_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, repeats: int, clock=time.perf_counter) -> list[float]:
    out = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = clock()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(clock() - start)
    return out


def rel_err(a, b) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()


@torch.no_grad()
def compare(name: str, kw: dict, length: int, batch: int, repeats: int, device, clock) -> list[dict]:
    mk = reference_module()
    original = mk.build_original(kw).to(device)
    cfg = unet.UNetConfig(**kw)
    net = unet.build(cfg)
    net.load_state_dict(paper_checkpoints.convert_original_state_dict(original.state_dict()))
    ours = EDMDenoiser(net, sigma_data=0.2).to(device).eval()
    g = torch.Generator().manual_seed(0)
    x = (0.3 * torch.randn(batch, kw["in_channels"], length, generator=g)).to(device)
    sigma = torch.full((batch,), 0.5, device=device)
    run_original = lambda: original.diffusion.denoise_fn(x, sigmas=sigma)  # noqa: E731
    run_ours = lambda: ours(x, sigma)  # noqa: E731
    reference = run_original().float()
    rows = []
    for precision in ("fp32", "bf16"):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out_original, out_ours = run_original(), run_ours()  # warm-up (and bf16 weight casts)
            times = {"original": [], "ours": []}
            for _ in range(repeats):  # interleave, so both see the same machine load
                times["original"] += timed(run_original, 1, clock)
                times["ours"] += timed(run_ours, 1, clock)
        row = {"config": name, "parameters": unet.num_parameters(net), "batch": batch, "samples": length,
               "precision": precision, "original_s": min(times["original"]), "ours_s": min(times["ours"]),
               "original_median_s": sorted(times["original"])[repeats // 2],
               "ours_median_s": sorted(times["ours"])[repeats // 2],
               "original_err": rel_err(out_original, reference), "ours_err": rel_err(out_ours, reference)}
        row["speedup"] = row["original_s"] / row["ours_s"]
        rows.append(row)
        print(f"{name:>5} {precision}: original {row['original_s'] * 1e3:8.1f} ms, ours {row['ours_s'] * 1e3:8.1f} ms "
              f"→ {row['speedup']:.2f}×  (errors vs original fp32: original {row['original_err']:.1e}, "
              f"ours {row['ours_err']:.1e})", flush=True)
    fp32, bf16 = rows
    print(f"{name:>5} ours bf16 vs original fp32: {fp32['original_s'] / bf16['ours_s']:.2f}× "
          f"at error {bf16['ours_err']:.1e}", flush=True)
    del original, ours
    return rows


def markdown(rows: list[dict], command: str, device_name: str) -> str:
    lines = [SECTION, "",
             f"Measured by `{command}` on {device_name}, torch {torch.__version__}, "
             f"audio-diffusion-pytorch 0.0.43, {time.strftime('%Y-%m-%d')}.",
             "Denoiser D(x; σ) on one item of 65536 samples (σ = 0.5), under `torch.no_grad()`; "
             "fastest of the interleaved runs. Error: max|D − D_ref| / max|D_ref| against the "
             "original in fp32 (random weights with perturbed norms, so bf16 errors are pessimistic).", "",
             markdown_table(["config", "parameters", "precision", "original (ms)", "ours (ms)", "speed-up",
                             "error original", "error ours"],
                            ([r["config"], f"{r['parameters']:,}", r["precision"], f"{r['original_s'] * 1e3:.0f}",
                              f"{r['ours_s'] * 1e3:.0f}", f"{r['speedup']:.2f}×", f"{r['original_err']:.1e}",
                              f"{r['ours_err']:.1e}"] for r in rows), align="lrl" + "r" * 5),
             ""]
    for name in dict.fromkeys(r["config"] for r in rows):
        fp32, bf16 = [r for r in rows if r["config"] == name]
        lines.append(f"- **{name}: ours in bf16 autocast vs the original in fp32: "
                     f"{fp32['original_s'] / bf16['ours_s']:.2f}× faster** at a max relative error of "
                     f"{bf16['ours_err']:.1e} (the original's own bf16 error: {bf16['original_err']:.1e}).")
    lines += [
        "- At equal precision the two are close on a CPU: about 60 of the paper model's 61 GFLOP per "
        "65536-sample forward are convolutions, which both run through the same oneDNN kernels. Ours "
        "saves elsewhere (fused attention instead of an explicit L×L softmax, `F.layer_norm` instead of "
        "a hand-written one, no einops rearranges, GroupNorm's affine folded into the σ modulation), "
        "which shows mostly in the small, overhead-bound `tiny` model and in bf16.",
        "- bf16 autocast pays off on CPUs with AVX512-BF16/AMX (this one) and on GPUs. Run it under "
        "`torch.no_grad()` rather than `torch.inference_mode()`: autocast then caches the bf16 copies "
        "of the weights across calls (a sampling loop makes hundreds of calls).",
        "- The machine was shared with other jobs. With one thread the script counts the process's CPU "
        "time (which waiting for the core does not inflate) and keeps the fastest of the interleaved "
        "runs; memory bandwidth is still shared, so expect ±10% between runs.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["paper", "tiny"], choices=sorted(unet.PRESETS))
    parser.add_argument("--samples", type=int, default=65536, help="input length (default 65536)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), help="wall, or the process's CPU time (default "
                                                               "with one CPU thread: cpu; otherwise wall)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--write", action="store_true", help="update the section in docs/benchmarks.md")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("audio_diffusion_pytorch") is None:
        print("needs audio-diffusion-pytorch==0.0.43 (see scripts/make_unet_reference.py)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device()
    # One CPU thread: count the process's CPU time, which a machine shared with other jobs does not
    # inflate (wall time does, by whatever share of the core the other jobs take).
    clock = args.clock or ("cpu" if device.type == "cpu" and torch.get_num_threads() == 1 else "wall")
    device_name = (torch.cuda.get_device_name(0) if device.type == "cuda" else
                   f"CPU {platform.machine()} ({os.cpu_count()} cores, {torch.get_num_threads()} "
                   f"thread{'s' if torch.get_num_threads() > 1 else ''})")
    device_name += f", {clock} time"
    print(f"device: {device_name}, torch {torch.__version__}", flush=True)
    rows = []
    for name in args.configs:
        kw = unet.PRESETS[name].to_dict()
        rows += compare(name, kw, args.samples, args.batch, args.repeats, device, CLOCKS[clock])
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--json" and a != args.json]
    command = " ".join(["/tmp/adp/bin/python benchmarks/unet_speed.py", *shown])  # the venv of the docstring
    text = markdown(rows, command, device_name)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if args.write:
        print(f"updated {write_section(SECTION, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
