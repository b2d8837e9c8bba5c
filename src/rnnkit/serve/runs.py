"""The runs ``rnnkit serve`` loads, each named by its directory's name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..api import load

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def run_names(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Run name (the directory's name) -> path; a name two runs share, or one unfit for a URL, is an error."""
    names: dict[str, Path] = {}
    for path in map(Path, paths):
        name = path.resolve().name
        if not NAME.fullmatch(name):
            raise ValueError(f"RUN {path}: its name {name!r} cannot be part of a URL; expected letters, digits, "
                             "'.', '_' or '-' (rename the directory)")
        if name in names:
            raise ValueError(f"RUN {path}: two runs named {name!r} ({names[name]} and {path}); expected runs whose "
                             "directory names differ (the name is the run's URL)")
        names[name] = path
    if not names:
        raise ValueError("RUN: got no run; expected one or more run directories")
    return names


def load_runs(paths: Sequence[str | Path], device: str = "cpu", dtype: str | None = None) -> dict[str, Any]:
    """``{name: predictor}`` of the run directories ``paths`` (names checked before any is loaded)."""
    return {name: load(path, device=device, dtype=dtype) for name, path in run_names(paths).items()}


__all__ = ["load_runs", "run_names"]
