"""The conditional generator's training loss and its per-token loss and perplexity on a corpus."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ...models.condgen import sequence_loss
from ...train.trainer import StepResult
from .data import Batch


def batch_loss(model: nn.Module, batch: Batch, pad_id: int) -> StepResult:
    """Summed cross-entropy over the real target tokens of one batch (padding ignored)."""
    device = next(model.parameters()).device
    labels, inputs, targets, lengths = batch
    logits = model(labels.to(device), inputs.to(device), lengths)  # (B, T, V)
    count = int(lengths.sum())  # real targets: the tokens and one <eos> each
    return StepResult(sequence_loss(logits, targets.to(device), pad_id), count, None, tokens=count,
                      padded_tokens=targets.numel())


@torch.no_grad()
def corpus_loss(model: nn.Module, batches: list[Batch], pad_id: int, num_classes: int) -> dict[str, Any]:
    """Loss per target token (nats), perplexity, and the perplexity of each class's texts (model in eval mode)."""
    was_training = model.training
    model.eval()
    totals, counts = [0.0] * num_classes, [0] * num_classes
    device = next(model.parameters()).device
    for labels, inputs, targets, lengths in batches:
        logits = model(labels.to(device), inputs.to(device), lengths).float()  # (B, T, V)
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.to(device), ignore_index=pad_id,
                                                   reduction="none").sum(1).cpu()  # (B,)
        for label, loss, length in zip(labels.tolist(), losses.tolist(), lengths.tolist(), strict=True):
            totals[label] += loss
            counts[label] += length
    model.train(was_training)
    mean = math.fsum(totals) / max(sum(counts), 1)
    return {"loss": mean, "ppl": math.exp(min(mean, 700.0)), "tokens": sum(counts),
            "ppl_by_label": [math.exp(min(total / count, 700.0)) if count else None
                             for total, count in zip(totals, counts, strict=True)]}
