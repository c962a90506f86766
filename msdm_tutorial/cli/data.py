"""``msdm make-toy-data``, ``msdm render-midi`` and ``msdm prepare-slakh``."""

from __future__ import annotations

import os

from .common import CommandError, write_json
from .parsing import COUNT, NON_NEGATIVE, SAMPLE_RATE, SECONDS, SEED


def run_make_toy_data(args) -> int:
    """Synthesise toy songs whose bass, drums, guitar and piano share tempo, key and chords. Writes
    OUT/{train,validation,test}/TrackNNNNN/ with a meta.json of labels per track."""
    from ..data.toyset import write_toy_dataset

    summary = write_toy_dataset(args.out, songs=args.songs, validation_songs=args.validation_songs,
                                test_songs=args.test_songs, seconds=args.seconds, seed=args.seed,
                                sample_rate=args.sample_rate, layout=args.layout, fmt=args.format,
                                overwrite=args.overwrite, progress=not args.quiet, renderer=args.renderer)
    n = sum(summary["songs"].values())
    print(f"wrote {n} toy songs ({summary['layout']} layout, {summary['renderer']} renderer, {summary['sample_rate']} Hz, "
          f"{summary['seconds']} s each) to {summary['out']}")
    write_json(args.json, summary)
    return 0


def run_render_midi(args) -> int:
    """Render each MIDI file into one track, the way Slakh2100 was made: every MIDI instrument is
    rendered on its own and classed by its General MIDI program (Piano 0-7, Guitar 24-31, Bass
    32-39, drums for drum tracks); the other classes go to the mixture only. Writes
    OUT/SPLIT/TrackNNNNN/ (numbered in input order), each track atomically; finished tracks are
    skipped, so an interrupted run can simply be started again. A file that does not parse or holds
    none of the four classes gets one line on stderr and is skipped."""
    import sys

    from ..data.midi import format_summary, render_midi_files

    def problem(r):  # one line per file, as it happens
        kind = "error" if r["status"] == "failed" else "skipped"
        print(f"msdm render-midi: {kind}: {r['reason']}" + ("; skipped" if kind == "error" else ""), file=sys.stderr)

    summary = render_midi_files(args.midi, args.out, soundfont=args.soundfont, sample_rate=args.sample_rate,
                                layout=args.layout, split=args.split, fmt=args.format, programs=args.programs,
                                seed=args.seed, jobs=args.jobs, progress=not args.quiet, on_problem=problem)
    print(format_summary(summary))
    write_json(args.json, summary)
    # exit 2 when a file failed, or when nothing at all was rendered (every file skipped)
    return 2 if summary["failed"] or not summary["tracks"] else 0


def run_prepare_slakh(args) -> int:
    """Read RAW_ROOT/{train,validation,test,omitted}/TrackNNNNN/metadata.yaml, sum the rendered stems
    of the classes Bass, Drums, Guitar and Piano, downmix, resample and write
    OUT_ROOT/split/TrackNNNNN/{bass,drums,guitar,piano}.wav. Finished tracks are skipped, so an
    interrupted run can simply be started again."""
    from ..data.slakh import format_summary, prepare_slakh

    summary = prepare_slakh(args.raw_root, args.out_root, sample_rate=args.sample_rate,
                            workers=args.workers, progress=not args.quiet)
    print(format_summary(summary))
    write_json(args.json, summary)
    if summary["failed"]:
        track, why = summary["failed"][0]
        raise CommandError(f"{len(summary['failed'])} track(s) failed, first {why}")
    return 0


def add_quiet_and_json(p, json_help: str) -> None:
    """``--quiet`` (no progress bar) and ``--json FILE``, which every data command ends with."""
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", metavar="FILE", help=json_help)


def add_layout_options(p, rate_note: str, raw_layout: str) -> None:
    """``--sample-rate`` (default by layout) and ``--layout msdm|slakh-raw``, which the writing commands share."""
    p.add_argument("--sample-rate", type=SAMPLE_RATE, default=None,
                   help=f"sample rate (default 22050 for msdm, 44100 for slakh-raw{rate_note})")
    p.add_argument("--layout", choices=("msdm", "slakh-raw"), default="msdm",
                   help=f"msdm: {{stem}}.wav per track; slakh-raw: {raw_layout}")


