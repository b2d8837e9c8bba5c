"""Shared by the classification benchmarks: seeded stratified folds, JSONL split files, the result line."""

from __future__ import annotations

import json
import random
from pathlib import Path


def stratified_folds(labels: list[str], count: int, seed: int) -> list[int]:
    """The fold of each example: each class shuffled (seeded) and dealt round-robin, so folds are stratified."""
    fold = [0] * len(labels)
    generator = random.Random(seed)
    for label in sorted(set(labels)):
        members = [index for index, value in enumerate(labels) if value == label]
        generator.shuffle(members)
        for position, index in enumerate(members):
            fold[index] = position % count
    return fold


def write_jsonl(path: Path, records: list) -> Path:
    """``{"text", "label"}`` per line, UTF-8, whatever the encoding of the source files was."""
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps({"text": record.text, "label": record.label}, ensure_ascii=False) + "\n")
    return path
