"""Tiny tagging data and settings for the contract tests: names and places in short synthetic sentences."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.tag import TagDataConfig
from rnnkit.train.config import TrainConfig

NAME = "tag"
FILLER = ["the", "we", "saw", "met", "today"]


def sentences(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """``count`` seeded (tokens, tags) pairs of 2-6 tokens with B-PER/I-PER/B-LOC/O tags."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        tokens, tags = [], []
        while len(tokens) < 2:
            draw = rng.random()
            if draw < 0.3:
                tokens += [rng.choice(["John", "Mary"]), "Smith"]
                tags += ["B-PER", "I-PER"]
            elif draw < 0.5:
                tokens += ["in", rng.choice(["Paris", "Rome"])]
                tags += ["O", "B-LOC"]
            else:
                tokens.append(rng.choice(FILLER))
                tags.append("O")
            if rng.random() < 0.3:
                break
        result.append((tokens, tags))
    return result


def write_conll(path: Path, pairs: list[tuple[list[str], list[str]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("".join(f"{token} {tag}\n" for token, tag in zip(*pair, strict=True))
                              for pair in pairs), encoding="utf-8")
    return path


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_tagger``: 16 training sentences (4 batches of 4), 8 validation and 4 test sentences."""
    splits: dict[str, Any] = {"data": sentences(16, 0), "valid": sentences(8, 1), "test": sentences(4, 2)}
    if not in_memory:
        splits = {name: write_conll(tmp_path / f"{name}.conll", pairs) for name, pairs in splits.items()}
    return {**splits, "text": TagDataConfig(),
            "model": TaggerConfig(cell="lstm", embedding_size=8, hidden_size=12, num_layers=1, dropout=0.0),
            "train": TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.5, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a tagging run once: predict (also from the CLI's inputs, lines and CoNLL), evaluate."""
    rows = predictor.predict(["John Smith saw Rome", ["in", "Paris"]], batch_size=2)
    assert [row["tokens"] for row in rows] == [["John", "Smith", "saw", "Rome"], ["in", "Paris"]]
    assert [len(row["tags"]) for row in rows] == [4, 2] and set(rows[0]["tags"]) <= set(predictor.tags)
    lines = tmp_path / "input.txt"
    lines.write_text("we met Mary Smith\n\nin Rome\n", encoding="utf-8")
    records = predictor.read_inputs(str(lines))
    assert [record.where for record in records] == [f"{lines} line 1", f"{lines} line 3"]
    conll = write_conll(tmp_path / "input.conll", sentences(3, 5))
    assert len(predictor.predict(predictor.read_inputs(str(conll), conll=True))) == 3
    metrics = predictor.evaluate(conll, batch_size=2)
    assert metrics["sentences"] == 3 and 0.0 <= metrics["accuracy"] <= 1.0 and "f1" in metrics
    assert metrics["tags"] == predictor.tags
