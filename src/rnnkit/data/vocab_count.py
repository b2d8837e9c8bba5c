"""Exact token counts of a corpus larger than memory, and the vocabulary :meth:`Vocab.build` would make of them.

The rule (documented for ``rnnkit prepare``): counts are exact. Each file is counted in a ``Counter``; when it holds
more than ``spill_distinct`` distinct tokens it is written to disk as a *run* (JSON lines ``[token, count]``
sorted by token) and emptied, so a counting process holds at most ``spill_distinct`` tokens (500,000 by default,
some 60-80 MB). The runs of all files are merged in one streaming pass (``heapq.merge`` by token, counts of the
same token summed), which keeps the ``max_vocab`` most frequent tokens in a bounded heap: memory is then that of
the final vocabulary. The order is :meth:`Vocab.build`'s: count descending, then token ascending; tokens rarer
than ``min_freq`` and the specials are left out; specials come first. So the vocabulary is the one ``train lm``
builds in memory from the same text.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..text import Vocab
from ..train.atomic import atomic_write_text

__all__ = ["SPILL_DISTINCT", "CountSpiller", "vocab_from_runs"]

SPILL_DISTINCT = 500_000


class CountSpiller:
    """Count tokens into a Counter that is written out as a sorted run whenever it grows past ``spill_distinct``.

    Args:
        prefix: Runs go to ``{prefix}-{n}.jsonl`` (``n`` = 0, 1, ...), each written atomically.
        spill_distinct: Distinct tokens held in memory before a spill.
    """

    def __init__(self, prefix: Path, spill_distinct: int = SPILL_DISTINCT) -> None:
        self.prefix, self.spill_distinct = prefix, spill_distinct
        self.counts: Counter[str] = Counter()
        self.runs: list[Path] = []

    def add(self, tokens: Iterable[str], extra: dict[str, int] | None = None) -> None:
        """Count ``tokens`` (and ``extra`` token -> count); spill when the Counter has grown too large."""
        self.counts.update(tokens)
        if extra:
            self.counts.update(extra)
        if len(self.counts) > self.spill_distinct:
            self.spill()

    def spill(self) -> None:
        """Write the Counter as a run sorted by token and empty it (nothing to write: no run)."""
        if not self.counts:
            return
        path = Path(f"{self.prefix}-{len(self.runs)}.jsonl")
        lines = (json.dumps([token, count], ensure_ascii=False) for token, count in sorted(self.counts.items()))
        atomic_write_text(path, "\n".join(lines) + "\n")
        self.runs.append(path)
        self.counts = Counter()

    def finish(self) -> list[Path]:
        """Spill what is left; the runs written."""
        self.spill()
        return self.runs


def _read_run(path: Path) -> Iterator[tuple[str, int]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            token, count = json.loads(line)
            yield token, count


def merged_counts(runs: Iterable[Path]) -> Iterator[tuple[str, int]]:
    """Each token of the runs once, in token order, with its counts summed over the runs."""
    current, total = None, 0
    for token, count in heapq.merge(*(_read_run(path) for path in runs)):
        if token != current:
            if current is not None:
                yield current, total
            current, total = token, 0
        total += count
    if current is not None:
        yield current, total


def vocab_from_runs(runs: Iterable[Path], specials: tuple[str, ...], min_freq: int = 1,
                    max_size: int | None = None) -> Vocab:
    """The vocabulary :meth:`Vocab.build` gives for the counts in ``runs`` (see the module docstring).

    Raises:
        ValueError: If the runs hold no token (an empty corpus).
    """
    special_set = set(specials)
    counts = merged_counts(runs)
    first = next(counts, None)
    if first is None:
        raise ValueError("the corpus is empty: got no tokens; expected at least one token")
    kept = ((token, count) for token, count in itertools.chain([first], counts)
            if count >= min_freq and token not in special_set)
    key = lambda item: (-item[1], item[0])  # noqa: E731 - Vocab.build's order
    if max_size is None:
        ranked = sorted(kept, key=key)
    else:
        ranked = heapq.nsmallest(max(0, max_size - len(specials)), kept, key=key)
    return Vocab(list(specials) + [token for token, _ in ranked], specials=specials)
