"""rnnkit (bootstrap: full re-exports land when text/ and data/ are in)."""

from . import nn

__version__ = "0.1.0"
