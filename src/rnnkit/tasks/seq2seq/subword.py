"""Subword tokens for translation (``--tokenizer bpe|unigram --vocab-size N``): one segmenter per side, trained on
the training pairs only, kept in the run as ``source_tokenizer.json`` / ``target_tokenizer.json``.

::

    training pairs ─▶ SubwordTokenizer.train(sources), .train(targets) ─▶ pieces ─▶ Vocab per side (as words)
    translation pieces ─▶ detokenize ─▶ text; BLEU / chrF on that text (and on its word tokens, as word runs)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...data.readers.parallel import SentencePair
from ...text import WordTokenizer
from ...text.subword import SubwordTokenizer

FILES = {"source": "source_tokenizer.json", "target": "target_tokenizer.json"}


@dataclass
class SideTokenizers:
    """The tokenizer of each side: the corpus's word tokenizer, or two trained subword segmenters."""

    source: WordTokenizer | SubwordTokenizer
    target: WordTokenizer | SubwordTokenizer

    @property
    def subword(self) -> bool:
        return isinstance(self.source, SubwordTokenizer)

    def save(self, run_dir: Path) -> None:
        """Write the subword segmenters into the run (nothing for words)."""
        if self.subword:
            for side, name in FILES.items():
                getattr(self, side).save(Path(run_dir) / name)


def trained_tokenizers(pairs: Sequence[SentencePair], corpus: Any) -> SideTokenizers:
    """Word tokenizers (``corpus.subword == "word"``), or segmenters learnt from ``pairs`` (the training part)."""
    if corpus.subword == "word":
        return SideTokenizers(corpus.tokenizer, corpus.tokenizer)
    return SideTokenizers(*(SubwordTokenizer.train([getattr(pair, side) for pair in pairs], corpus.subword,
                                                   corpus.vocab_size, corpus.lower) for side in FILES))


def run_tokenizers(run_dir: Path, corpus: Any) -> SideTokenizers:
    """The tokenizers a trained run uses: its saved segmenters, or the corpus's word tokenizer."""
    if corpus.subword == "word":
        return SideTokenizers(corpus.tokenizer, corpus.tokenizer)
    return SideTokenizers(*(SubwordTokenizer.load(Path(run_dir) / FILES[side]) for side in FILES))
