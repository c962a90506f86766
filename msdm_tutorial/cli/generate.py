"""``msdm generate`` (all stems of a song jointly) and ``msdm impute`` (generate the stems a track lacks).

Generation samples x ~ p(x_1, …, x_K) from the model's prior; imputation samples the missing stems
given the kept ones, p(x_missing | x_kept), holding the kept stems at their noised values at every
σ step. A song longer than one chunk is *outpainted*: every chunk continues the previous one.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import Tensor

from ..models import (chunk_length, compile_model, generation_length, length_multiple, model_rate,
                      model_stems, parse_stems, pick_device, seeded_generator, synchronize)
from ..outputs import check_output_folder, stem_files, write_stem_folder
from ..presets import config_record, settings_text, with_overrides
from ..progress import StepProgress
from ..data.datasets import LENGTH_TOLERANCE_S, stem_path
from .. import tasks
from ..tasks import GenerationConfig, ImputationConfig, chunk_runs
from .common import CommandError, note, write_json
from .task_commands import (add_task_parsers, check_result_file, crop_seconds, guide_text, load_guided_model,
                            model_label, overlap_of, precision_of, read_input_audio, run_record, sampling_overrides)


def run_generate(args) -> int:
    """Generate ``--batch`` songs of ``--seconds`` and write their stems and mix."""
    out = check_output_folder(args.out)
    check_result_file(args.json)
    cfg = with_overrides(GenerationConfig.paper(), **sampling_overrides(args), guidance=args.guidance)
    device = pick_device(args.device)
    model, guide = load_guided_model(args, device)
    stems, sr, m = model_stems(model), model_rate(model), length_multiple(model)
    chunk = chunk_length(model, args.chunk_seconds)
    overlap = overlap_of(args, chunk)
    precision = precision_of(args, device)
    seconds = args.seconds if args.seconds is not None else chunk / sr
    n = max(1, round(seconds * sr))
    length = generation_length(n, m, chunk)
    runs = tasks.outpainting_chunks(model, length, chunk, overlap)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    with StepProgress(runs * cfg.num_steps, "generate", args.quiet) as bar:
        x = tasks.generate(model, (args.batch, len(stems), length), config=cfg, generator=seeded_generator(device, args.seed),
                     callback=bar, device=device, precision=precision, chunk_length=chunk, overlap=overlap)
    synchronize(device)
    elapsed = time.perf_counter() - t0
    x = x[..., :n].float().cpu()
    files = {}
    for b in range(args.batch):
        files.update(stem_files(stems, x[b], "" if args.batch == 1 else f"sample_{b:03d}/"))
    written = write_stem_folder(out, files, sr)
    how = f"outpainted in {runs} chunks of {chunk} samples; " if n > chunk else ""
    print(f"wrote {len(written)} files to {out} ({args.batch} × {n / sr:.2f} s at {sr} Hz; {how}"
          f"{settings_text(cfg)}{guide_text(guide)}; {precision}; {elapsed:.1f} s)")
    write_json(args.json, {"command": "generate", **model_label(args), "autoguidance": guide, "out": str(out),
                           "files": [str(p) for p in written], "stems": list(stems), "sample_rate": sr,
                           "samples": n, "seconds": n / sr, "batch": args.batch, "seed": args.seed,
                           "chunk_length": chunk, "chunks": runs, "overlap": overlap, "precision": precision,
                           "compile": args.compile, "device": str(device), "config": config_record(cfg),
                           "elapsed_s": elapsed})
    return 0


def read_track_stems(track, stems, keep, sample_rate, command) -> Tensor:
    """(K, T): the kept stems read from the track folder (resampled), zeros elsewhere."""
    track = Path(track)
    if not track.is_dir():
        raise CommandError(f"{track}: no such track folder")
    found = {s: stem_path(track, s) for s in keep}
    if not any(found.values()):
        raise CommandError(f"{track}: none of the kept stems has a file ({', '.join(s + '.wav/.flac' for s in keep)})")
    audios = {}
    for s, p in found.items():
        if p is None:
            note(command, f"{track}: no {s} file; keeping {s} as silence")
        else:
            audios[s] = read_input_audio(p, sample_rate, command)
    lengths = [a.numel() for a in audios.values()]
    if max(lengths) - min(lengths) > LENGTH_TOLERANCE_S * sample_rate:
        raise CommandError(f"{track}: stem lengths differ by {(max(lengths) - min(lengths)) / sample_rate:.2f} s "
                           f"(more than {LENGTH_TOLERANCE_S} s)")
    n = min(lengths)
    return torch.stack([audios[s][:n] if s in audios else torch.zeros(n) for s in stems])


def check_kept_stems(keep, stems, args) -> None:
    """``--keep`` must name stems of the model, and not all of them."""
    unknown = [s for s in keep if s not in stems]
    if unknown:
        raise CommandError(f"--keep: unknown stem(s) {', '.join(map(repr, unknown))}; the checkpoint "
                           f"{args.checkpoint} has the stems {', '.join(stems)}")
    if set(keep) == set(stems):
        raise CommandError(f"--keep {args.keep}: names every stem of the checkpoint; there is nothing to impute")


def run_impute(args) -> int:
    """Keep the ``--keep`` stems of ``--track`` and generate the model's other stems to fit them."""
    out = check_output_folder(args.out)
    check_result_file(args.json)
    cfg = with_overrides(ImputationConfig.recommended(), **sampling_overrides(args), guidance=args.guidance)
    keep = parse_stems(args.keep, "--keep")
    device = pick_device(args.device)
    model, guide = load_guided_model(args, device)
    stems, sr = model_stems(model), model_rate(model)
    check_kept_stems(keep, stems, args)
    chunk = chunk_length(model, args.chunk_seconds)
    overlap, precision = overlap_of(args, chunk), precision_of(args, device)
    known = crop_seconds(read_track_stems(args.track, stems, keep, sr, "impute"), args.seconds, sr)
    n = known.shape[-1]
    runs = chunk_runs(n, chunk, overlap, args.chunking, 1, args.batch)
    gen = seeded_generator(device, args.seed)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    with StepProgress(runs * cfg.num_steps, "impute", args.quiet) as bar:
        x = tasks.impute_long(model, known[None].to(device), keep, cfg, chunk_length=chunk, batch_size=args.batch,
                        generator=gen, callback=bar, chunking=args.chunking, overlap=overlap, precision=precision)
    synchronize(device)
    elapsed = time.perf_counter() - t0
    written = write_stem_folder(out, stem_files(stems, x.float()[0].cpu()), sr)
    generated = [s for s in stems if s not in keep]
    print(f"wrote {len(written)} files to {out} (kept {', '.join(keep)}; generated {', '.join(generated)}; "
          f"{n / sr:.2f} s at {sr} Hz; {settings_text(cfg)}{guide_text(guide)}; {args.chunking} chunks; {precision}; "
          f"{elapsed:.1f} s)")
    write_json(args.json, {"command": "impute", **model_label(args), "autoguidance": guide, "track": str(args.track), "keep": list(keep),
                           "generated": generated, "out": str(out), "files": [str(p) for p in written],
                           "stems": list(stems), "sample_rate": sr, "samples": n, "seconds": n / sr,
                           **run_record(args, device, cfg, chunk, precision), "elapsed_s": elapsed})
    return 0


