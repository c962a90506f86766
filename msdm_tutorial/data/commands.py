"""``msdm make-toy-data`` and ``msdm prepare-slakh``."""

from __future__ import annotations

import os

from .. import cli


def run_make_toy_data(args) -> int:
    from .toyset import write_toy_dataset

    summary = write_toy_dataset(args.out, songs=args.songs, validation_songs=args.validation_songs,
                                test_songs=args.test_songs, seconds=args.seconds, seed=args.seed,
                                sample_rate=args.sample_rate, layout=args.layout, fmt=args.format,
                                overwrite=args.overwrite, progress=not args.quiet)
    n = sum(summary["songs"].values())
    print(f"wrote {n} toy songs ({summary['layout']} layout, {summary['sample_rate']} Hz, "
          f"{summary['seconds']} s each) to {summary['out']}")
    cli.write_json(args.json, summary)
    return 0


def run_prepare_slakh(args) -> int:
    from .slakh import format_summary, prepare_slakh

    summary = prepare_slakh(args.raw_root, args.out_root, sample_rate=args.sample_rate,
                            workers=args.workers, progress=not args.quiet)
    print(format_summary(summary))
    cli.write_json(args.json, summary)
    if summary["failed"]:
        track, why = summary["failed"][0]
        raise cli.CommandError(f"{len(summary['failed'])} track(s) failed, first {why}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "make-toy-data", help="synthesise toy multi-stem songs (MSDM or raw Slakh layout)",
        description="Synthesise toy songs whose bass, drums, guitar and piano share tempo, key and chords. "
                    "Writes OUT/{train,validation,test}/TrackNNNNN/ with a meta.json of labels per track.")
    p.add_argument("out", metavar="OUT", help="output folder (created; must be empty unless --overwrite)")
    p.add_argument("--songs", type=cli.NON_NEGATIVE, default=24, help="training songs (default 24)")
    p.add_argument("--validation-songs", type=cli.NON_NEGATIVE, default=4, help="validation songs (default 4)")
    p.add_argument("--test-songs", type=cli.NON_NEGATIVE, default=6, help="test songs (default 6)")
    p.add_argument("--seconds", type=cli.SECONDS, default=8.0, help="length of each song in seconds (default 8)")
    p.add_argument("--seed", type=cli.SEED, default=0, help="base seed; the same seed gives identical files")
    p.add_argument("--sample-rate", type=cli.SAMPLE_RATE, default=None,
                   help="sample rate (default 22050 for msdm, 44100 for slakh-raw)")
    p.add_argument("--layout", choices=("msdm", "slakh-raw"), default="msdm",
                   help="msdm: {stem}.wav per track; slakh-raw: metadata.yaml + stems/SNN.flac + mix.flac")
    p.add_argument("--format", choices=("wav", "flac"), default="wav",
                   help="audio format of the msdm layout (default wav; flac is about half the size)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it is not empty")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", metavar="FILE", help="also write a summary as JSON")
    p.set_defaults(func=run_make_toy_data)

    p = sub.add_parser(
        "prepare-slakh", help="convert the official Slakh2100 release to the MSDM layout",
        description="Read RAW_ROOT/{train,validation,test,omitted}/TrackNNNNN/metadata.yaml, sum the rendered "
                    "stems of the classes Bass, Drums, Guitar and Piano, downmix, resample and write "
                    "OUT_ROOT/split/TrackNNNNN/{bass,drums,guitar,piano}.wav. Finished tracks are skipped, "
                    "so an interrupted run can simply be started again.")
    p.add_argument("raw_root", metavar="RAW_ROOT", help="the slakh2100_flac_redux folder")
    p.add_argument("out_root", metavar="OUT_ROOT", help="output folder (MSDM layout)")
    p.add_argument("--sample-rate", type=cli.SAMPLE_RATE, default=22050, help="output sample rate (default 22050)")
    p.add_argument("--workers", type=cli.COUNT, default=max(1, min(8, (os.cpu_count() or 2) - 1)),
                   help="parallel processes (default: CPU cores - 1, at most 8)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    p.set_defaults(func=run_prepare_slakh)
