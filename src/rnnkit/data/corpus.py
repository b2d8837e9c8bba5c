"""Language-model corpora: text to tokens to ids, at character or word level.

* ``level="char"``: every character is a token, newlines included.
* ``level="word"``: the Penn Treebank convention: each non-blank line split on whitespace and closed with an
  ``<eos>`` token (text is expected tokenised already, as PTB is; a literal ``<unk>`` in the text is the
  unknown token).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..text import Vocab
from ..train.config import setting

LEVELS = ("char", "word")
EOS = "<eos>"


@dataclass(frozen=True)
class CorpusConfig:
    """How text becomes tokens and the vocabulary.

    Attributes:
        level: ``"char"`` or ``"word"``.
        lower: lower-case the text first.
        min_freq: keep tokens seen at least this often in the training text (others become ``<unk>``).
        max_vocab: keep at most this many tokens, specials included.
        encoding: text encoding of the data files.
    """

    level: str = setting("char", help="char or word (word: whitespace tokens + <eos> per line, as PTB)",
                         choices=LEVELS)
    lower: bool = setting(False, help="lower-case the text")
    min_freq: int = setting(1, help="rarer tokens become <unk>")
    max_vocab: int | None = setting(None, help="vocabulary size limit, specials included")
    encoding: str = setting("utf-8", help="text encoding of the data files")

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level: got {self.level!r}; expected one of 'char', 'word'")
        if isinstance(self.min_freq, bool) or not isinstance(self.min_freq, int) or self.min_freq < 1:
            raise ValueError(f"min_freq: got {self.min_freq!r}; expected a positive integer")
        if self.max_vocab is not None and (not isinstance(self.max_vocab, int) or self.max_vocab < 3):
            raise ValueError(f"max_vocab: got {self.max_vocab!r}; expected an integer >= 3 or none")

    @property
    def specials(self) -> tuple[str, ...]:
        return ("<pad>", "<unk>", EOS) if self.level == "word" else ("<pad>", "<unk>")


def tokens_of(text: str, config: CorpusConfig) -> list[str]:
    """The token list of a whole text, as the language model reads it."""
    return list(iter_tokens(text, config))


def iter_tokens(text: str, config: CorpusConfig) -> Iterator[str]:
    if config.lower:
        text = text.lower()
    if config.level == "char":
        yield from text
        return
    for line in text.split("\n"):
        words = line.split()
        if words:
            yield from words
            yield EOS


def build_vocab(text: str, config: CorpusConfig) -> Vocab:
    """The vocabulary of the training text."""
    return Vocab.build([iter_tokens(text, config)], min_freq=config.min_freq, max_size=config.max_vocab,
                       specials=config.specials)


def encode_text(text: str, vocab: Vocab, config: CorpusConfig) -> Tensor:
    """All ids of a text, in order: ``(N,)``."""
    return torch.tensor(vocab.encode(tokens_of(text, config)), dtype=torch.long)


def context_token(config: CorpusConfig) -> str:
    """The token that stands for "start of text" when scoring or generating: a newline, or ``<eos>``."""
    return "\n" if config.level == "char" else EOS


def join_tokens(tokens: list[str], config: CorpusConfig) -> str:
    """Tokens back to text: characters concatenated; words joined by spaces, ``<eos>`` as a newline."""
    if config.level == "char":
        return "".join(tokens)
    lines, words = [], []
    for token in tokens:
        if token == EOS:
            lines.append(" ".join(words))
            words = []
        else:
            words.append(token)
    return "\n".join([*lines, " ".join(words)])
