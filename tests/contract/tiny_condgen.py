"""Tiny conditional-generation data and settings for the contract tests: each label has its own words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.models import ConditionalGeneratorConfig
from rnnkit.tasks.text_data import TextDataConfig
from rnnkit.train.config import TrainConfig

from .labelled_files import labelled_splits

NAME = "condgen"
WORDS = {"pos": ("good", "great", "fine"), "neg": ("bad", "awful", "dull")}


def pairs(count: int, offset: int) -> list[tuple[str, str]]:
    """``count`` (text, label) pairs of 1-3 words, the labels alternating."""
    result = []
    for index in range(offset, offset + count):
        label = ("pos", "neg")[index % 2]
        words = WORDS[label]
        result.append((" ".join(words[(index + step) % 3] for step in range(1 + index // 2 % 3)), label))
    return result


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_condgen``: 16 training texts (4 batches of 4), 8 validation and 4 test texts."""
    splits = labelled_splits(tmp_path, {"data": pairs(16, 0), "valid": pairs(8, 16), "test": pairs(4, 24)}, in_memory)
    return {**splits, "text": TextDataConfig(),
            "model": ConditionalGeneratorConfig(cell="lstm", embedding_size=8, hidden_size=12, num_layers=1,
                                                condition_size=4, dropout=0.0),
            "train": TrainConfig(epochs=2, batch_size=4, lr=0.05, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a condgen run once: generate (by the CLI's parameter names), evaluate."""
    assert predictor.labels == ["neg", "pos"]
    texts = predictor.generate(condition="pos", n=3, max_length=5, seed=1, temperature=0.5)
    assert isinstance(texts, list) and len(texts) == 3 and all(isinstance(text, str) for text in texts)
    assert predictor.generate(condition="neg", n=2, seed=4) == predictor.generate(condition="neg", n=2, seed=4)
    scores = predictor.evaluate(pairs(8, 40), batch_size=4)
    assert scores["labels"] == ["neg", "pos"] and scores["examples"] == 8
    assert {"loss", "ppl", "tokens", "ppl_by_label"} <= set(scores) and set(scores["ppl_by_label"]) == {"neg", "pos"}
