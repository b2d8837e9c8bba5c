"""What the conditional-generation task's training and its predictor share: the task's name and settings, the
vocabulary with ``<bos>``/``<eos>``, and teacher-forced batches.

A batch is a tuple ``(labels (B,), inputs (B, T), targets (B, T), lengths (B,))``: every tensor has the batch rows
on dim 0, so the Trainer's default shard splits it between torchrun ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ...data.batching import bucketed_epochs, length_ordered_batches
from ...models.condgen import ConditionalGeneratorConfig
from ...text import Vocab
from ...train.config import TrainConfig
from ..common import Encoded
from ..text_data import TextDataConfig
from ..text_data import build_vocab as build_text_vocab

NAME = "condgen"
SETTINGS = {"text": TextDataConfig, "model": ConditionalGeneratorConfig, "train": TrainConfig}
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # labels (B,), inputs (B, T), targets (B, T), lengths (B,)


def build_vocab(examples: Sequence[tuple[list[str], str, str]], text: TextDataConfig) -> Vocab:
    """The training tokens' vocabulary, with ``<pad> <unk> <bos> <eos>`` first."""
    return build_text_vocab(examples, text, SPECIALS)


def collate(data: Encoded, indices: Sequence[int], vocab: Vocab) -> Batch:
    """``(labels, inputs, targets, lengths)``: inputs ``<bos> y_1 ..``, targets ``.. y_T <eos>``, padded."""
    bos, eos, pad = vocab.stoi["<bos>"], vocab.stoi["<eos>"], vocab.pad_id
    lengths = torch.tensor([len(data.ids[i]) + 1 for i in indices], dtype=torch.long)  # (B,)
    inputs = torch.full((len(indices), int(lengths.max())), pad, dtype=torch.long)  # (B, T)
    targets = inputs.clone()
    for row, index in enumerate(indices):
        ids = data.ids[index]
        inputs[row, 0] = bos
        inputs[row, 1 : len(ids) + 1] = ids
        targets[row, : len(ids)] = ids
        targets[row, len(ids)] = eos
    return torch.tensor([data.labels[i] for i in indices], dtype=torch.long), inputs, targets, lengths


def training_batches(data: Encoded, batch_size: int, seed: int, vocab: Vocab):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, vocab))


def evaluation_batches(data: Encoded, batch_size: int, vocab: Vocab) -> list[Batch]:
    """Every example once, in length order (little padding)."""
    return [batch for _, batch in length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                                         lambda indices: collate(data, indices, vocab))]
