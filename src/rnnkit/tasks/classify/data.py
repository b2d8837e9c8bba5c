"""What the classification task's training and its predictor share: the task's name and settings sections, and
labelled text (files or in-memory ``(text, label)`` pairs) read into ids."""

from __future__ import annotations

from typing import Any

from ...models import ClassifierConfig
from ...text import Vocab
from ...train.config import TrainConfig
from ..common import Encoded
from ..text_data import TextDataConfig, build_vocab, encode_splits, read_splits
from .pretrain import PretrainConfig

NAME = "classify"
SETTINGS = {"text": TextDataConfig, "model": ClassifierConfig, "train": TrainConfig, "pretrain": PretrainConfig}
EVAL_BATCH_SIZE = 64


def read_data(data: Any, valid: Any, test: Any, text: TextDataConfig,
              seed: int) -> tuple[list[str], Vocab, tuple[Encoded, Encoded, Encoded | None]]:
    """``(labels, vocab, (train, valid, test))``: every split read and checked (see
    :func:`~rnnkit.tasks.text_data.read_splits`), the vocabulary of the training split, and the splits as ids."""
    labels, train_examples, valid_examples, test_examples = read_splits(data, valid, test, text, seed)
    vocab = build_vocab(train_examples, text)
    return labels, vocab, encode_splits(vocab, labels, train_examples, valid_examples, test_examples)


def example_counts(train: Encoded, valid: Encoded, test: Encoded | None) -> dict[str, int | None]:
    """config.json's ``data.examples``."""
    return {"train": len(train), "valid": len(valid), "test": None if test is None else len(test)}
