"""Subword pieces for the classifier (``--tokenizer bpe|unigram --vocab-size N``; its own settings section).

::

    text ─word tokens (tokens_of: lower-cased, HTML stripped, cut to max_length)─▶ "w1 w2 ..." ─segmenter─▶ pieces
         ─cut to max_length pieces─▶ Vocab ids

The segmenter is learnt from the training split's word tokens only (never the validation or test texts) and kept
in the run as ``tokenizer.json``; prediction segments new texts with it, so an unseen word is spelled by known
pieces instead of becoming ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...text.subword import SUBWORD_KINDS, SubwordTokenizer
from ...train.config import setting
from ..text_data import Example, TextDataConfig, truncate_tokens

__all__ = ["SEGMENTER_FILE", "SubwordConfig", "load_segmenter", "segment", "train_segmenter"]

SEGMENTER_FILE = "tokenizer.json"
TOKENIZERS = ("none", *SUBWORD_KINDS)


@dataclass(frozen=True)
class SubwordConfig:
    """Subword pieces in place of words.

    Attributes:
        subword: ``"none"`` (the words or characters of ``--level``), ``"bpe"`` or ``"unigram"``.
        vocab_size: the number of pieces learnt from the training texts.
    """

    subword: str = setting("none", flag="--tokenizer", choices=TOKENIZERS,
                           help="subword pieces (bpe, unigram) learnt from the training texts, in place of words")
    vocab_size: int = setting(8000, help="subword pieces (with --tokenizer bpe|unigram)")

    def __post_init__(self) -> None:
        if self.subword not in TOKENIZERS:
            raise ValueError(f"tokenizer: got {self.subword!r}; expected one of {', '.join(map(repr, TOKENIZERS))}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 10:
            raise ValueError(f"vocab_size: got {self.vocab_size!r}; expected an integer >= 10")


def train_segmenter(examples: Sequence[Example], config: SubwordConfig,
                    text: TextDataConfig) -> SubwordTokenizer | None:
    """The segmenter learnt from the (training) examples' word tokens; None without subwords.

    Raises:
        ValueError: Subwords with ``--level char``.
    """
    if config.subword == "none":
        return None
    if text.level != "word":
        raise ValueError(f"tokenizer: got {config.subword!r} with level {text.level!r}; subword pieces split words: "
                         "expected level 'word'")
    return SubwordTokenizer.train([" ".join(tokens) for tokens, _, _ in examples], config.subword,
                                  config.vocab_size)


def segment(examples: Sequence[Example], segmenter: SubwordTokenizer | None, text: TextDataConfig) -> list[Example]:
    """The examples with their word tokens replaced by pieces (cut to ``max_length``); as they are without one."""
    if segmenter is None:
        return list(examples)
    return [(truncate_tokens(segmenter.tokenize(" ".join(tokens)), text.max_length, text.truncate), label, where)
            for tokens, label, where in examples]


def load_segmenter(run_dir: Path, config: SubwordConfig) -> SubwordTokenizer | None:
    """A run's segmenter (``tokenizer.json``), or None for a run without subwords."""
    return SubwordTokenizer.load(Path(run_dir) / SEGMENTER_FILE) if config.subword != "none" else None
