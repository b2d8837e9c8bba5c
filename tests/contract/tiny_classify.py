"""Tiny classification data and settings for the contract tests: reviews whose first word gives the label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.models import ClassifierConfig
from rnnkit.tasks.classify import PretrainConfig
from rnnkit.tasks.text_data import TextDataConfig
from rnnkit.train.config import TrainConfig

from .labelled_files import labelled_splits

NAME = "classify"
WORDS = {"pos": ("good", "great", "fine", "nice"), "neg": ("bad", "awful", "dull", "poor")}
FILLERS = ("film", "plot story", "cast", "music and film", "story")


def pairs(count: int, offset: int) -> list[tuple[str, str]]:
    """``count`` (text, label) pairs, the labels alternating (each class half of them)."""
    result = []
    for index in range(offset, offset + count):
        label = ("pos", "neg")[index % 2]
        result.append((f"{WORDS[label][index // 2 % 4]} {FILLERS[index % 5]}", label))
    return result


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_classifier``: 16 training texts (4 batches of 4), 8 validation and 4 test texts."""
    splits = labelled_splits(tmp_path, {"data": pairs(16, 0), "valid": pairs(8, 16), "test": pairs(4, 24)}, in_memory)
    return {**splits, "text": TextDataConfig(),
            "model": ClassifierConfig(cell="lstm", embedding_size=8, hidden_size=12, num_layers=1, dropout=0.0,
                                      input_dropout=0.0, word_dropout=0.0),
            # AdamW at a small rate: the loss falls (SGD's does not in 2 epochs here), and Adam's g / sqrt(v),
            # which magnifies rounding differences of near-zero gradients, moves two torchrun ranks only ~3e-7
            # from one process
            "train": TrainConfig(epochs=2, batch_size=4, lr=0.005, seed=0, quiet=True),
            "pretrain": PretrainConfig()}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a classify run once: predict (texts, and what the CLI reads with read_inputs), evaluate."""
    records = predictor.predict(["good film", "awful story"], batch_size=2)
    assert [record["text"] for record in records] == ["good film", "awful story"]
    assert all(set(record) == {"text", "label", "probabilities"} for record in records)
    assert all(set(record["probabilities"]) == {"neg", "pos"} for record in records)
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("nice cast\n\npoor plot\n", encoding="utf-8")
    read = predictor.read_inputs(str(inputs))
    assert [record.text for record in read] == ["nice cast", "poor plot"]
    assert len(predictor.predict(read)) == 2
    scores = predictor.evaluate(pairs(8, 40), batch_size=4)
    assert scores["labels"] == ["neg", "pos"] and scores["examples"] == 8
    assert {"accuracy", "macro_f1", "confusion_matrix", "loss", "roc_auc", "pr_auc"} <= set(scores)
