"""Labelled records read from a prepared directory (:mod:`rnnkit.data.prepare_records`): ids through memory maps,
batched with length bucketing inside a bounded shuffle buffer, never the whole corpus in memory.

An epoch (the same on every rank for the same seed and epoch)::

    records 0..N-1 in chunks of CHUNK_TEXTS ─▶ chunks in shuffled order ─▶ rank r takes positions
    [r*P, (r+1)*P) of that order, P = ceil(N / world) (the last rank wraps round to the start when N is not a
    multiple of world) ─▶ buffers of BUFFER_TEXTS records: read, shuffled, sorted by length (stable), cut into
    batches of the rank's batch size ─▶ the buffer's batches in shuffled order

so a rank holds one buffer of records at a time, every record is read once per epoch (world 1), and the ranks read
disjoint parts that together cover the data. Every rank has the same number of batches (the trainer steps them
together). Classify, tag and dna training read their prepared directories through :class:`PreparedRecords`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .prepare_records import LABELS, OFFSETS
from .shards import INDEX, ShardedCorpus, check_shard, is_prepared

__all__ = ["BUFFER_TEXTS", "CHUNK_TEXTS", "PreparedRecords", "epoch_buffers", "prepared_dir", "prepared_settings",
           "rank_ranges", "steps_per_epoch"]

CHUNK_TEXTS = 1024  # consecutive records read together (one contiguous range of ids); the unit of shuffling
BUFFER_TEXTS = 65_536  # records held at once for length bucketing; bounds memory whatever the corpus size
Range = tuple[int, int]  # records [begin, end)
_COUNT_BLOCK = 1 << 24  # ids read at a time when counting them


class PreparedRecords:
    """A prepared directory of one task: vocabulary, label names, settings, each record's ids and its label id
    (or, for a tagging directory, one tag id per id).

    Args:
        directory: The folder ``rnnkit prepare KIND`` wrote.
        kind: The task it must have been prepared for (another is a one-line error naming the index).
        verify: Recompute the SHA-256 of every file and compare it with the index.

    Raises:
        FileNotFoundError: The directory, its index, vocabulary or a data file is missing.
        ValueError: The index is of another kind or malformed, or a file's size or checksum differs from it.
    """

    def __init__(self, directory: str | Path, kind: str, verify: bool = False) -> None:
        self.directory = Path(directory)
        self.corpus = ShardedCorpus(self.directory, kind=kind, verify=verify)
        index = self.corpus.index
        self.vocab, self.settings = self.corpus.vocab, self.corpus.settings
        self.label_names: list[str] = list(index.get("labels") or [])
        texts, entry = index.get("texts"), index.get("label_ids")
        if not isinstance(texts, int) or texts < 1 or len(self.label_names) < 2 or not isinstance(entry, dict):
            raise ValueError(f"{self.directory / INDEX}: malformed index: expected texts >= 1 and at least 2 labels")
        self.per_token = entry.get("per", "text") == "token"
        self.offsets = self._open(index.get("offsets"), OFFSETS, texts + 1, np.dtype("<i8"), verify)
        if int(self.offsets[-1]) != len(self.corpus) or int(self.offsets[0]) != 0:
            raise ValueError(f"{self.directory / OFFSETS}: ends at {int(self.offsets[-1])}; the shards hold "
                             f"{len(self.corpus)} ids: the directory is corrupted, prepare it again")
        label_count, label_dtype = (len(self.corpus) if self.per_token else texts), entry.get("dtype", "<i8")
        if label_dtype not in ("<i8", "<u2", "<u4"):
            raise ValueError(f"{self.directory / INDEX}: malformed index: label dtype {label_dtype!r}")
        self.label_ids = self._open(entry, LABELS, label_count, np.dtype(label_dtype), verify)
        self.num_texts = texts

    def _open(self, entry: Any, name: str, count: int, dtype: np.dtype, verify: bool) -> np.memmap:
        path = self.directory / name
        if not isinstance(entry, dict) or entry.get("name") != name or entry.get("count") != count:
            raise ValueError(f"{self.directory / INDEX}: malformed index: expected {name} with {count} entries")
        check_shard(path, {"tokens": count, "sha256": entry.get("sha256")}, dtype, verify)
        return np.memmap(path, dtype=dtype, mode="r")

    def __len__(self) -> int:
        return self.num_texts

    @property
    def labels(self) -> list[int]:
        """Every record's label id (per-record directories; for evaluation splits, which are small)."""
        return self.label_ids.tolist()

    def lengths(self, begin: int, end: int) -> np.ndarray:
        """The id counts of records ``[begin, end)``."""
        return np.diff(np.asarray(self.offsets[begin:end + 1]))

    def read(self, begin: int, end: int) -> tuple[list[Tensor], np.ndarray | list[Tensor]]:
        """Records ``[begin, end)``: their ids (one LongTensor each, read as one range of the shards) and their label
        ids (an array), or for a tagging directory their tag ids (one LongTensor each)."""
        if not 0 <= begin <= end <= self.num_texts:
            raise ValueError(f"{self.directory}: records [{begin}, {end}) outside its {self.num_texts} records")
        ids, labels, offsets = self._flat(begin, end)
        local = offsets.tolist()
        ids = torch.from_numpy(ids)
        texts = [ids[local[k]:local[k + 1]] for k in range(end - begin)]
        if not self.per_token:
            return texts, labels
        tags = torch.from_numpy(labels)
        return texts, [tags[local[k]:local[k + 1]] for k in range(end - begin)]

    def everything(self) -> tuple[list[Tensor], list[int] | list[Tensor]]:
        """Every record's ids and labels (or tags) in order, in memory: for validation and test splits."""
        ids, labels = self.read(0, self.num_texts)
        return ids, labels if self.per_token else labels.tolist()

    def token_counts(self) -> Tensor:
        """``(V,)``: how often each id occurs in the shards, counted a block at a time."""
        counts = np.zeros(len(self.vocab), dtype=np.int64)
        for start in range(0, len(self.corpus), _COUNT_BLOCK):
            block = self.corpus.read(start, min(start + _COUNT_BLOCK, len(self.corpus)))
            counts += np.bincount(block, minlength=len(self.vocab))
        return torch.from_numpy(counts)

    def _flat(self, begin: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Records ``[begin, end)`` as int64 arrays: their ids end to end, their labels (one per record, or the
        tags end to end), and their offsets from 0."""
        offsets = np.asarray(self.offsets[begin:end + 1], dtype=np.int64)
        first, last = int(offsets[0]), int(offsets[-1])
        ids = np.asarray(self.corpus.read(first, last), dtype=np.int64)
        span = (first, last) if self.per_token else (begin, end)
        return ids, np.asarray(self.label_ids[span[0]:span[1]], dtype=np.int64), offsets - first

    def batches(self, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                buffer_texts: int = BUFFER_TEXTS, chunk_texts: int = CHUNK_TEXTS, pad_id: int = 0,
                tag_pad: int = -100) -> Any:
        """``batches(epoch)`` for the trainer: this rank's ``(ids (B, T), lengths (B,), labels (B,))`` batches, or
        for a tagging directory ``(ids (B, T), lengths (B,), tags (B, T))`` with ``tag_pad`` at padding."""

        def epoch_batches(epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
            for ranges, batches in epoch_buffers(self.num_texts, self.lengths, batch_size, seed, epoch, rank,
                                                 world_size, buffer_texts, chunk_texts):
                # the buffer as flat arrays (ids, per-token tags) and each record's start and length in them:
                # a batch is then B row copies into one padded array, with no tensor made per record
                parts = [self._flat(begin, end) for begin, end in ranges]
                ids = np.concatenate([part[0] for part in parts])
                labels = np.concatenate([part[1] for part in parts])
                sizes = np.concatenate([np.diff(part[2]) for part in parts])
                starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
                for positions in batches:
                    lengths = sizes[positions]
                    padded_ids = _pad_rows(ids, starts[positions], lengths, pad_id)
                    if self.per_token:
                        yield padded_ids, torch.from_numpy(lengths), _pad_rows(labels, starts[positions], lengths,
                                                                                tag_pad)
                    else:
                        yield padded_ids, torch.from_numpy(lengths), torch.from_numpy(labels[positions])

        return epoch_batches

def _pad_rows(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, pad: int) -> Tensor:
    """``(B, T)`` LongTensor of the rows ``flat[start:start + length]``, padded on the right with ``pad``."""
    rows = np.full((len(lengths), int(lengths.max())), pad, dtype=np.int64)
    for row, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        rows[row, :length] = flat[start:start + length]
    return torch.from_numpy(rows)


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


def prepared_dir(data: Any) -> Any:
    """The prepared directory ``data`` names (a path, or a list of one path as the command line gives), else None."""
    if isinstance(data, list | tuple) and len(data) == 1:
        data = data[0]
    return data if is_prepared(data) else None


def prepared_settings(config: Any, names: Sequence[str], records: PreparedRecords | ShardedCorpus, resume: bool) -> Any:
    """A run's data settings (a settings dataclass) with the prepared directory's values of ``names``; one given
    otherwise (not left at its default) is an error naming both (a resumed run keeps its own)."""
    default = type(config)()
    for name in names:
        given, saved = getattr(config, name), records.settings.get(name)
        if not resume and given != getattr(default, name) and given != saved:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {given}: --data {records.directory} was prepared with {name} {saved!r}; "
                             f"leave {flag} out (the prepared settings are used) or prepare the data again")
    return dataclasses.replace(config, **{name: records.settings[name] for name in names})
