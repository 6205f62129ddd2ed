"""The ``slitwise`` command line.

Each subcommand lives in its own module under ``slitwise.cli`` and provides
``add_parser(subparsers)``, which registers the subcommand and sets ``func`` to the function
that runs it. Exit status: 0 success, 2 bad usage or bad input (one line naming what was
wrong), 1 internal failure.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from slitwise import __version__
from slitwise.errors import SlitwiseInputError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (
    "demo",
    "simulate",
    "run",
    "config",
    "clean",
    "calib",
    "extract",
    "combine",
    "zfit",
    "linefit",
    "inspect",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="slitwise",
        description="Multi-object slit spectroscopy from 2D exposures to redshifts and lines.",
    )
    parser.add_argument("--version", action="version", version=f"slitwise {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"slitwise.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``slitwise`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except SlitwiseInputError as exc:
        print(f"slitwise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slitwise: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