#: {command: (its run function, its parser's help, description and epilog)}
COMMANDS = {
    "generate": (run_generate, {
        "help": "generate songs: all stems jointly, plus their mix",
        "description": "Total generation: sample all stems of a song jointly from the model's prior.\n"
                       "Writes OUT/{stem}.wav for every stem and OUT/mix.wav (their sum); with --batch N > 1,\n"
                       "OUT/sample_000/, OUT/sample_001/, …  Paper settings: Euler, 150 steps, σ_max 20, S_churn 20.",
        "epilog": "example: msdm generate --checkpoint data_small/checkpoints/msdm-tiny.pt --out song --seconds 3"}),
    "impute": (run_impute, {
        "help": "partial generation: keep some stems of a track, generate the others",
        "description": "Source imputation: read the stems named by --keep from a track folder\n"
                       "(TRACK/{stem}.wav or .flac, any sample rate) and generate the model's other stems to fit them.\n"
                       "Writes OUT/{stem}.wav for every stem (the kept ones as read) and OUT/mix.wav.\n"
                       "Default: the course's recommended setting, the paper's (Euler, 256 steps, σ_max 20, S_churn 10)\n"
                       "with reconstruction guidance 2, about twice its compute; --guidance 0 is the paper's.",
        "epilog": "example: msdm impute --checkpoint msdm-tiny.pt --track data_small/toy/test/Track00029 "
                  "--keep drums,bass --out filled"}),
}


def register(sub) -> None:
    """``msdm generate`` and ``msdm impute``."""
    add_task_parsers(sub, COMMANDS)
