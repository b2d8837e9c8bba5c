"""Tiny DNA data and settings for the contract tests: sequences with a planted motif (label 1) or without (0)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from rnnkit.models import ClassifierConfig
from rnnkit.models.binding_classifier import ConvFrontEndConfig
from rnnkit.tasks.dna import SequenceDataConfig
from rnnkit.train.config import TrainConfig

NAME = "dna"
MOTIF = "TGACTCA"


def records(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` seeded (sequence, label) pairs of 16 letters, alternately without (``"0"``) and with (``"1"``) the
    motif."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        letters = "".join(rng.choice("ACGT") for _ in range(16))
        if index % 2:
            at = rng.randrange(16 - len(MOTIF) + 1)
            letters = letters[:at] + MOTIF + letters[at + len(MOTIF):]
        result.append((letters, str(index % 2)))
    return result


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("seq\tBound\n" + "".join(f"{sequence}\t{label}\n" for sequence, label in pairs))
    return path


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_dna``: 16 training sequences (4 batches of 4), 8 validation and 4 test sequences."""
    splits: dict[str, Any] = {"data": records(16, 0), "valid": records(8, 1), "test": records(4, 2)}
    if not in_memory:
        splits = {name: write_tsv(tmp_path / f"{name}.tsv", pairs) for name, pairs in splits.items()}
    return {**splits, "sequence": SequenceDataConfig(),
            "model": ClassifierConfig(cell="gru", embedding_size=8, hidden_size=12, num_layers=1, dropout=0.0),
            "frontend": ConvFrontEndConfig(),
            "train": TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.5, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a dna run once: predict (strings, and the CLI's records of a file), evaluate."""
    rows = predictor.predict(["ACGT" + MOTIF + "ACGTA", "acgtacgtacgtacgt"], batch_size=2)
    assert [row["name"] for row in rows] == ["sequence 1", "sequence 2"]
    assert all(set(row["probabilities"]) == {"0", "1"} and row["label"] in ("0", "1") for row in rows)
    path = write_tsv(tmp_path / "more.tsv", records(4, 3))
    read = predictor.read_inputs(str(path))
    assert len(read) == 4 and len(predictor.predict(read)) == 4
    metrics = predictor.evaluate(path, batch_size=2)
    assert metrics["labels"] == ["0", "1"] and metrics["examples"] == 4
    assert {"accuracy", "macro_f1", "confusion_matrix", "loss", "roc_auc", "pr_auc"} <= set(metrics)
