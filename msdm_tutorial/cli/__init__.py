"""The ``msdm`` command line: one module of this package per command family.

* ``info`` (:mod:`.info`), ``convert-checkpoint`` (:mod:`.checkpoints`), ``make-toy-data``,
  ``render-midi``, ``prepare-slakh`` (:mod:`.data`), ``train`` (:mod:`.train`),
  ``generate``, ``impute`` (:mod:`.generate`), ``separate``, ``evaluate`` (:mod:`.separate`).

A module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
subcommands with ``parser.set_defaults(func=run_fn)``; ``run_fn(args) -> int``. The library never
imports this package: it raises ``ValueError`` (or ``OSError``), and :func:`main` prints any of
those, and :class:`CommandError`, as one line naming the input and the problem on stderr, exit
status 2, without a traceback.
"""

from __future__ import annotations

import importlib
import sys

from .. import __version__
from .common import CommandError, note, write_json
from .parsing import COUNT, NON_NEGATIVE, SAMPLE_RATE, SECONDS, SEED, Number, OneLineParser, integer, real

COMMAND_MODULES = [
    "msdm_tutorial.cli.info",
    "msdm_tutorial.cli.checkpoints",
    "msdm_tutorial.cli.data",
    "msdm_tutorial.cli.train",
    "msdm_tutorial.cli.generate",
    "msdm_tutorial.cli.separate",
]


def build_parser() -> OneLineParser:
    """``msdm`` and every subcommand (the command modules are imported here, not before)."""
    parser = OneLineParser(
        prog="msdm",
        description="Multi-Source Diffusion Models: generate, impute and separate music stems.",
        epilog="Run 'msdm COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"msdm-tutorial {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``msdm ARGV…``; returns the exit status (0 done, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:            # a bad option: return its status (--help still exits)
        if done.code in (0, None):
            raise
        return int(done.code) if isinstance(done.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (CommandError, ValueError, OSError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"msdm {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"msdm {args.command}: interrupted", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser", "CommandError", "OneLineParser", "Number", "integer", "real", "write_json",
           "note", "COUNT", "NON_NEGATIVE", "SEED", "SECONDS", "SAMPLE_RATE", "COMMAND_MODULES"]
