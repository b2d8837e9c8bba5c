"""Tiny language-model data and settings for the contract tests: short English sentences, char level."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from rnnkit.data.corpus import CorpusConfig
from rnnkit.models import LanguageModelConfig
from rnnkit.train.config import TrainConfig

NAME = "lm"
WORDS = ["the", "cat", "dog", "sat", "ran", "on", "mat", "a", "red", "big"]


def documents(count: int, seed: int) -> list[str]:
    """``count`` seeded lines of 4-7 words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 7))) + "." for _ in range(count)]


def write_text(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(texts), encoding="utf-8")
    return path


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_language_model``: ~600 training characters in 4 streams (windows of 10: ~15 batches an
    epoch), a validation and a test text."""
    splits: dict[str, Any] = {"data": documents(24, 0), "valid": documents(6, 1), "test": documents(4, 2)}
    if not in_memory:
        splits = {name: write_text(tmp_path / f"{name}.txt", texts) for name, texts in splits.items()}
    return {**splits, "corpus": CorpusConfig(level="char"),
            "model": LanguageModelConfig(cell="lstm", embedding_size=8, hidden_size=16, num_layers=1, dropout=0.0),
            "train": TrainConfig(epochs=2, batch_size=4, bptt=10, lr=0.01, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a language-model run once: score, generate, evaluate."""
    scored = predictor.score("the cat sat.")
    assert scored["tokens"] == list("the cat sat.") and len(scored["token_logprobs"]) == 12
    assert scored["logprob"] < 0 and scored["perplexity"] > 1
    text = predictor.generate("the ", length=5, seed=0)
    assert isinstance(text, str) and text.startswith("the ") and len(text) == 9
    assert predictor.generate(length=3, seed=1) == predictor.generate(length=3, seed=1)
    metrics = predictor.evaluate(write_text(tmp_path / "eval.txt", documents(3, 5)))
    assert set(metrics) == {"loss", "ppl", "bpc", "tokens"} and metrics["tokens"] > 0
