"""Classifiers trained from a prepared directory (``rnnkit prepare classify``): texts read through memory maps,
batched with length bucketing inside a bounded shuffle buffer, never the whole corpus in memory.

An epoch (the same on every rank for the same seed and epoch)::

    texts 0..N-1 in chunks of CHUNK_TEXTS ─▶ chunks in shuffled order ─▶ rank r takes positions
    [r*P, (r+1)*P) of that order, P = ceil(N / world) (the last rank wraps round to the start when N is not a
    multiple of world) ─▶ buffers of BUFFER_TEXTS texts: read, shuffled, sorted by length (stable), cut into
    batches of the rank's batch size ─▶ the buffer's batches in shuffled order

so a rank holds one buffer of texts at a time, every text is read once per epoch (world 1), and the ranks read
disjoint parts that together cover the corpus. Every rank has the same number of batches (the trainer steps them
together). Evaluation reads a prepared split buffer by buffer in file order (sorted by length within a buffer),
and keeps only the class probabilities of every text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...data.shards import ShardedCorpus, check_shard
from ...text import pad_sequences
from .prepare import KIND, LABELS, OFFSETS

__all__ = ["BUFFER_TEXTS", "CHUNK_TEXTS", "PreparedTexts", "epoch_buffers", "rank_ranges", "steps_per_epoch"]

CHUNK_TEXTS = 1024  # consecutive texts read together (one contiguous range of ids); the unit of shuffling
BUFFER_TEXTS = 65_536  # texts held at once for length bucketing; bounds memory whatever the corpus size
EVAL_BATCH_SIZE = 64
Range = tuple[int, int]  # texts [begin, end)


class PreparedTexts:
    """A prepared classify directory: vocabulary, label names, settings, and each text's ids and label id.

    Args:
        directory: The folder ``rnnkit prepare classify`` wrote.
        verify: Recompute the SHA-256 of every file and compare it with the index.

    Raises:
        FileNotFoundError: The directory, its index, vocabulary or a data file is missing.
        ValueError: The index is not a classify preparation's, or a file's size or checksum differs from it.
    """

    def __init__(self, directory: str | Path, verify: bool = False) -> None:
        self.directory = Path(directory)
        self.corpus = ShardedCorpus(self.directory, kind=KIND, verify=verify)
        index = self.corpus.index
        self.vocab, self.settings = self.corpus.vocab, self.corpus.settings
        self.label_names: list[str] = list(index.get("labels") or [])
        texts = index.get("texts")
        path = self.directory / "index.json"
        if not isinstance(texts, int) or texts < 1 or len(self.label_names) < 2:
            raise ValueError(f"{path}: malformed index: expected texts >= 1 and at least 2 labels")
        int64 = np.dtype("<i8")
        self.offsets = self._open(index.get("offsets"), OFFSETS, texts + 1, int64, verify)
        self.label_ids = self._open(index.get("label_ids"), LABELS, texts, int64, verify)
        if int(self.offsets[-1]) != len(self.corpus) or int(self.offsets[0]) != 0:
            raise ValueError(f"{self.directory / OFFSETS}: ends at {int(self.offsets[-1])}; the shards hold "
                             f"{len(self.corpus)} ids: the directory is corrupted, prepare it again")
        self.num_texts = texts

    def _open(self, entry: Any, name: str, count: int, dtype: np.dtype, verify: bool) -> np.memmap:
        path = self.directory / name
        if not isinstance(entry, dict) or entry.get("name") != name or entry.get("count") != count:
            raise ValueError(f"{self.directory / 'index.json'}: malformed index: expected {name} with {count} entries")
        check_shard(path, {"tokens": count, "sha256": entry.get("sha256")}, dtype, verify)
        return np.memmap(path, dtype=dtype, mode="r")

    def __len__(self) -> int:
        return self.num_texts

    @property
    def labels(self) -> list[int]:
        """Every text's label id (what :func:`~rnnkit.tasks.common.metrics_of` compares with); for evaluation
        splits, which are small."""
        return self.label_ids.tolist()

    def lengths(self, begin: int, end: int) -> np.ndarray:
        """The token counts of texts ``[begin, end)``."""
        return np.diff(np.asarray(self.offsets[begin:end + 1]))

    def read(self, begin: int, end: int) -> tuple[list[Tensor], np.ndarray]:
        """Texts ``[begin, end)``: their ids (one LongTensor each, read as one range of the shards) and label ids."""
        offsets = np.asarray(self.offsets[begin:end + 1])
        ids = torch.from_numpy(self.corpus.read(int(offsets[0]), int(offsets[-1])))
        local = (offsets - offsets[0]).tolist()
        return [ids[local[k]:local[k + 1]] for k in range(end - begin)], np.asarray(self.label_ids[begin:end])

    def batches(self, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                buffer_texts: int = BUFFER_TEXTS, chunk_texts: int = CHUNK_TEXTS, pad_id: int = 0) -> Any:
        """``batches(epoch)`` for the trainer: this rank's ``(ids (B, T), lengths (B,), labels (B,))`` batches."""

        def epoch_batches(epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
            for ranges, batches in epoch_buffers(self.num_texts, self.lengths, batch_size, seed, epoch, rank,
                                                 world_size, buffer_texts, chunk_texts):
                texts, labels = [], []
                for begin, end in ranges:
                    ids, label_ids = self.read(begin, end)
                    texts.extend(ids)
                    labels.append(label_ids)
                all_labels = np.concatenate(labels)
                for positions in batches:
                    ids, lengths = pad_sequences([texts[p] for p in positions], pad_id)
                    yield ids, lengths, torch.from_numpy(all_labels[positions].astype(np.int64))

        return epoch_batches

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


def rank_ranges(num_texts: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1,
                chunk_texts: int = CHUNK_TEXTS) -> list[Range]:
    """This rank's text ranges of an epoch, in reading order (see the module docstring)."""
    if num_texts < world_size:
        raise ValueError(f"{num_texts} texts are too few for {world_size} processes; expected at least one each")
    chunks = [(start, min(start + chunk_texts, num_texts)) for start in range(0, num_texts, chunk_texts)]
    order = np.random.default_rng([seed, epoch]).permutation(len(chunks))
    sequence = [chunks[i] for i in order]
    per = math.ceil(num_texts / world_size)
    first = rank * per
    wanted = [(first, min(first + per, num_texts))]
    if first + per > num_texts:  # the last rank wraps round to the start
        wanted.append((0, first + per - num_texts))
    ranges: list[Range] = []
    for low, high in wanted:
        position = 0
        for begin, end in sequence:
            size = end - begin
            take_low, take_high = max(low, position), min(high, position + size)
            if take_low < take_high:
                ranges.append((begin + take_low - position, begin + take_high - position))
            position += size
    return ranges


def _buffers(ranges: list[Range], buffer_texts: int) -> Iterator[list[Range]]:
    """``ranges`` cut into groups of ``buffer_texts`` texts (the last may hold fewer)."""
    group: list[Range] = []
    held = 0
    for begin, end in ranges:
        while begin < end:
            take = min(end - begin, buffer_texts - held)
            group.append((begin, begin + take))
            held, begin = held + take, begin + take
            if held == buffer_texts:
                yield group
                group, held = [], 0
    if group:
        yield group


def epoch_buffers(num_texts: int, lengths: Any, batch_size: int, seed: int, epoch: int, rank: int = 0,
                  world_size: int = 1, buffer_texts: int = BUFFER_TEXTS,
                  chunk_texts: int = CHUNK_TEXTS) -> Iterator[tuple[list[Range], list[np.ndarray]]]:
    """``(ranges, batches)`` per buffer: the buffer's text ranges and its batches as positions within the buffer
    (texts of the ranges in order), bucketed by ``lengths(begin, end)`` and shuffled."""
    for number, group in enumerate(_buffers(rank_ranges(num_texts, seed, epoch, rank, world_size, chunk_texts),
                                            buffer_texts)):
        rng = np.random.default_rng([seed, epoch, rank, number])
        sizes = np.concatenate([lengths(begin, end) for begin, end in group])
        shuffled = rng.permutation(len(sizes))
        ordered = shuffled[np.argsort(sizes[shuffled], kind="stable")]  # by length, ties in random order
        batches = [ordered[start:start + batch_size] for start in range(0, len(ordered), batch_size)]
        yield group, [batches[i] for i in rng.permutation(len(batches))]


def steps_per_epoch(num_texts: int, batch_size: int, world_size: int = 1, buffer_texts: int = BUFFER_TEXTS) -> int:
    """Batches of each rank per epoch: its ``ceil(N / world)`` texts cut into buffers, each into batches."""
    per = math.ceil(num_texts / world_size)
    full, rest = divmod(per, buffer_texts)
    return full * math.ceil(buffer_texts / batch_size) + math.ceil(rest / batch_size)
