"""Chunks of whole lines of text to token ids, as :func:`~rnnkit.data.corpus.encode_text` encodes the whole text,
but without a Python list of tokens per character: characters through a code-point table in NumPy, words looked
up with ``map`` (C-level iteration) into a NumPy array."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from ..text import Vocab
from .corpus import EOS, CorpusConfig

__all__ = ["chunk_encoder"]


def chunk_encoder(vocab: Vocab, corpus: CorpusConfig) -> Callable[[str], np.ndarray]:
    """A function from a (lower-cased already, if need be) chunk of whole lines to its int64 ids, as
    :func:`~rnnkit.data.corpus.encode_text` encodes them."""
    lookup, unk = dict(vocab.stoi).get, vocab.unk_id
    if corpus.level == "word":
        def words(text: str) -> np.ndarray:
            # each line with words, closed by <eos>: the lines joined with " <eos> " and split on whitespace give
            # the same tokens (a literal "<eos>" in the text is the same token in memory too), looked up in C
            body = [line for line in text.split("\n") if line and not line.isspace()]
            if not body:
                return np.empty(0, dtype=np.int64)
            tokens = f" {EOS} ".join(body).split()
            tokens.append(EOS)
            return np.fromiter(map(lookup, tokens, itertools.repeat(unk, len(tokens))), dtype=np.int64,
                               count=len(tokens))

        return words
    singles = {ord(token): index for token, index in vocab.stoi.items() if len(token) == 1}
    table = np.full(max(singles, default=0) + 1, unk, dtype=np.int64)  # code point -> id
    table[list(singles)] = list(singles.values())

    def chars(text: str) -> np.ndarray:
        try:
            points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        except UnicodeEncodeError:  # a lone surrogate: the dictionary, one character at a time
            return np.array([lookup(char, unk) for char in text], dtype=np.int64)
        inside = points < len(table)
        return np.where(inside, table[np.where(inside, points, 0)], unk)

    return chars