def register(sub) -> None:
    """``msdm make-toy-data``, ``msdm render-midi`` and ``msdm prepare-slakh``."""
    register_make_toy_data(sub)
    register_render_midi(sub)
    register_prepare_slakh(sub)


def register_make_toy_data(sub) -> None:
    p = sub.add_parser(
        "make-toy-data", help="synthesise toy multi-stem songs (MSDM or raw Slakh layout)", description=run_make_toy_data.__doc__)
    p.add_argument("out", metavar="OUT", help="output folder (created; must be empty unless --overwrite)")
    p.add_argument("--songs", type=NON_NEGATIVE, default=24, help="training songs (default 24)")
    p.add_argument("--validation-songs", type=NON_NEGATIVE, default=4, help="validation songs (default 4)")
    p.add_argument("--test-songs", type=NON_NEGATIVE, default=6, help="test songs (default 6)")
    p.add_argument("--seconds", type=SECONDS, default=8.0, help="length of each song in seconds (default 8)")
    p.add_argument("--seed", type=SEED, default=0, help="base seed; the same seed gives identical files")
    add_layout_options(p, "", "metadata.yaml + stems/SNN.flac + mix.flac")
    p.add_argument("--format", choices=("wav", "flac"), default="wav",
                   help="audio format of the msdm layout (default wav; flac is about half the size)")
    p.add_argument("--renderer", choices=("numpy", "soundfont"), default="numpy",
                   help="numpy: the built-in oscillators (default); soundfont: the same score played by "
                        "General MIDI instruments (bundled TimGM6mb.sf2), one program per class drawn per song")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it is not empty")
    add_quiet_and_json(p, "also write a summary as JSON")
    p.set_defaults(func=run_make_toy_data)


def register_render_midi(sub) -> None:
    p = sub.add_parser(
        "render-midi", help="render multi-track MIDI files into stems with a General MIDI SoundFont (as Slakh)", description=run_render_midi.__doc__)
    p.add_argument("midi", metavar="MIDI_PATH", nargs="+", help="MIDI files, or folders searched for *.mid / *.midi")
    p.add_argument("out", metavar="OUT", help="output folder (created; finished tracks in it are kept)")
    p.add_argument("--soundfont", metavar="SF2", default=None,
                   help="a General MIDI SoundFont (default: TimGM6mb.sf2, bundled with pretty_midi, GPL-2)")
    add_layout_options(p, ", as the official release", "metadata.yaml, stems/SNN.flac, MIDI/SNN.mid, all_src.mid, "
                                                         "mix.flac (then run msdm prepare-slakh)")
    p.add_argument("--split", choices=("train", "validation", "test"), default="train",
                   help="split folder to write the tracks into (default train)")
    p.add_argument("--format", choices=("wav", "flac"), default="wav",
                   help="audio format of the msdm layout (default wav; the raw layout is always FLAC)")
    p.add_argument("--programs", choices=("keep", "random"), default="keep",
                   help="keep: each track's own GM program (default); random: like Slakh's random choice of "
                        "patch, draw a program within the track's class (Bass 32-39, ...) from --seed")
    p.add_argument("--seed", type=SEED, default=0, help="base seed of --programs random (file i uses seed + i)")
    p.add_argument("--jobs", type=COUNT, default=1, help="parallel processes (default 1)")
    add_quiet_and_json(p, "also write the summary as JSON")
    p.set_defaults(func=run_render_midi)


def register_prepare_slakh(sub) -> None:
    p = sub.add_parser(
        "prepare-slakh", help="convert the official Slakh2100 release to the MSDM layout", description=run_prepare_slakh.__doc__)
    p.add_argument("raw_root", metavar="RAW_ROOT", help="the slakh2100_flac_redux folder")
    p.add_argument("out_root", metavar="OUT_ROOT", help="output folder (MSDM layout)")
    p.add_argument("--sample-rate", type=SAMPLE_RATE, default=22050, help="output sample rate (default 22050)")
    p.add_argument("--workers", type=COUNT, default=max(1, min(8, (os.cpu_count() or 2) - 1)),
                   help="parallel processes (default: CPU cores - 1, at most 8)")
    add_quiet_and_json(p, "also write the summary as JSON")
    p.set_defaults(func=run_prepare_slakh)
