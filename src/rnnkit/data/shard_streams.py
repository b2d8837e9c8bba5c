"""Language-model streams over a prepared corpus on disk: the rows and windows of :mod:`rnnkit.data.streams`,
read from memory-mapped shards one window at a time.

The ids ``[begin, end)`` of a :class:`~rnnkit.data.shards.ShardedCorpus` (the training range) are cut into
``B`` rows of ``L = (end - begin) // B`` ids exactly as :func:`~rnnkit.data.streams.batchify` cuts a tensor, and a
rank under torchrun keeps rows ``[r B/W, (r+1) B/W)`` as :func:`~rnnkit.train.distributed.shard_rows` does::

    corpus ids  begin ─────────────────────────────────────────────── end
                │ row 0 (rank 0) │ row 1 (rank 0) │ row 2 (rank 1) │ row 3 (rank 1) │ (remainder dropped)

Nothing is read until a window is asked for: :meth:`ShardStreams.spans` yields the windows' columns
(:class:`~rnnkit.data.streams.Span`, a few ints each), and :meth:`ShardStreams.window` reads one window's
``(rows, t + 1)`` ids, so the trainer can skip the windows a resumed run has done without touching the disk, and
memory holds one window at a time. The windows are those :func:`~rnnkit.data.streams.bptt_windows` yields on the
same ids in memory, value for value.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .shards import ShardedCorpus
from .streams import Span, Window, window_spans

__all__ = ["ShardStreams"]


class ShardStreams:
    """Rows ``[first_row, first_row + rows)`` of ``batch_size`` streams over ids ``[begin, end)`` of ``corpus``.

    Args:
        corpus: The prepared corpus.
        begin, end: The range of its ids the streams cover.
        batch_size: Streams B over the whole range.
        first_row, rows: The rows this process reads (default: all ``batch_size``).
        name: How errors name the data (``--data DIR``).

    Raises:
        ValueError: If a row would hold fewer than 2 ids.
    """

    def __init__(self, corpus: ShardedCorpus, begin: int, end: int, batch_size: int, first_row: int = 0,
                 rows: int | None = None, name: str = "data") -> None:
        self.corpus, self.begin = corpus, begin
        self.length = (end - begin) // batch_size  # L
        if self.length < 2:
            raise ValueError(f"{name}: {end - begin} tokens are too few for {batch_size} streams; expected at least "
                             f"{2 * batch_size}")
        rows = batch_size - first_row if rows is None else rows
        self.row_starts = [begin + (first_row + row) * self.length for row in range(rows)]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, L)``, as the in-memory streams tensor's shape."""
        return len(self.row_starts), self.length

    def spans(self, bptt: int, k1: int | None = None) -> Iterator[Span]:
        """The windows' columns, in order (see :func:`~rnnkit.data.streams.window_spans`)."""
        return window_spans(self.length, bptt, k1)

    def window(self, span: Span, device: torch.device | str = "cpu") -> Window:
        """Read one window: inputs ``(rows, t)`` and targets shifted by one, as int64 on ``device``."""
        start, end, loss_start, carry_steps = span
        ids = torch.from_numpy(self.corpus.rows([row + start for row in self.row_starts], end - start + 1))
        ids = ids.to(device)  # (rows, t + 1)
        return Window(ids[:, :-1], ids[:, 1:], loss_start, carry_steps)

    def windows(self, bptt: int, k1: int | None = None, device: torch.device | str = "cpu") -> Iterator[Window]:
        """Every window, read in turn."""
        for span in self.spans(bptt, k1):
            yield self.window(span, device)
