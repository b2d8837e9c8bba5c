"""The ``rnnkit`` command: parses arguments and calls the Python API, nothing more.

Results go to stdout as JSON (one object, or one per line for many inputs); progress and logs go to stderr.
User mistakes (``ValueError``, ``FileNotFoundError``) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .analysis import add_analysis_parsers
from .data import add_data_parser
from .serve import add_serve_parser
from .train import add_demo_parser, add_train_parser
from .verbs import add_verb_parsers


class _Parser(argparse.ArgumentParser):
    """argparse, with usage mistakes reported as one line, as every other user mistake (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rnnkit: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from .. import __version__

    parser = _Parser(
        prog="rnnkit",
        description="Recurrent neural networks for sequences: train, evaluate and use RNN, LSTM and GRU models.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parser(commands)
    add_verb_parsers(commands)
    add_demo_parser(commands)
    add_analysis_parsers(commands)
    add_data_parser(commands)
    add_serve_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, "handler", None) is None:  # 'rnnkit train' without a task
        parser.parse_args([args.command, "--help"])
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the file system refused (disk full, read-only, ...); atomic writes kept the rest
        where = f"{error.filename}: " if error.filename else ""
        print(f"rnnkit: error: {where}{error.strerror or error}; files already saved are kept", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
