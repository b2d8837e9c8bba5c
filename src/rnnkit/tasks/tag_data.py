"""Tagging data: CoNLL sentences -> word ids and tag ids, a held-out validation share, batches.

::

    read_conll(paths) ─▶ TaggedSentence(tokens, tags, path, lines) ─▶ word ids (Vocab, <pad> <unk>)
                                                                    └▶ tag ids (tags sorted, no specials)
    batches(epoch): BucketBatchSampler (similar lengths together, seeded by (seed, epoch)) ─▶ (ids (B, T),
    lengths (B,), tags (B, T) with IGNORE_INDEX at padding)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.batching import bucketed_epochs, length_ordered_batches
from ..data.readers.conll import SEPARATORS, TaggedSentence, read_conll
from ..models.tagger import IGNORE_INDEX
from ..text import Vocab, pad_sequences
from ..train.config import validate_field_types
from .run_dir import Paths, describe_paths


@dataclass(frozen=True)
class TagDataConfig:
    """How CoNLL-style files are read and turned into ids.

    Attributes:
        token_column: index of the token column (0: the first; negative: from the end).
        tag_column: index of the tag column (-1: the last; CoNLL-2003's NER tags).
        separator: ``"whitespace"`` or ``"tab"`` between columns.
        encoding: text encoding of the files.
        lower: lower-case the tokens before looking them up (the tags are kept as they are).
        min_freq: keep tokens seen at least this often in the training data (others become ``<unk>``).
        max_vocab: keep at most this many tokens, specials included; None keeps all.
        valid_fraction: without validation data, hold out this share of the training sentences.
    """

    token_column: int = 0
    tag_column: int = -1
    separator: str = "whitespace"
    encoding: str = "utf-8"
    lower: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    valid_fraction: float = 0.1

    def __post_init__(self) -> None:
        validate_field_types(self)
        if self.separator not in SEPARATORS:
            raise ValueError(f"separator: got {self.separator!r}; expected one of {', '.join(map(repr, SEPARATORS))}")
        if self.token_column == self.tag_column:
            raise ValueError(f"token_column and tag_column: both are {self.token_column}; expected two different "
                             "columns")
        if self.min_freq < 1:
            raise ValueError(f"min_freq: got {self.min_freq!r}; expected a positive integer")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise ValueError(f"max_vocab: got {self.max_vocab!r}; expected an integer >= 3, or null for all")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a fraction in (0, 1)")


@dataclass
class EncodedTags:
    """Sentences as ids: ``ids[n]`` and ``tags[n]`` LongTensors of one length; ``sentences[n]`` the source."""

    ids: list[Tensor]
    tags: list[Tensor]
    sentences: list[TaggedSentence]

    def __len__(self) -> int:
        return len(self.ids)


def read_sentences(paths: Paths, config: TagDataConfig, name: str, tags: bool = True) -> list[TaggedSentence]:
    """Every sentence of ``paths``; ``name`` is the flag, for errors; ``tags=False`` reads the tokens only."""
    sentences = list(read_conll(paths, config.token_column, config.tag_column if tags else None, config.separator,
                                config.encoding))
    if not sentences:
        raise ValueError(f"{name} {describe_paths(paths)}: holds no sentences; expected token lines with a blank line "
                         "between sentences")
    return sentences


def tokens_of(sentence: TaggedSentence, config: TagDataConfig) -> list[str]:
    return [token.lower() for token in sentence.tokens] if config.lower else list(sentence.tokens)


def build_vocab(sentences: Iterable[TaggedSentence], config: TagDataConfig) -> Vocab:
    return Vocab.build((tokens_of(sentence, config) for sentence in sentences), min_freq=config.min_freq,
                       max_size=config.max_vocab)


def build_tag_vocab(sentences: Sequence[TaggedSentence], paths: Paths) -> Vocab:
    """The training data's tags, sorted, ids from 0 (no specials); at least two tags."""
    tags = sorted({tag for sentence in sentences for tag in sentence.tags})
    if len(tags) < 2:
        raise ValueError(f"--data {describe_paths(paths)}: every token has the tag {tags[0]!r}; "
                         "expected at least 2 tags")
    return Vocab(tags, specials=())


def encode_sentences(sentences: Iterable[TaggedSentence], vocab: Vocab, tag_vocab: Vocab,
                     config: TagDataConfig) -> EncodedTags:
    """Word ids and tag ids; a tag that the training data did not have is an error naming its file and line.

    Sentences read without tags get tag id 0 everywhere (unused).
    """
    encoded = EncodedTags([], [], [])
    known = tag_vocab.stoi
    for sentence in sentences:
        if sentence.tags is None:
            tag_ids = [0] * len(sentence.tokens)
        else:
            tag_ids = []
            for index, tag in enumerate(sentence.tags):
                if tag not in known:
                    raise ValueError(f"{sentence.where_token(index)}: tag {tag!r} was not seen in the training data; "
                                     f"the model knows {', '.join(map(repr, tag_vocab.itos))}")
                tag_ids.append(known[tag])
        encoded.ids.append(torch.tensor(vocab.encode(tokens_of(sentence, config)), dtype=torch.long))
        encoded.tags.append(torch.tensor(tag_ids, dtype=torch.long))
        encoded.sentences.append(sentence)
    return encoded


def split_sentences(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(kept, held_out)``: ``round(fraction * count)`` sentences (at least 1, never all) held out by a
    seeded shuffle; both lists in the original order."""
    held_out = min(count - 1, max(1, round(fraction * count)))
    order = list(range(count))
    random.Random(seed).shuffle(order)
    chosen = set(order[:held_out])
    return [index for index in range(count) if index not in chosen], sorted(chosen)


def collate(data: EncodedTags, indices: Sequence[int], pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(ids (B, T), lengths (B,), tags (B, T))``; tags are IGNORE_INDEX at padding positions."""
    ids, lengths = pad_sequences([data.ids[i] for i in indices], pad_id)
    tags = torch.full(ids.shape, IGNORE_INDEX, dtype=torch.long)
    for row, index in enumerate(indices):
        tags[row, : len(data.tags[index])] = data.tags[index]
    return ids, lengths, tags


def training_batches(data: EncodedTags, batch_size: int, seed: int, pad_id: int):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, pad_id))


def evaluation_batches(data: EncodedTags, batch_size: int, pad_id: int) -> Iterator[tuple[list[int], tuple]]:
    """``(indices, batch)`` in length order (little padding), every sentence once."""
    return length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                  lambda indices: collate(data, indices, pad_id))
