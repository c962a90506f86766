"""``msdm convert-checkpoint``: the paper's Lightning ``.ckpt`` → this library's checkpoint format."""

from __future__ import annotations

from pathlib import Path

from ..checkpoints import convert, preset_name
from ..unet import PRESETS, get_config
from .common import CommandError, write_json
from .parsing import COUNT, SAMPLE_RATE


def run_convert(args) -> int:
    """Convert ``args.checkpoint`` into our format at ``args.out`` and print what was written."""
    src, dst = Path(args.checkpoint), Path(args.out)
    if dst.is_dir():
        dst = dst / (src.stem + ".pt")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise CommandError(f"{dst}: refusing to overwrite the input checkpoint")
    if args.check_length is not None and args.preset and args.check_length % get_config(args.preset).downsampling:
        raise CommandError(f"--check-length {args.check_length}: not a multiple of "
                           f"{get_config(args.preset).downsampling} (the downsampling of preset {args.preset!r})")
    payload = convert(src, dst, config=args.preset, stems=args.stems, sample_rate=args.sample_rate,
                      check_length=args.check_length)
    cfg = get_config(payload["config"])
    params = sum(v.numel() for v in payload["state_dict"].values())
    summary = {"input": str(src), "output": str(dst), "preset": preset_name(cfg), "parameters": params,
               "stems": payload["stems"], "sample_rate": payload["sample_rate"], "config": cfg.to_dict()}
    print(f"wrote {dst}: {params:,} parameters, preset {summary['preset'] or '(custom)'}, "
          f"stems {','.join(payload['stems'])}, {payload['sample_rate']} Hz")
    write_json(args.json, summary)
    return 0


def register(sub) -> None:
    """``msdm convert-checkpoint``."""
    p = sub.add_parser(
        "convert-checkpoint", help="convert the paper's Lightning .ckpt into this library's format",
        description="Read an original MSDM/ISDM checkpoint (PyTorch Lightning + audio-diffusion-pytorch "
                    "0.0.43) without running any code from it, and write our checkpoint format "
                    "(loads with torch.load(weights_only=True) and msdm_tutorial.checkpoints.load).",
        epilog="example: msdm convert-checkpoint ckpts/msdm.ckpt msdm.pt --preset paper --check-length 8192")
    p.add_argument("checkpoint", metavar="ORIGINAL.ckpt", help="the original checkpoint file")
    p.add_argument("out", metavar="OUT", help="output file (or an existing directory)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="insist on this architecture (error otherwise)")
    p.add_argument("--stems", help="comma-separated stem names (default: from the checkpoint, else "
                                   "bass,drums,guitar,piano for 4 channels)")
    p.add_argument("--sample-rate", type=SAMPLE_RATE, help="sample rate in Hz (default: from the checkpoint, else 22050)")
    p.add_argument("--check-length", type=COUNT, metavar="SAMPLES",
                   help="before writing, run the converted denoiser once on SAMPLES samples of noise "
                        "(a multiple of the model's downsampling, 8192 for the paper's)")
    p.add_argument("--json", metavar="FILE", help="also write a summary as JSON")
    p.set_defaults(func=run_convert)
