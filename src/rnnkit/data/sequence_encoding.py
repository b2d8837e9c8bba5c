"""Biological sequences as model inputs: one-hot columns (numeric features) or overlapping k-mer tokens.

One-hot, as DeepBind: each position a column of K numbers (K = 4 for DNA, in the order A, C, G, T)::

    A -> 1 0 0 0     C -> 0 1 0 0     G -> 0 0 1 0     T -> 0 0 0 1
    N -> 1/4 1/4 1/4 1/4   (the unknown letter: every base equally likely; X for protein: 1/20 each)
    padding -> 0 0 0 0     (so padding is all zeros, exactly what a convolution's zero padding sees)

Sequences are kept as *letter ids* (0 padding, 1..K the letters, K+1 the unknown letter) and turned into one-hot
rows by a table lookup, ``one_hot_table(alphabet)[ids]`` -> ``(B, T, K)``, inside the model.

k-mers, as KEGRU and deepRAM's embedding path: the overlapping words of k letters, one per position
(``ACGTA``, k=3 -> ``ACG CGT GTA``); a k-mer holding the unknown letter is a token like any other (rare ones
become ``<unk>`` through the vocabulary's ``min_freq``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .readers.sequences import ALPHABETS, Alphabet

__all__ = ["PAD_LETTER_ID", "kmers", "letter_ids", "one_hot", "one_hot_table"]

PAD_LETTER_ID = 0


def _alphabet(alphabet: str | Alphabet) -> Alphabet:
    if isinstance(alphabet, Alphabet):
        return alphabet
    if alphabet not in ALPHABETS:
        raise ValueError(f"alphabet: got {alphabet!r}; expected one of {', '.join(map(repr, ALPHABETS))}")
    return ALPHABETS[alphabet]


def letter_ids(sequence: str, alphabet: str | Alphabet = "dna") -> list[int]:
    """Ids of the letters of an upper-case ``sequence``: 1..K in alphabet order, K+1 the unknown letter.

    Raises:
        ValueError: For a letter outside the alphabet.
    """
    kind = _alphabet(alphabet)
    index = {letter: position + 1 for position, letter in enumerate(kind.letters)}
    index[kind.unknown] = len(kind.letters) + 1
    try:
        return [index[letter] for letter in sequence]
    except KeyError as error:
        raise ValueError(f"sequence: character {error.args[0]!r} is not a {kind.name.upper()} letter; expected "
                         f"{kind.describe()}") from None


def one_hot_table(alphabet: str | Alphabet = "dna") -> Tensor:
    """``(K + 2, K)``: row 0 (padding) zeros, rows 1..K the identity, row K+1 (unknown letter) all 1/K."""
    size = len(_alphabet(alphabet).letters)
    return torch.cat([torch.zeros(1, size), torch.eye(size), torch.full((1, size), 1.0 / size)])


def one_hot(sequence: str | Sequence[str], alphabet: str | Alphabet = "dna") -> Tensor:
    """One-hot features: ``(T, K)`` for one sequence, ``(B, T_max, K)`` for several (zero rows past an end)."""
    table = one_hot_table(alphabet)
    if isinstance(sequence, str):
        return table[torch.tensor(letter_ids(sequence.upper(), alphabet), dtype=torch.long)]  # (T, K)
    ids = [letter_ids(text.upper(), alphabet) for text in sequence]
    padded = torch.zeros(len(ids), max((len(row) for row in ids), default=0), dtype=torch.long)
    for row, values in enumerate(ids):
        padded[row, : len(values)] = torch.tensor(values, dtype=torch.long)
    return table[padded]  # (B, T, K)


def kmers(sequence: str, k: int) -> list[str]:
    """The overlapping k-mers of ``sequence``, ``len(sequence) - k + 1`` of them (none if it is shorter)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: got {k!r}; expected a positive integer")
    return [sequence[start : start + k] for start in range(len(sequence) - k + 1)]
