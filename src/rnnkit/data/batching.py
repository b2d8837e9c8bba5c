"""Batching by length: put sequences of similar length together so batches carry little padding.

``BucketBatchSampler`` works like the "bucket iterator" of many sequence toolkits::

    indices (shuffled)   | 7 2 9 4 0 5 | 3 8 1 6 ... |   chunks of batch_size * bucket_size_multiplier
    sort each chunk      | 9 0 7 5 2 4 | ...         |   longest first inside a chunk
    cut into batches     | 9 0 | 7 5 | 2 4 | ...     |   neighbours in length share a batch
    shuffle batch order  | 7 5 | 3 1 | 9 0 | ...     |   so training does not see lengths in order

Each epoch yields every index exactly once (except the incomplete last batch with ``drop_last=True``).
The order depends only on ``seed`` and the epoch set by :meth:`BucketBatchSampler.set_epoch`, as with
``torch.utils.data.DistributedSampler``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import torch
from torch.utils.data import Sampler

__all__ = ["BucketBatchSampler", "bucketed_epochs", "length_ordered_batches", "padding_fraction"]

BatchType = TypeVar("BatchType")

_INTEGER_DTYPES = frozenset({torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64})


def _check_int(value: object, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        expected = "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(f"BucketBatchSampler: {name} must be {expected}; got {value!r}")
    return value


def _lengths_tensor(lengths: Sequence[int] | torch.Tensor, owner: str) -> torch.Tensor:
    """Check ``lengths`` is a non-empty 1-D collection of integers >= 0; return it as a LongTensor."""
    try:
        tensor = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        message = f"{owner}: lengths must be a sequence of int; got {type(lengths).__name__} ({error})"
        raise ValueError(message) from None
    if tensor.numel() == 0:
        raise ValueError(f"{owner}: lengths is empty; expected one length per example")
    if tensor.dim() != 1 or tensor.dtype not in _INTEGER_DTYPES:
        raise ValueError(f"{owner}: lengths must be a 1-D sequence of int; got shape {tuple(tensor.shape)}, "
                         f"dtype {tensor.dtype}")
    if int(tensor.min()) < 0:
        raise ValueError(f"{owner}: lengths holds the negative value {int(tensor.min())}; expected >= 0")
    return tensor.long()


class BucketBatchSampler(Sampler[list[int]]):
    """Yield batches of dataset indices whose sequences have similar lengths.

    Args:
        lengths: The length of every example, ``lengths[i]`` for dataset index ``i``.
        batch_size: Examples per batch.
        shuffle: Shuffle the indices before chunking and the batch order after; with ``False`` the batches
            come in chunk order, each chunk sorted by length, the same every epoch.
        drop_last: Drop the last batch if it holds fewer than ``batch_size`` examples.
        bucket_size_multiplier: A chunk holds ``batch_size * bucket_size_multiplier`` indices; larger
            chunks give less padding but less randomness in which examples meet in a batch.
        seed: Seed of the shuffles; the epoch (see :meth:`set_epoch`) is added to it.

    Raises:
        ValueError: If ``lengths`` is empty or not non-negative integers, or an int argument is out of range.

    Example:
        >>> sampler = BucketBatchSampler([len(s) for s in sequences], batch_size=32)
        >>> loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        bucket_size_multiplier: int = 50,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.lengths = _lengths_tensor(lengths, "BucketBatchSampler")
        self.batch_size = _check_int(batch_size, "batch_size", minimum=1)
        self.bucket_size_multiplier = _check_int(bucket_size_multiplier, "bucket_size_multiplier", minimum=1)
        self.seed = _check_int(seed, "seed")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which (with ``seed``) fixes the order of the next iteration.

        Args:
            epoch: The epoch number; call this before each epoch to get a different shuffle.
        """
        self.epoch = _check_int(epoch, "epoch")

    def __iter__(self) -> Iterator[list[int]]:
        count = self.lengths.numel()
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        indices = torch.randperm(count, generator=generator) if self.shuffle else torch.arange(count)
        chunk_size = self.batch_size * self.bucket_size_multiplier
        batches: list[torch.Tensor] = []
        for start in range(0, count, chunk_size):
            chunk = indices[start : start + chunk_size]
            order = torch.sort(self.lengths[chunk], descending=True, stable=True).indices
            batches.extend(chunk[order].split(self.batch_size))
        # Chunks hold whole batches, so only the very last batch can be short.
        if self.drop_last and batches and batches[-1].numel() < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[position] for position in torch.randperm(len(batches), generator=generator)]
        for batch in batches:
            yield batch.tolist()

    def __len__(self) -> int:
        count = self.lengths.numel()
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __repr__(self) -> str:
        return (f"BucketBatchSampler(examples={self.lengths.numel()}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"bucket_size_multiplier={self.bucket_size_multiplier}, seed={self.seed}, "
                f"epoch={self.epoch})")


def padding_fraction(lengths: Sequence[int] | torch.Tensor, batches: Iterable[Sequence[int]]) -> float:
    """Share of padding in a list of batches when each batch is padded to its longest sequence.

    Args:
        lengths: The length of every example.
        batches: Batches of example indices, e.g. ``list(sampler)``.

    Returns:
        ``padding slots / all slots``, in ``[0, 1)``; 0.0 when every batch is of equal lengths.

    Raises:
        ValueError: If there are no batches, a batch is empty, or an index is out of range.
    """
    owner = "padding_fraction"
    values = _lengths_tensor(lengths, owner).tolist()
    real, slots, batch_count = 0, 0, 0
    for position, batch in enumerate(batches):
        batch_lengths = [values[index] if 0 <= index < len(values) else None for index in batch]
        if not batch_lengths or None in batch_lengths:
            raise ValueError(f"{owner}: batches[{position}] is empty or holds an index outside "
                             f"[0, {len(values)}); got {list(batch)[:10]}")
        real += sum(batch_lengths)
        slots += len(batch_lengths) * max(batch_lengths)
        batch_count += 1
    if batch_count == 0:
        raise ValueError(f"{owner}: batches is empty; expected at least one batch")
    return 1.0 - real / slots if slots else 0.0


def bucketed_epochs(lengths: Sequence[int], batch_size: int, seed: int,
                    make_batch: Callable[[list[int]], BatchType]
                    ) -> tuple[Callable[[int], Iterator[BatchType]], int]:
    """``(batches, steps)``: ``batches(epoch)`` yields ``make_batch(indices)`` for shuffled batches of similar
    lengths (:class:`BucketBatchSampler`), the same for the same ``(seed, epoch)``; ``steps`` batches per epoch."""
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed)

    def batches(epoch: int) -> Iterator[BatchType]:
        sampler.set_epoch(epoch)
        for indices in sampler:
            yield make_batch(indices)

    return batches, len(sampler)


def length_ordered_batches(lengths: Sequence[int], batch_size: int,
                           make_batch: Callable[[list[int]], BatchType]) -> Iterator[tuple[list[int], BatchType]]:
    """``(indices, make_batch(indices))`` for every example once, shortest first (little padding), for
    evaluation; ``indices`` say where each row's result belongs."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        yield indices, make_batch(indices)
