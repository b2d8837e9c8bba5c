"""The ``rnnkit`` command line: ``main`` (the console script) and ``build_parser``."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
