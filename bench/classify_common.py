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


def merged(base: list[str], changes: list[str]) -> list[str]:
    """``base`` flags with ``changes`` applied: a flag given in ``changes`` replaces its value in ``base``."""
    result, index = list(base), 0
    while index < len(changes):
        flag = changes[index]
        has_value = index + 1 < len(changes) and not changes[index + 1].startswith("--")
        value = [changes[index + 1]] if has_value else []
        if flag in result:
            position = result.index(flag)
            old_has_value = position + 1 < len(result) and not result[position + 1].startswith("--")
            result[position : position + 1 + old_has_value] = [flag, *value]
        else:
            result += [flag, *value]
        index += 1 + len(value)
    return result
