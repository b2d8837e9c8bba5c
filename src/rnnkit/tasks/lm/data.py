"""Language-model data: the texts to train, validate and test on, their evaluation streams, the loss of a window
and the metrics of a text.

Texts come from files, from in-memory lists of documents (joined with newlines), or, without data, from the
built-in CPython documentation corpus.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.builtin import builtin_splits, pydoc_corpus
from ...data.readers.text import read_text
from ...data.streams import Window, batchify, bptt_windows
from ...train.trainer import StepResult

NAME = "lm"
EVAL_BATCH_SIZE = 10
BUILTIN = "built-in: CPython's pydoc_data.topics"

__all__ = ["EVAL_BATCH_SIZE", "NAME", "Texts", "described", "eval_streams", "is_in_memory", "load_texts", "stream_loss",
           "text_metrics", "window_loss"]


class Texts(NamedTuple):
    """The training, validation and (optional) test text, and where they came from."""

    train: str
    valid: str
    test: str | None
    source: str


def is_in_memory(value: Any) -> bool:
    """Whether ``value`` is text handed over in memory (a list of documents) rather than a path or None."""
    return value is not None and not isinstance(value, str | os.PathLike)


def _text_of(value: Any, name: str, encoding: str) -> str:
    """The text of a path, or of a list of documents joined with newlines (``name`` names it in errors)."""
    if not is_in_memory(value):
        return read_text(Path(value), encoding)
    if isinstance(value, bytes) or not isinstance(value, list | tuple):
        raise ValueError(f"{name}: got {type(value).__name__}; expected a path or a list of texts (str)")
    if not value:
        raise ValueError(f"{name}: an empty list; expected at least one text")
    for number, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise ValueError(f"{name} item {number}: expected a text (str); got {type(item).__name__} {item!r:.40}")
    return "\n".join(value)


def described(value: Any) -> str:
    """A text argument as error messages and config.json's ``source`` name it: its path, or ``data (in memory)``."""
    return "data (in memory)" if is_in_memory(value) else str(value)


def load_texts(data: Any, valid: Any, test: Any, encoding: str) -> Texts:
    """Training, validation and (optional) test text, and a description of where they came from.

    Each of ``data``, ``valid`` and ``test`` is a path or a list of texts. Without ``data``, the built-in corpus;
    without ``valid``, the last 10% of the training text (at a line boundary) is held out for validation.
    """
    if data is None:
        train_text, valid_text, test_text = builtin_splits(pydoc_corpus())
        return Texts(train_text, valid_text, test_text, BUILTIN)
    train_text = _text_of(data, "data", encoding)
    test_text = _text_of(test, "test", encoding) if test is not None else None
    if valid is not None:
        return Texts(train_text, _text_of(valid, "valid", encoding), test_text, described(data))
    try:
        train_text, valid_text, _ = builtin_splits(train_text, valid_fraction=0.1, test_fraction=0.0)
    except ValueError:
        raise ValueError(f"--data {described(data)}: too short to hold out 10% for validation; pass --valid FILE"
                         ) from None
    return Texts(train_text, valid_text, test_text, f"{described(data)} (last 10% held out for validation)")


def window_loss(model: nn.Module, window: Window, state: Any) -> StepResult:
    """Summed cross-entropy of one window, and the state to carry into the next (see data.streams)."""
    inputs, targets, start, carry_steps = window
    steps = inputs.shape[1]
    if 0 < carry_steps < steps:
        first_logits, middle = model(inputs[:, :carry_steps], state)
        rest_logits, _ = model(inputs[:, carry_steps:], middle)
        logits, carried = torch.cat([first_logits, rest_logits], dim=1), middle  # (B, t, V)
    else:
        logits, final = model(inputs, state)
        carried = final if carry_steps else state
    logits, targets = logits[:, start:], targets[:, start:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), reduction="sum")
    return StepResult(loss, targets.numel(), carried, tokens=inputs[:, start:].numel())


def stream_loss(model: nn.Module, streams: Tensor, bptt: int) -> tuple[float, int]:
    """Summed loss and token count over whole streams ``(B, L)``, the state carried throughout (eval mode)."""
    total, count, state = 0.0, 0, None
    for window in bptt_windows(streams, bptt):
        result = window_loss(model, window, state)
        total, count, state = total + float(result.loss_sum), count + result.count, result.state
    return total, count


def text_metrics(loss: float, count: int, prefix: str, level: str) -> dict[str, float]:
    """loss (nats/token), perplexity and bits per token (``bpc`` at char level)."""
    mean = loss / max(count, 1)
    bits = "bpc" if level == "char" else "bits_per_token"
    return {f"{prefix}_loss": mean, f"{prefix}_ppl": math.exp(min(mean, 700.0)), f"{prefix}_{bits}": mean / math.log(2)}


def eval_streams(ids: Tensor, name: str, batch_size: int = EVAL_BATCH_SIZE) -> Tensor:
    """Evaluation streams: up to ``batch_size`` rows, fewer for a short text."""
    if len(ids) < 2:
        raise ValueError(f"{name}: {len(ids)} token(s); expected at least 2 to evaluate on")
    return batchify(ids, max(1, min(batch_size, len(ids) // 2)))
