"""argparse in the project's style: one-line errors, numbers checked against their range, and
parsers built from the option definitions of :mod:`msdm_tutorial.options`."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from .. import options
from ..options import Option, Range


class OneLineParser(argparse.ArgumentParser):
    """argparse, with the project's error style: one line ``msdm CMD: error: …``, exit status 2.

    (argparse's own style prints the usage first; subparsers inherit this class.)"""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0]}\n")


@dataclass(frozen=True, repr=False)
class Number(Range):
    """An argparse ``type=`` that parses an int or a finite float and checks its :class:`Range`.

    ``Number(int, low=1)`` accepts 1, 2, …; ``Number(float, low=0, low_open=True)`` accepts x > 0.
    A value out of range gets one line: ``argument --steps: -1: must be >= 1``."""

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

    @classmethod
    def of(cls, r: Range) -> "Number":
        return cls(r.kind, r.low, r.high, r.low_open, r.high_open)


def integer(low: int | None = None, high: int | None = None) -> Number:
    """An integer in [low, high]."""
    return Number(int, low, high)


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False,
         high_open: bool = False) -> Number:
    """A finite float in the range (``low_open``/``high_open`` exclude the ends)."""
    return Number(float, low, high, low_open, high_open)


# The ranges every command shares (defined once in msdm_tutorial.options).
COUNT = Number.of(options.COUNT)
NON_NEGATIVE = Number.of(options.NON_NEGATIVE)
SEED = Number.of(options.SEED)
SECONDS = Number.of(options.SECONDS)
SAMPLE_RATE = Number.of(options.SAMPLE_RATE)


def add_option(target, option: Option) -> None:
    """``target.add_argument`` for one :class:`~msdm_tutorial.options.Option`."""
    if option.switch:
        target.add_argument(option.flag, action="store_true", help=option.help)
        return
    kwargs = {"help": option.help}
    for key in ("choices", "metavar"):
        if getattr(option, key) is not None:
            kwargs[key] = getattr(option, key)
    if option.range is not None:
        kwargs["type"] = Number.of(option.range)
    if option.default is not None:
        kwargs["default"] = option.default
    if option.positional:
        target.add_argument(option.flag, **kwargs)
        return
    if option.required:
        kwargs["required"] = True
    if option.dest:
        kwargs["dest"] = option.dest
    target.add_argument(option.flag, **kwargs)


def add_command_options(parser, command: str) -> None:
    """All options of ``msdm COMMAND`` from ``options.COMMAND_OPTIONS``, grouped as defined."""
    groups = {}
    for option in options.COMMAND_OPTIONS[command]:
        if option.group is not None and option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        add_option(groups.get(option.group, parser), option)
