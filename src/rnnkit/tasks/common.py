"""What the labelled-sequence tasks share (classify, dna, audio, tag, condgen): encoded examples, a stratified
validation split, batches of similar lengths, the classification loss, probabilities and metrics.

::

    batches(epoch): BucketBatchSampler (similar lengths together, seeded by (seed, epoch)) ─▶ (ids (B, T),
    lengths (B,), labels (B,)[, chars (B, T, W)]) ─▶ cross-entropy summed over the batch

(``chars``: the character ids of each word, for a classifier with character features.)
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..analysis.confusion_plot import plot_confusion_matrix
from ..analysis.metrics import classification_report
from ..data.batching import bucketed_epochs, length_ordered_batches
from ..models import ClassifierEnsemble
from ..text import pad_sequences
from ..text.char_ids import pad_char_ids
from ..train.trainer import StepResult

EVAL_BATCH_SIZE = 64


@dataclass
class Encoded:
    """Examples as ids: ``ids[n]`` a LongTensor of token ids, ``labels[n]`` a class id, ``where[n]`` its origin;
    ``chars[n]`` the character ids of each token (character features) or None."""

    ids: list[Tensor]
    labels: list[int]
    where: list[str]
    chars: list[list[list[int]]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> Encoded:
        return Encoded([self.ids[i] for i in indices], [self.labels[i] for i in indices],
                       [self.where[i] for i in indices],
                       [self.chars[i] for i in indices] if self.chars is not None else None)


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(kept, held_out)``: ``round(fraction * n_c)`` of each class c held out (at least one of a class
    with two or more examples), chosen by a seeded shuffle; both lists in the original order."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    generator = random.Random(seed)
    held_out: set[int] = set()
    for label in sorted(by_class):
        members = by_class[label][:]
        generator.shuffle(members)
        count = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        held_out.update(members[:count])
    kept = [index for index in range(len(labels)) if index not in held_out]
    return kept, sorted(held_out)


def collate(data: Encoded, indices: Sequence[int], pad_id: int) -> tuple[Tensor, ...]:
    """``(ids (B, T), lengths (B,), labels (B,))`` of the examples ``indices``, and ``chars (B, T, W)`` (character
    ids, ``<pad>`` = 0) when the data has them."""
    ids, lengths = pad_sequences([data.ids[i] for i in indices], pad_id)
    labels = torch.tensor([data.labels[i] for i in indices], dtype=torch.long)
    if data.chars is None:
        return ids, lengths, labels
    return ids, lengths, labels, pad_char_ids([data.chars[i] for i in indices], 0, ids.shape[1])


def training_batches(data: Encoded, batch_size: int, seed: int, pad_id: int):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, pad_id))


def evaluation_batches(data: Encoded, batch_size: int, pad_id: int) -> Iterator[tuple[list[int], tuple]]:
    """``(indices, batch)`` in length order (little padding), every example once."""
    return length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                  lambda indices: collate(data, indices, pad_id))


def batch_loss(model: nn.Module, batch: tuple, state: Any) -> StepResult:
    """Summed cross-entropy of one batch ``(ids, lengths, labels[, chars])``; no state is carried between batches.

    An ensemble's loss is the mean over its K members of each member's own summed cross-entropy (so each member
    learns as if alone), not the loss of the averaged probabilities.
    """
    ids, lengths, labels, *chars = (part.to(_device(model)) for part in batch)
    extra = {"chars": chars[0]} if chars else {}  # character features
    if isinstance(model, ClassifierEnsemble):
        logits = model.member_logits(ids, lengths, **extra)  # (K, B, C)
        losses = [F.cross_entropy(member.float(), labels, reduction="sum") for member in logits]
        loss = torch.stack(losses).mean()
    else:
        logits = model(ids, lengths, **extra)  # (B, C)
        loss = F.cross_entropy(logits.float(), labels, reduction="sum")
    return StepResult(loss, labels.numel(), None, tokens=int(lengths.sum()),
                      padded_tokens=lengths.numel() * ids.shape[1])


@torch.no_grad()
def predict_probabilities(model: nn.Module, data: Encoded, pad_id: int,
                          batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of every example, in the data's order (model in eval mode)."""
    was_training = model.training
    model.eval()
    probabilities: list[torch.Tensor | None] = [None] * len(data)
    for indices, (ids, lengths, _, *chars) in evaluation_batches(data, batch_size, pad_id):
        extra = {"chars": chars[0].to(_device(model))} if chars else {}  # character features
        rows = torch.softmax(model(ids.to(_device(model)), lengths, **extra).float(), dim=1).cpu()  # (B, C)
        for index, row in zip(indices, rows, strict=True):
            probabilities[index] = row
    model.train(was_training)
    return torch.stack(probabilities)  # (N, C)


def metrics_of(probabilities: torch.Tensor, labels: list[int], prefix: str) -> dict[str, Any]:
    """loss (nats per example), accuracy, macro-F1, confusion matrix, and ROC-AUC / PR-AUC for two classes."""
    truth = torch.tensor(labels, dtype=torch.long)
    loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), truth).item()
    num_classes = probabilities.shape[1]
    report = classification_report(labels, probabilities.argmax(1).tolist(), num_classes,
                                   probabilities[:, 1].tolist() if num_classes == 2 else None)
    return {f"{prefix}_loss": loss, **{f"{prefix}_{key}": value for key, value in report.items()},
            f"{prefix}_examples": len(labels)}


def evaluation_report(probabilities: torch.Tensor, truth: list[int], label_names: list[str],
                      confusion_png: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What ``evaluate`` of a classifier run returns: ``labels`` and the :func:`metrics_of` figures without a
    prefix; the confusion matrix is also drawn to ``confusion_png`` when given."""
    metrics = {key.removeprefix("test_"): value for key, value in metrics_of(probabilities, truth, "test").items()}
    if confusion_png is not None:
        plot_confusion_matrix(metrics["confusion_matrix"], label_names, confusion_png,
                              title=f"accuracy {metrics['accuracy']:.3f}")
    return {"labels": label_names, **metrics}


def check_batch_size(batch_size: Any) -> None:
    """A ValueError unless ``batch_size`` is a positive int (the ``batch_size`` of predict and evaluate)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: got {batch_size!r}; expected a positive integer")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
