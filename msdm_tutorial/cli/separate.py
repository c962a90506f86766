"""``msdm separate`` (a mixture file → stems) and ``msdm evaluate`` (SI-SDRi on a test set).

Separation samples p(x_1, …, x_K | y) for a mixture y = Σ_k x_k; the defaults are the course's
recommended setting (:data:`msdm_tutorial.options.RECOMMENDED_SEPARATION`: MSDM Dirac, the paper's
Euler sampler with R = 2 from σ_max 1 on 12 steps, S_churn 0.4, σ_min 3e-3, seamless chunks;
the paper's Table 1 is ``--steps 150 --churn 20 --sigma-min 1e-4 --chunking independent``). ``msdm evaluate`` scores it with the paper's
protocol (:func:`msdm_tutorial.metrics.evaluate`): 4-s windows with a 2-s hop, windows with at most
one active stem skipped, SI-SDRi per stem averaged over windows, and their mean.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import metrics
from ..data.audio import audio_info
from ..data.datasets import list_tracks, read_track, stem_path
from ..models import chunk_length, compile_model, model_rate, model_stems, parse_stems, pick_device
from ..outputs import check_output_folder, stem_files, write_stem_folder
from ..presets import recommended_separation, settings_text, with_constrained_stem
from ..separation import check_not_silent, separate_mixture
from ..task_inputs import silent_items
from .common import CommandError, note, write_json
from .task_commands import (add_task_parsers, check_result_file, crop_seconds, load_separation_model, model_label,
                          overlap_of, precision_of, read_input_audio, run_record, sampling_overrides)


def separation_setup(args, device):
    """The model, its stems and rate, the sampling config, the chunk length and the precision."""
    cfg = recommended_separation(bool(args.isdm), args.method, **sampling_overrides(args))
    model = load_separation_model(args, device, parse_stems(args.stems))
    stems = model_stems(model)
    cfg = with_constrained_stem(cfg, args.constrain, stems)
    return model, stems, model_rate(model), cfg, chunk_length(model, args.chunk_seconds), precision_of(args, device)


def run_separate(args) -> int:
    """Separate the mixture file into the model's stems and write them with their mix."""
    out = check_output_folder(args.out)
    check_result_file(args.json)
    device = pick_device(args.device)
    model, stems, sr, cfg, chunk, precision = separation_setup(args, device)
    y = read_input_audio(args.mixture, sr, "separate")
    check_not_silent(y, args.mixture)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    x = separate_mixture(model, y, cfg, chunk, args.batch, args.seed, device, args.quiet, chunking=args.chunking,
                         overlap=overlap_of(args, chunk), precision=precision)
    elapsed = time.perf_counter() - t0
    written = write_stem_folder(out, stem_files(stems, x), sr)
    n = y.numel()
    kind = "ISDM" if args.isdm else "MSDM"
    print(f"wrote {len(written)} files to {out} ({kind} {args.method}; {n / sr:.2f} s at {sr} Hz; "
          f"{settings_text(cfg)}; {args.chunking} chunks; {precision}; {elapsed:.1f} s, "
          f"{elapsed / (n / sr):.2f} s per s of audio)")
    write_json(args.json, {"command": "separate", **model_label(args), "model": kind, "method": args.method,
                           "input": str(args.mixture), "out": str(out), "files": [str(p) for p in written],
                           "stems": list(stems), "sample_rate": sr, "samples": n, "seconds": n / sr,
                           **run_record(args, device, cfg, chunk, precision), "elapsed_s": elapsed,
                           "seconds_per_audio_second": elapsed / (n / sr)})
    return 0


def evaluation_tracks(data: Path, split: str, stems, limit: int | None) -> list[Path]:
    """The tracks of DATA/SPLIT to score (the first ``limit``), their audio headers checked up front
    so that a broken file fails the run before hours of sampling."""
    tracks = list_tracks(data, split, stems)
    if not tracks:
        raise CommandError(f"{data / split}: no tracks with any of the model's stems ({', '.join(stems)})")
    tracks = tracks[:limit] if limit else tracks
    for s in stems:
        if not any(stem_path(t, s) for t in tracks):
            raise CommandError(f"{data / split}: no track has a {s} file, but the model separates "
                               f"{', '.join(stems)}; is this the right data for this checkpoint?")
    for t in tracks:
        for s in stems:
            p = stem_path(t, s)
            if p is not None:
                audio_info(p)
    return tracks


