"""The ``msdm`` command line. Each concept module registers its own subcommands.

A module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
subcommands with ``parser.set_defaults(func=run_fn)``; ``run_fn(args) -> int``.
Errors (``CommandError``, ``ValueError``, ``OSError``) print one line naming the input and the
problem to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys

from . import __version__

COMMAND_MODULES = [
    "msdm_tutorial.info",
    "msdm_tutorial.checkpoints",
    "msdm_tutorial.data.commands",
    "msdm_tutorial.train",
    "msdm_tutorial.inference",
]


class CommandError(Exception):
    """A user-facing error: the message names the input and the problem."""


def write_json(path: str | None, payload: dict) -> None:
    """``--json FILE``: write machine-readable results atomically (temp file + rename)."""
    if not path:
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with the project's error style: one line ``msdm CMD: error: …``, exit status 2.

    (argparse's own style prints the usage first; subparsers inherit this class.)"""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0]}\n")


class Number:
    """An argparse ``type=`` that parses an int or a finite float and checks its range.

    ``Number(int, low=1)`` accepts 1, 2, …; ``Number(float, low=0, low_open=True)`` accepts x > 0.
    A value out of range gets one line: ``argument --steps: -1: must be >= 1``."""

    def __init__(self, kind=int, low=None, high=None, *, low_open: bool = False, high_open: bool = False):
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open

    @property
    def rule(self) -> str:
        bounds = [f"{'>' if self.low_open else '>='} {self.low}" if self.low is not None else "",
                  f"{'<' if self.high_open else '<='} {self.high}" if self.high is not None else ""]
        return " and ".join(b for b in bounds if b) or "finite"

    def __call__(self, text: str):
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if self.kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text}: must be {self.rule}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.kind.__name__}, {self.rule})"


def integer(low: int | None = None, high: int | None = None) -> Number:
    """An integer in [low, high]."""
    return Number(int, low, high)


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False,
         high_open: bool = False) -> Number:
    """A finite float in the range (``low_open``/``high_open`` exclude the ends)."""
    return Number(float, low, high, low_open=low_open, high_open=high_open)


# The ranges every command shares.
COUNT = integer(1)                      # steps, batch sizes, intervals, limits: at least one
NON_NEGATIVE = integer(0)               # workers, warm-up steps, song counts
SEED = integer(0, 2 ** 32 - 1)          # numpy's and torch's seeds alike
SECONDS = real(0, low_open=True)        # a length of audio: > 0
SAMPLE_RATE = integer(8000, 192000)     # Hz


def build_parser() -> argparse.ArgumentParser:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
