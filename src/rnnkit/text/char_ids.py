"""The characters of words as ids, for models that read a word's spelling (character features).

::

    sentence ["The", "cat"] ─▶ [[id(T), id(h), id(e)], [id(c), id(a), id(t)]]      (char vocabulary, <pad> = 0)
    a batch of sentences ─▶ pad_char_ids ─▶ chars (B, T, C): C the longest word, <pad> past each word and sentence

A word longer than ``MAX_WORD_CHARS`` keeps its first and last ``MAX_WORD_CHARS // 2`` characters (prefixes and
suffixes carry what the spelling says about a word's class).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .vocab import Vocab

__all__ = ["MAX_WORD_CHARS", "build_char_vocab", "pad_char_ids", "word_char_ids"]

MAX_WORD_CHARS = 24


def build_char_vocab(sentences: Iterable[Sequence[str]]) -> Vocab:
    """Every character of the training words (``<pad>`` id 0, ``<unk>`` for characters never seen)."""
    return Vocab.build(list(word) for sentence in sentences for word in sentence)


def word_char_ids(words: Sequence[str], char_vocab: Vocab) -> list[list[int]]:
    """The character ids of each word (long words cut to their first and last ``MAX_WORD_CHARS // 2``)."""
    half = MAX_WORD_CHARS // 2
    return [char_vocab.encode(list(word if len(word) <= MAX_WORD_CHARS else word[:half] + word[-half:]))
            for word in words]


def pad_char_ids(sentences: Sequence[Sequence[Sequence[int]]], pad_id: int, steps: int | None = None) -> Tensor:
    """``chars (B, T, C)`` of a batch of sentences of character-id lists; ``T`` = ``steps`` or the longest."""
    steps = steps if steps is not None else max(len(words) for words in sentences)
    width = max(1, max((len(word) for words in sentences for word in words), default=1))
    chars = torch.full((len(sentences), steps, width), pad_id, dtype=torch.long)
    for row, words in enumerate(sentences):
        for column, word in enumerate(words):
            chars[row, column, : len(word)] = torch.tensor(word, dtype=torch.long)
    return chars
