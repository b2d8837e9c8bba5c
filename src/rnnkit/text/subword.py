"""Subword tokens (BPE or unigram) through Hugging Face ``tokenizers``: trained on the training texts only, saved
as the library's JSON, detokenised exactly.

::

    "unseen words"  ─normalise (NFKC, lower-case)─▶ "▁unseen▁words" (Metaspace: a space becomes ▁ before a word)
                    ─BPE / unigram model─▶ ["▁un", "seen", "▁word", "s"]
    detokenize: "".join(pieces) with ▁ back to spaces ─▶ "unseen words"

A word never seen in training is spelled with known pieces instead of becoming ``<unk>``. Only the segmentation
comes from the library: the model's ids come from an rnnkit :class:`~rnnkit.text.Vocab` built over the pieces
of the training texts, as for words. The file a run keeps is the library's own JSON (never pickle).

BPE-dropout (Provilkov et al., 2020) samples a different segmentation of the same text: BPE merges a word's
symbols pair by pair, always the applicable merge learnt earliest; with dropout ``p`` every applicable merge is
left out with probability ``p`` at each step, so the word stops in smaller, still known pieces::

    "▁unseen"  p = 0:   ▁un + seen -> ▁unseen                      ["▁unseen"]
               p = 0.1: ▁un + seen dropped this step, nothing left  ["▁un", "seen"]

Training on such samples (a new one each epoch) shows the model how the pieces of a word compose, which helps
most when the corpus is small. :meth:`SubwordTokenizer.sample` is written here rather than taken from the
library, whose dropout draws from an unseeded generator: here the draw comes from the caller's
``random.Random``, so an epoch's segmentation depends only on (seed, epoch) and a resumed run sees the same.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = ["SUBWORD_KINDS", "SubwordTokenizer"]

SUBWORD_KINDS = ("bpe", "unigram")
MARK = "\u2581"  # ▁: the Metaspace word-start mark
UNK = "<unk>"


def _library() -> Any:
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - the subword extra
        raise ValueError("--tokenizer bpe|unigram needs the tokenizers package: pip install 'rnnkit[subword]'") \
            from None
    return tokenizers


class SubwordTokenizer:
    """A trained subword segmenter: :meth:`tokenize` / :meth:`detokenize` as the word tokenizers have them.

    Build with :meth:`train`; keep with :meth:`save` and :meth:`load` (JSON).
    """

    def __init__(self, tokenizer: Any, kind: str) -> None:
        self._tokenizer, self.kind = tokenizer, kind

    @classmethod
    def train(cls, texts: Iterable[str], kind: str, vocab_size: int, lower: bool = False) -> SubwordTokenizer:
        """Learn ``vocab_size`` pieces (at most; fewer when the texts have fewer) from ``texts``.

        Raises:
            ValueError: An unknown ``kind`` or a ``vocab_size`` below 10.
        """
        if kind not in SUBWORD_KINDS:
            raise ValueError(f"tokenizer: got {kind!r}; expected one of 'word', {', '.join(map(repr, SUBWORD_KINDS))}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 10:
            raise ValueError(f"vocab_size: got {vocab_size!r}; expected an integer >= 10")
        library = _library()
        models, trainers, normalizers = library.models, library.trainers, library.normalizers
        if kind == "bpe":
            model = models.BPE(unk_token=UNK)
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[UNK], show_progress=False)
        else:
            model = models.Unigram()
            trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=[UNK], unk_token=UNK,
                                              show_progress=False)
        tokenizer = library.Tokenizer(model)
        steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lower else [])
        tokenizer.normalizer = normalizers.Sequence(steps)
        tokenizer.pre_tokenizer = library.pre_tokenizers.Metaspace()
        tokenizer.decoder = library.decoders.Metaspace()
        tokenizer.train_from_iterator(list(texts), trainer=trainer)
        return cls(tokenizer, kind)

    def tokenize(self, text: str) -> list[str]:
        """The pieces of ``text`` (an empty list for blank text)."""
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def pieces(self) -> list[str]:
        """Every piece the segmenter can produce (its whole vocabulary, ``<unk>`` included), in id order."""
        vocabulary = self._tokenizer.get_vocab()
        return sorted(vocabulary, key=vocabulary.__getitem__)

    def sample(self, text: str, dropout: float, rng: random.Random) -> list[str]:
        """The pieces of ``text`` under BPE-dropout: each applicable merge is skipped with probability ``dropout``.

        A word's symbols start as its characters (a character the segmenter never learnt is ``<unk>``). At each
        step the applicable merges (adjacent pairs with a learnt rank ``r``) each survive with probability
        ``1 - dropout``; the survivor of lowest rank, leftmost on ties, is applied; the word is done when none
        survives. With ``dropout = 0`` this is plain BPE: the same pieces as :meth:`tokenize`.

        Args:
            text: The text to segment (normalised and split into words as :meth:`tokenize` does).
            dropout: The probability of skipping each applicable merge at each step, in [0, 1).
            rng: The random source (seed it for reproducible samples).

        Raises:
            ValueError: For a unigram segmenter, or ``dropout`` outside [0, 1).
        """
        if self.kind != "bpe":
            raise ValueError(f"subword dropout: got a {self.kind} segmenter; expected bpe (BPE-dropout skips merges)")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"subword dropout: got {dropout!r}; expected a probability in [0, 1)")
        ranks, known = self._merge_ranks, self._known
        normalized = self._tokenizer.normalizer.normalize_str(text)
        pieces: list[str] = []
        for word, _ in self._tokenizer.pre_tokenizer.pre_tokenize_str(normalized):
            symbols = list(word)
            while len(symbols) > 1:
                applicable = [(rank, position) for position, pair in enumerate(pairwise(symbols))
                              if (rank := ranks.get(pair)) is not None and (dropout == 0 or rng.random() >= dropout)]
                if not applicable:
                    break
                _, position = min(applicable)
                symbols[position:position + 2] = [symbols[position] + symbols[position + 1]]
            pieces.extend(symbol if symbol in known else UNK for symbol in symbols)
        return pieces

    @cached_property
    def _merge_ranks(self) -> dict[tuple[str, str], int]:
        """Each learnt merge (left, right) -> its rank (0: learnt first); read once, on the first sample."""
        merges = json.loads(self._tokenizer.to_str())["model"]["merges"]
        pairs = [tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge) for merge in merges]
        return {pair: rank for rank, pair in enumerate(pairs)}

    @cached_property
    def _known(self) -> dict[str, int]:
        """The segmenter's pieces -> ids (a sampled symbol outside them is ``<unk>``)."""
        return self._tokenizer.get_vocab()

    def detokenize(self, tokens: Iterable[str]) -> str:
        """The text of ``pieces``: concatenated, each ▁ a space, no space at the ends."""
        return "".join(tokens).replace(MARK, " ").strip()

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the library's JSON, wrapped with the kind: ``{"format": "rnnkit.subword", "kind", "tokenizer"}``."""
        document = {"format": "rnnkit.subword", "version": 1, "kind": self.kind,
                    "tokenizer": json.loads(self._tokenizer.to_str())}
        Path(path).write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SubwordTokenizer:
        """Read a file :meth:`save` wrote.

        Raises:
            FileNotFoundError: If there is no file at ``path``.
            ValueError: For a file that is not an rnnkit subword tokenizer.
        """
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            kind = document["kind"]
            if document.get("format") != "rnnkit.subword" or kind not in SUBWORD_KINDS:
                raise KeyError
            tokenizer = _library().Tokenizer.from_str(json.dumps(document["tokenizer"]))
        except FileNotFoundError:
            raise
        except Exception as error:  # a broken file: json, keys or the library refusing it
            raise ValueError(f"{path}: not an rnnkit subword tokenizer ({type(error).__name__}); expected the JSON "
                             "a run saved") from None
        return cls(tokenizer, kind)

    def __repr__(self) -> str:
        return f"SubwordTokenizer({self.kind!r}, pieces={self._tokenizer.get_vocab_size()})"
