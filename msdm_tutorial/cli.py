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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
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
