"""Translation data: sentence pairs (files, or pairs in memory) to tokens, two vocabularies, length filtering,
and padded batches.

Both sides are split by :class:`~rnnkit.text.WordTokenizer` (words in any script, Persian included: its
zero-width non-joiner stays inside a word; punctuation marks stand alone), lower-cased if asked. The source
vocabulary has ``<pad> <unk>``; the target one also ``<bos>`` (the decoder's first input) and ``<eos>`` (the
end it learns to emit)::

    source "Who is he?"   ->  [who, is, he, ?]                 source ids      (S,)
    target "او کیست؟"      ->  <bos> او کیست ؟   (decoder input)  target inputs   (T,)
                                   او کیست ؟ <eos> (what it should emit) target outputs  (T,)
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ...data.batching import BucketBatchSampler
from ...data.readers.parallel import SentencePair, read_pairs
from ...text import Vocab, WordTokenizer, pad_sequences
from ...train.config import setting
from ..base import is_path_like

BOS, EOS = "<bos>", "<eos>"
TOKENIZERS = ("word", "bpe", "unigram")
SOURCE_SPECIALS = ("<pad>", "<unk>")
TARGET_SPECIALS = ("<pad>", "<unk>", BOS, EOS)


@dataclass(frozen=True)
class TranslationCorpusConfig:
    """How sentence pairs are read and become ids.

    Attributes:
        source_lang: with ``target_lang``, read parallel files ``PREFIX.SRC`` / ``PREFIX.TGT`` (``.gz`` or
            not); both None: ``--data`` is a TSV of ``source<TAB>target`` lines.
        target_lang: see ``source_lang``.
        reverse: swap the two sides (translate the TSV's second column into its first).
        lower: lower-case both sides.
        min_freq: tokens seen fewer times in the training data become ``<unk>`` (per side).
        max_vocab: largest vocabulary per side, specials included; None for no limit.
        max_length: training pairs with more tokens than this on either side are left out; at translation
            time a longer source is an error unless truncation is asked for.
        skip_empty: drop pairs with an empty side instead of stopping with an error.
        valid_fraction: without a validation file, hold out this share of the training pairs (grouped by
            source sentence, so alternative translations of one sentence stay on one side).
        encoding: text encoding of the files.
        subword: ``"word"`` (words and punctuation), or ``"bpe"`` / ``"unigram"`` subword pieces learnt from the
            training pairs (one segmenter per side; Hugging Face ``tokenizers``).
        vocab_size: the number of subword pieces each side learns.
        subword_dropout: BPE-dropout for training (``subword == "bpe"`` only): each epoch segments the training
            pairs anew, every applicable merge skipped with this probability (Provilkov et al., 2020); the
            vocabularies then hold all of the segmenters' pieces. Validation, test and translation use the
            plain segmentation.
    """

    source_lang: str | None = setting(None, help="with --target-lang: --data is a prefix of parallel files "
                                                 "PREFIX.SRC / PREFIX.TGT (plain or .gz); without: a TSV")
    target_lang: str | None = setting(None, help="see --source-lang")
    reverse: bool = setting(False, help="translate the TSV's second column into its first")
    lower: bool = setting(True, help="lower-case the text", switches={"--keep-case": False})
    min_freq: int = setting(1, help="rarer tokens become <unk> (per side)")
    max_vocab: int | None = setting(None, help="vocabulary size limit per side, specials included")
    max_length: int = setting(100, help="leave out training pairs longer than this (tokens); longer sources are "
                                        "refused at translation unless --truncate")
    skip_empty: bool = setting(False, help="drop pairs with an empty side instead of failing")
    valid_fraction: float = setting(0.1, help="share held out for validation without --valid")
    encoding: str = setting("utf-8", help="text encoding of the data files")
    subword: str = setting("word", flag="--tokenizer", choices=TOKENIZERS,
                           help="word tokens, or bpe / unigram subword pieces learnt from the training pairs")
    vocab_size: int = setting(8000, help="subword pieces per side (with --tokenizer bpe|unigram)")
    subword_dropout: float = setting(0.0, help="BPE-dropout: skip each merge with this probability when "
                                               "segmenting the training pairs, anew each epoch (with --tokenizer bpe)")

    def __post_init__(self) -> None:
        if self.subword not in TOKENIZERS:
            raise ValueError(f"tokenizer: got {self.subword!r}; expected one of {', '.join(map(repr, TOKENIZERS))}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 10:
            raise ValueError(f"vocab_size: got {self.vocab_size!r}; expected an integer >= 10")
        dropout = self.subword_dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"subword_dropout: got {dropout!r}; expected a probability in [0, 1)")
        if dropout and self.subword != "bpe":
            raise ValueError(f"subword_dropout: got {dropout!r} with tokenizer {self.subword!r}; expected 0, or "
                             "tokenizer 'bpe' (BPE-dropout skips learnt merges)")
        if (self.source_lang is None) != (self.target_lang is None):
            raise ValueError(f"source_lang, target_lang: got {self.source_lang!r}, {self.target_lang!r}; expected "
                             "both (parallel files PREFIX.SRC / PREFIX.TGT) or neither (a TSV of pairs)")
        for name, minimum in (("min_freq", 1), ("max_length", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        if self.max_vocab is not None and (not isinstance(self.max_vocab, int) or self.max_vocab < 5):
            raise ValueError(f"max_vocab: got {self.max_vocab!r}; expected an integer >= 5 or none")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a fraction in (0, 1)")

    @property
    def tokenizer(self) -> WordTokenizer:
        return WordTokenizer(lower=self.lower)


class EncodedPairs(NamedTuple):
    """Id sequences of both sides (target without ``<bos>``/``<eos>``), and the raw texts."""

    sources: list[list[int]]
    targets: list[list[int]]
    source_texts: list[str]
    target_texts: list[str]


class Batch(NamedTuple):
    source: Tensor  # (B, S) source ids, padded
    source_lengths: Tensor  # (B,)
    target_inputs: Tensor  # (B, T): <bos> y_1 .. y_n, padded
    target_outputs: Tensor  # (B, T): y_1 .. y_n <eos>, padded

    def to(self, device: torch.device | str) -> Batch:
        """The ids on ``device``; the lengths stay on the host, where packing reads them without a device sync."""
        move = [part.to(device, non_blocking=True) for part in (self.source, self.target_inputs, self.target_outputs)]
        return Batch(move[0], self.source_lengths, move[1], move[2])


def load_pairs(path: Path, corpus: TranslationCorpusConfig) -> list[SentencePair]:
    """The pairs of ``path`` (a TSV, or a parallel-file prefix) in the corpus's direction."""
    pairs = read_pairs(path, corpus.source_lang, corpus.target_lang, corpus.encoding, corpus.skip_empty)
    if corpus.reverse:
        pairs = [SentencePair(pair.target, pair.source, pair.line) for pair in pairs]
    return pairs


def read_data(data: Any, corpus: TranslationCorpusConfig, name: str) -> list[SentencePair]:
    """The pairs of the argument ``name``: a path (a TSV, or a parallel-file prefix), or in-memory pairs."""
    if is_path_like(data):
        paths = [data] if isinstance(data, str | os.PathLike) else list(data)
        if len(paths) != 1:
            raise ValueError(f"{name}: got {len(paths)} paths; expected one TSV or parallel-file prefix")
        return load_pairs(Path(paths[0]), corpus)
    return pairs_in_memory(data, corpus, name)


def pairs_in_memory(items: Any, corpus: TranslationCorpusConfig, name: str) -> list[SentencePair]:
    """``(source, target)`` string pairs given in memory as :class:`SentencePair` s in the corpus's direction; an
    item's ``line`` is its number in ``items`` (from 1). A pair with an empty side is an error unless ``skip_empty``."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValueError(f"{name}: got {type(items).__name__}; expected a path (a TSV or parallel-file prefix) or a "
                         "sequence of (source, target) string pairs")
    pairs = []
    for index, item in enumerate(items, 1):
        if (isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2
                or not all(isinstance(side, str) for side in item)):
            raise ValueError(f"{name} item {index}: expected a (source, target) pair of strings; got {item!r:.80}")
        source, target = item[0].strip(), item[1].strip()
        if not (source and target):
            if corpus.skip_empty:
                continue
            side = "source" if not source else "target"
            raise ValueError(f"{name} item {index}: empty {side} sentence; expected text on both sides "
                             "(pass skip_empty=True to drop such pairs)")
        pairs.append(SentencePair(target, source, index) if corpus.reverse else SentencePair(source, target, index))
    if not pairs:
        raise ValueError(f"{name}: no sentence pairs; expected (source, target) string pairs")
    return pairs


def split_pairs(pairs: Sequence[SentencePair], fraction: float, seed: int) -> tuple[list[SentencePair],
                                                                                    list[SentencePair]]:
    """A seeded split into (rest, held out), grouped by source sentence; the held-out part is ~``fraction``."""
    groups: dict[str, list[SentencePair]] = {}
    for pair in pairs:
        groups.setdefault(pair.source, []).append(pair)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    held_keys = set(keys[: max(1, round(len(keys) * fraction))])
    if len(held_keys) == len(keys):
        raise ValueError(f"{len(pairs)} pair(s) with {len(keys)} distinct source sentence(s): too few to hold out "
                         f"{fraction:.0%} and train on the rest; pass a validation file")
    rest = [pair for pair in pairs if pair.source not in held_keys]
    held = [pair for pair in pairs if pair.source in held_keys]
    return rest, held


def tokenize_pairs(pairs: Sequence[SentencePair], corpus: TranslationCorpusConfig,
                   tokenizers: Any = None) -> list[tuple[list[str], list[str]]]:
    """The tokens of both sides: by ``tokenizers.source`` / ``.target`` (subword pieces) when given, else words."""
    source, target = (tokenizers.source, tokenizers.target) if tokenizers is not None else (corpus.tokenizer,) * 2
    return [(source.tokenize(pair.source), target.tokenize(pair.target)) for pair in pairs]


def sample_pieces(data: EncodedPairs, tokenizers: Any, dropout: float, source_vocab: Vocab, target_vocab: Vocab,
                  seed: int, epoch: int) -> EncodedPairs:
    """``data`` segmented anew under BPE-dropout; the draws depend only on (seed, epoch), so a resumed run's
    epoch is the same as an uninterrupted one's."""
    rng = random.Random(f"bpe-dropout {seed} {epoch}")
    sources = [source_vocab.encode(tokenizers.source.sample(text, dropout, rng)) for text in data.source_texts]
    targets = [target_vocab.encode(tokenizers.target.sample(text, dropout, rng)) for text in data.target_texts]
    return EncodedPairs(sources, targets, data.source_texts, data.target_texts)


def filter_by_length(pairs: Sequence[SentencePair], tokens: Sequence[tuple[list[str], list[str]]],
                     max_length: int, name: str) -> tuple[list[SentencePair], list[tuple[list[str], list[str]]]]:
    """Keep the pairs with 1..``max_length`` tokens on both sides; say on stderr how many were dropped."""
    kept = [index for index, (source, target) in enumerate(tokens)
            if 0 < len(source) <= max_length and 0 < len(target) <= max_length]
    dropped = len(pairs) - len(kept)
    if dropped:
        print(f"rnnkit: {name}: left out {dropped} of {len(pairs)} pairs with no tokens or more than {max_length} "
              "tokens on a side (max_length)", file=sys.stderr)
    if not kept:
        raise ValueError(f"{name}: no pair has 1..{max_length} tokens on both sides; raise --max-length")
    return [pairs[index] for index in kept], [tokens[index] for index in kept]


def build_vocabularies(tokens: Sequence[tuple[list[str], list[str]]], corpus: TranslationCorpusConfig,
                       tokenizers: Any = None) -> tuple[Vocab, Vocab]:
    """Source and target vocabularies of the training pairs; under subword dropout every piece of each side's
    segmenter is added, ``min_freq`` times (a sampled segmentation can use pieces the plain one never does)."""
    extra: tuple[list[list[str]], list[list[str]]] = ([], [])
    if corpus.subword_dropout and tokenizers is not None:
        extra = ([tokenizers.source.pieces()] * corpus.min_freq, [tokenizers.target.pieces()] * corpus.min_freq)
    source = Vocab.build([*(pair[0] for pair in tokens), *extra[0]], corpus.min_freq, corpus.max_vocab,
                         SOURCE_SPECIALS)
    target = Vocab.build([*(pair[1] for pair in tokens), *extra[1]], corpus.min_freq, corpus.max_vocab,
                         TARGET_SPECIALS)
    return source, target


def encode_pairs(pairs: Sequence[SentencePair], tokens: Sequence[tuple[list[str], list[str]]], source_vocab: Vocab,
                 target_vocab: Vocab) -> EncodedPairs:
    return EncodedPairs([source_vocab.encode(source) for source, _ in tokens],
                        [target_vocab.encode(target) for _, target in tokens],
                        [pair.source for pair in pairs], [pair.target for pair in pairs])


def make_batch(sources: Sequence[list[int]], targets: Sequence[list[int]], source_vocab: Vocab,
               target_vocab: Vocab) -> Batch:
    """Pad one batch; the targets get ``<bos>`` in front (inputs) and ``<eos>`` behind (outputs)."""
    bos, eos = target_vocab.stoi[BOS], target_vocab.stoi[EOS]
    source, lengths = pad_sequences(list(sources), source_vocab.pad_id)
    target_inputs, _ = pad_sequences([[bos, *target] for target in targets], target_vocab.pad_id)
    target_outputs, _ = pad_sequences([[*target, eos] for target in targets], target_vocab.pad_id)
    return Batch(source, lengths, target_inputs, target_outputs)


def epoch_batches(data: EncodedPairs, batch_size: int, source_vocab: Vocab, target_vocab: Vocab, seed: int,
                  epoch: int, shuffle: bool = True) -> list[Batch]:
    """The batches of one epoch: similar source lengths together (bucketing); the order depends on (seed, epoch)."""
    sampler = BucketBatchSampler([len(source) for source in data.sources], batch_size, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return [make_batch([data.sources[i] for i in indices], [data.targets[i] for i in indices], source_vocab,
                       target_vocab) for indices in sampler]


__all__ = ["BOS", "EOS", "Batch", "EncodedPairs", "TranslationCorpusConfig", "build_vocabularies", "encode_pairs",
           "epoch_batches", "filter_by_length", "load_pairs", "make_batch", "pairs_in_memory", "read_data",
           "sample_pieces", "split_pairs", "tokenize_pairs"]
