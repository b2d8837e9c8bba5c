"""Language-model corpora: text to tokens to ids, at character or word level.

* ``level="char"``: every character is a token, newlines included.
* ``level="word"``: the Penn Treebank convention: each non-blank line split on whitespace and closed with an
  ``<eos>`` token (text is expected tokenised already, as PTB is; a literal ``<unk>`` in the text is the
  unknown token).
* ``tokenizer="bpe"|"unigram"`` (with ``level="word"``): each non-blank line segmented into subword pieces by a
  segmenter learnt from the training text only (:class:`~rnnkit.text.subword.SubwordTokenizer`, kept in the run as
  ``tokenizer.json``), closed with ``<eos>``; generated pieces are detokenised back into text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..text import Vocab
from ..text.subword import SUBWORD_KINDS, SubwordTokenizer
from ..train.config import setting

LEVELS = ("char", "word")
TOKENIZERS = ("none", *SUBWORD_KINDS)
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
        subword: ``"none"``, or ``"bpe"`` / ``"unigram"``: word-level lines segmented into subword pieces.
        vocab_size: the number of subword pieces learnt.
    """

    level: str = setting("char", help="char or word (word: whitespace tokens + <eos> per line, as PTB)",
                         choices=LEVELS)
    lower: bool = setting(False, help="lower-case the text")
    min_freq: int = setting(1, help="rarer tokens become <unk>")
    max_vocab: int | None = setting(None, help="vocabulary size limit, specials included")
    encoding: str = setting("utf-8", help="text encoding of the data files")
    subword: str = setting("none", flag="--tokenizer", choices=TOKENIZERS,
                           help="subword pieces (bpe, unigram) learnt from the training text, per line (--level word)")
    vocab_size: int = setting(8000, help="subword pieces (with --tokenizer bpe|unigram)")

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level: got {self.level!r}; expected one of 'char', 'word'")
        if self.subword not in TOKENIZERS:
            raise ValueError(f"tokenizer: got {self.subword!r}; expected one of {', '.join(map(repr, TOKENIZERS))}")
        if self.subword != "none" and self.level != "word":
            raise ValueError(f"tokenizer: got {self.subword!r} with level {self.level!r}; subword pieces segment "
                             "lines of words: expected level 'word'")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 10:
            raise ValueError(f"vocab_size: got {self.vocab_size!r}; expected an integer >= 10")
        if isinstance(self.min_freq, bool) or not isinstance(self.min_freq, int) or self.min_freq < 1:
            raise ValueError(f"min_freq: got {self.min_freq!r}; expected a positive integer")
        if self.max_vocab is not None and (not isinstance(self.max_vocab, int) or self.max_vocab < 3):
            raise ValueError(f"max_vocab: got {self.max_vocab!r}; expected an integer >= 3 or none")

    @property
    def specials(self) -> tuple[str, ...]:
        return ("<pad>", "<unk>", EOS) if self.level == "word" else ("<pad>", "<unk>")


def train_segmenter(text: str, config: CorpusConfig) -> SubwordTokenizer | None:
    """The subword segmenter of ``config.subword`` learnt from the training text's lines; None for ``"none"``."""
    if config.subword == "none":
        return None
    lines = [line for line in text.split("\n") if line.strip()]
    return SubwordTokenizer.train(lines, config.subword, config.vocab_size, config.lower)


def tokens_of(text: str, config: CorpusConfig, segmenter: SubwordTokenizer | None = None) -> list[str]:
    """The token list of a whole text, as the language model reads it (``segmenter``: a subword run's own)."""
    return list(iter_tokens(text, config, segmenter))


def iter_tokens(text: str, config: CorpusConfig, segmenter: SubwordTokenizer | None = None) -> Iterator[str]:
    if config.lower:
        text = text.lower()
    if config.level == "char":
        yield from text
        return
    for line in text.split("\n"):
        words = segmenter.tokenize(line) if segmenter is not None else line.split()
        if words:
            yield from words
            yield EOS


def build_vocab(text: str, config: CorpusConfig, segmenter: SubwordTokenizer | None = None) -> Vocab:
    """The vocabulary of the training text."""
    return Vocab.build([iter_tokens(text, config, segmenter)], min_freq=config.min_freq, max_size=config.max_vocab,
                       specials=config.specials)


def encode_text(text: str, vocab: Vocab, config: CorpusConfig, segmenter: SubwordTokenizer | None = None) -> Tensor:
    """All ids of a text, in order: ``(N,)``."""
    return torch.tensor(vocab.encode(tokens_of(text, config, segmenter)), dtype=torch.long)


def context_token(config: CorpusConfig) -> str:
    """The token that stands for "start of text" when scoring or generating: a newline, or ``<eos>``."""
    return "\n" if config.level == "char" else EOS


def join_tokens(tokens: list[str], config: CorpusConfig, segmenter: SubwordTokenizer | None = None) -> str:
    """Tokens back to text: characters concatenated; words joined by spaces (subword pieces detokenised),
    ``<eos>`` as a newline."""
    if config.level == "char":
        return "".join(tokens)
    join = segmenter.detokenize if segmenter is not None else " ".join
    lines, words = [], []
    for token in tokens:
        if token == EOS:
            lines.append(join(words))
            words = []
        else:
            words.append(token)
    return "\n".join([*lines, join(words)])