def read_reference(track: Path, stems, sr: int, args, chunk: int):
    """A track's (K, T) stems as scored (cropped to ``--seconds``, partial chunk dropped on request),
    or None with a note when there is nothing to score (shorter than a chunk, or silent)."""
    ref, notes = read_track(track, stems, sample_rate=sr, resample=True)
    for message in notes:                                  # e.g. a stereo stem downmixed to mono
        note("evaluate", message)
    ref = crop_seconds(ref, args.seconds, sr)
    if args.drop_partial_chunk:
        ref = ref[:, :ref.shape[-1] // chunk * chunk]
        if ref.shape[-1] == 0:
            note("evaluate", f"{track}: shorter than one chunk ({chunk} samples); skipped")
            return None
    if silent_items(ref.sum(0)):
        note("evaluate", f"{track}: the mixture is silent; skipped")
        return None
    return ref


def separate_tracks(tracks, model, stems, sr, cfg, chunk, device, precision, args):
    """Separate each track's mixture Σ_k x_k: [(name, estimate, reference)], skipped names, audio seconds."""
    triples, skipped, audio_seconds = [], [], 0.0
    for i, t in enumerate(tracks):
        ref = read_reference(t, stems, sr, args, chunk)
        if ref is None:
            skipped.append(t.name)
            continue
        sep = separate_mixture(model, ref.sum(0), cfg, chunk, args.batch, args.seed + i, device, args.quiet,
                               desc=f"{t.name} ({i + 1}/{len(tracks)})", chunking=args.chunking,
                               overlap=overlap_of(args, chunk), precision=precision)
        triples.append((t.name, sep, ref))
        audio_seconds += ref.shape[-1] / sr
    return triples, skipped, audio_seconds


def report_scores(results: dict, kind: str, args, cfg, precision: str, elapsed: float) -> None:
    """Print the SI-SDRi table; write ``--csv`` and ``--json``."""
    summary = results["summary"]
    print(f"SI-SDRi (dB), {kind} {args.method}, {settings_text(cfg)}, {args.chunking} chunks, {precision}: "
          f"{summary['num_tracks']} track(s), {summary['num_windows']} window(s), {elapsed:.1f} s")
    for s, v in summary["si_sdri"].items():
        print(f"  {s:<10} {v:7.2f}")
    print(f"  {'average':<10} {summary['average']:7.2f}")
    if args.csv:
        csv_dir = Path(args.csv)
        csv_dir.mkdir(parents=True, exist_ok=True)
        metrics.write_csv(csv_dir / "windows.csv", csv_dir / "summary.csv", results)
        print(f"wrote {csv_dir / 'windows.csv'} and {csv_dir / 'summary.csv'}")
    if args.json:
        metrics.write_json(args.json, results)


def run_evaluate(args) -> int:
    """Separate every track of DATA/SPLIT from the sum of its stems and score it (SI-SDRi)."""
    if args.csv and Path(args.csv).exists() and not Path(args.csv).is_dir():
        raise CommandError(f"--csv {args.csv}: exists and is not a folder")
    check_result_file(args.json)
    recommended_separation(bool(args.isdm), args.method, **sampling_overrides(args))  # bad values first
    device = pick_device(args.device)
    data = Path(args.data)
    if not data.is_dir():
        raise CommandError(f"{data}: no such data folder")
    model, stems, sr, cfg, chunk, precision = separation_setup(args, device)
    tracks = evaluation_tracks(data, args.split, stems, args.limit)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    triples, skipped, audio_seconds = separate_tracks(tracks, model, stems, sr, cfg, chunk, device, precision, args)
    elapsed = time.perf_counter() - t0
    if not triples:
        raise CommandError(f"{data / args.split}: every track was skipped (silent or shorter than a chunk)")
    results = metrics.evaluate(triples, sr, stems)
    kind = "ISDM" if args.isdm else "MSDM"
    results["run"] = {"command": "evaluate", **model_label(args), "model": kind, "method": args.method,
                      "data": str(data), "split": args.split, "tracks": [n for n, _, _ in triples],
                      "skipped": skipped, "seconds": args.seconds, "drop_partial_chunk": args.drop_partial_chunk,
                      **run_record(args, device, cfg, chunk, precision), "elapsed_s": elapsed,
                      "audio_seconds": audio_seconds, "seconds_per_audio_second": elapsed / audio_seconds}
    report_scores(results, kind, args, cfg, precision, elapsed)
    return 0


#: {command: (its run function, its parser's help, description and epilog)}
COMMANDS = {
    "separate": (run_separate, {
        "help": "separate a mixture into stems (MSDM Dirac/Gaussian, or ISDM)",
        "description": "Separate a WAV/FLAC mixture of any length and sample rate into the model's stems.\n"
                       "Writes OUT/{stem}.wav and OUT/mix.wav (the sum of the estimated stems, at the model's rate).\n"
                       "Paper settings (Table 1): Euler, 150 steps × R 2 corrections (300 NFE), σ ∈ [1e-4, 1],\n"
                       "S_churn 20 (MSDM Dirac) or 40 (MSDM Gaussian, ISDM), γ = 0.75σ, chunks of 262144 samples.",
        "epilog": "examples:\n  msdm separate --checkpoint msdm-tiny.pt song.wav --out stems\n"
                  "  msdm separate --isdm bass=b.pt,drums=d.pt,guitar=g.pt,piano=p.pt song.flac --out stems"}),
    "evaluate": (run_evaluate, {
        "help": "SI-SDRi of separation on a test set (the paper's protocol)",
        "description": "Separate every track of DATA/SPLIT (MSDM layout) from the sum of its stems and score it\n"
                       "with the paper's protocol: chunks of the model's length, 4 s windows with a 2 s hop, windows\n"
                       "with at most one active stem skipped, SI-SDRi per stem averaged over windows, and their mean.\n"
                       "The last partial chunk is zero-padded (--drop-partial-chunk drops it, as the authors' code does).",
        "epilog": "example: msdm evaluate --checkpoint msdm-tiny.pt --data data_small/toy --json results.json --csv results"}),
}


def register(sub) -> None:
    """``msdm separate`` and ``msdm evaluate``."""
    add_task_parsers(sub, COMMANDS)
