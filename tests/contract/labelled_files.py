"""Labelled text for the contract tests of the tasks that read it (classify, condgen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def labelled_splits(directory: Path, splits: dict[str, list[tuple[str, str]]], in_memory: bool) -> dict[str, Any]:
    """``splits`` (name -> ``(text, label)`` pairs) as they are (``in_memory``), else each written to
    ``directory/NAME.jsonl`` (``{"text", "label"}`` per line) and given by its path."""
    if in_memory:
        return dict(splits)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, pairs in splits.items():
        paths[name] = directory / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in pairs),
                               encoding="utf-8")
    return paths
