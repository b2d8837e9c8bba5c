"""Pretrained word vectors in the text formats of word2vec, GloVe and fastText (``.vec``), plain or ``.gz``.

::

    400000 300                      word2vec / fastText header (count and dimension): optional, then skipped
    the 0.418 0.24968 -0.41242 ...  one word and its D values per line, separated by spaces

The file is streamed one line at a time and only the rows of the words asked for are kept, so a file of millions
of words costs the memory of the vocabulary's rows. A word the file lacks takes the vector of its lower-case form
when the file has that (GloVe's vocabulary is lower-case). A line with the wrong number of values or a value that
is not a number is a ``ValueError`` naming the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor

from .labelled import numbered_lines

__all__ = ["read_vectors"]


def _header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def read_vectors(path: str | os.PathLike[str], words: Iterable[str], dimension: int,
                 encoding: str = "utf-8") -> dict[str, Tensor]:
    """The vectors of ``words`` that ``path`` has (exactly, or by their lower-case form).

    Args:
        path: a word2vec / GloVe / fastText text file (``.gz`` decompressed on the fly).
        words: the words wanted (a vocabulary's tokens).
        dimension: the size every vector must have (the model's embedding size).
        encoding: text encoding of the file.

    Returns:
        ``{word: FloatTensor (dimension,)}`` for each wanted word found.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For a header or a line whose dimension is not ``dimension``, a value that is not a number, or
            a file without a single vector; each names the file and line.
    """
    path = Path(path)
    wanted = set(words)
    lowered: dict[str, list[str]] = {}
    for word in wanted:
        lowered.setdefault(word.lower(), []).append(word)
    exact: dict[str, Tensor] = {}
    by_lower: dict[str, Tensor] = {}
    rows = 0
    for number, line in numbered_lines(path, encoding):
        parts = line.rstrip().split(" ")
        if not line.strip():
            continue
        if number == 1 and _header(parts):
            if int(parts[1]) != dimension:
                raise ValueError(f"{path} line 1: the header gives dimension {parts[1]}; expected {dimension} (the "
                                 "embedding size)")
            continue
        if len(parts) < dimension + 1 or (len(parts) > dimension + 1 and rows == 0):
            raise ValueError(f"{path} line {number}: got {len(parts) - 1} values after the word; expected "
                             f"{dimension} (the embedding size) in a word2vec / GloVe / fastText text file")
        rows += 1
        word = " ".join(parts[:-dimension])  # a few GloVe words hold spaces
        if word not in wanted and word not in lowered:
            continue
        try:
            vector = torch.tensor([float(value) for value in parts[-dimension:]], dtype=torch.float32)
        except ValueError:
            raise ValueError(f"{path} line {number}: a value of {word!r} is not a number; expected {dimension} "
                             "numbers after the word") from None
        if word in wanted:
            exact[word] = vector
        if word in lowered:
            by_lower.setdefault(word, vector)
    if rows == 0:
        raise ValueError(f"{path}: holds no vectors; expected lines of a word and {dimension} numbers")
    found = dict(exact)
    for lower, vector in by_lower.items():
        for word in lowered[lower]:
            found.setdefault(word, vector)
    return found
