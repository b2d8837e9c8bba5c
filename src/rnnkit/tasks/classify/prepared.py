"""Classifiers trained from a prepared directory (``rnnkit prepare classify``): :class:`PreparedTexts`, the
records of :mod:`rnnkit.data.prepared_records` (read through memory maps, batched with length bucketing inside a
bounded shuffle buffer, each rank its own part) with the class probabilities of every text for evaluation, which
reads a prepared split buffer by buffer in file order (sorted by length within a buffer).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ...data.prepared_records import (
    BUFFER_TEXTS,
    CHUNK_TEXTS,
    PreparedRecords,
    epoch_buffers,
    rank_ranges,
    steps_per_epoch,
)
from ...text import pad_sequences
from .prepare import KIND

__all__ = ["BUFFER_TEXTS", "CHUNK_TEXTS", "PreparedTexts", "epoch_buffers", "rank_ranges", "steps_per_epoch"]

EVAL_BATCH_SIZE = 64


class PreparedTexts(PreparedRecords):
    """A prepared classify directory (see :class:`~rnnkit.data.prepared_records.PreparedRecords`).

    Args:
        directory: The folder ``rnnkit prepare classify`` wrote.
        verify: Recompute the SHA-256 of every file and compare it with the index.
    """

    def __init__(self, directory: str | Path, verify: bool = False) -> None:
        super().__init__(directory, KIND, verify)

    @torch.no_grad()
    def probabilities(self, model: nn.Module, pad_id: int, batch_size: int = EVAL_BATCH_SIZE,
                      buffer_texts: int = BUFFER_TEXTS) -> Tensor:
        """Class probabilities ``(N, C)`` of every text in order (model in eval mode), read buffer by buffer."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        rows: list[Tensor] = []
        for begin in range(0, self.num_texts, buffer_texts):
            end = min(begin + buffer_texts, self.num_texts)
            texts, _ = self.read(begin, end)
            order = np.argsort(self.lengths(begin, end), kind="stable")
            out = torch.empty(end - begin, 0)
            for start in range(0, len(order), batch_size):
                chosen = order[start:start + batch_size]
                ids, lengths = pad_sequences([texts[p] for p in chosen], pad_id)
                probabilities = torch.softmax(model(ids.to(device), lengths).float(), dim=1).cpu()  # (B, C)
                if out.shape[1] == 0:
                    out = torch.empty(end - begin, probabilities.shape[1])
                out[torch.from_numpy(chosen)] = probabilities
            rows.append(out)
        model.train(was_training)
        return torch.cat(rows)  # (N, C)
