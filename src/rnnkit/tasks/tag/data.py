"""Tagging data: CoNLL sentences (or in-memory (tokens, tags) pairs) -> word ids and tag ids, a held-out
validation share, batches.

::

    read_conll(paths) ─▶ TaggedSentence(tokens, tags, path, lines) ─▶ word ids (Vocab, <pad> <unk>)
    [(tokens, tags), ...] ─▶ MemorySentence (named "data item N")  ┘
                                                                    └▶ tag ids (tags sorted, no specials)
    batches(epoch): BucketBatchSampler (similar lengths together, seeded by (seed, epoch)) ─▶ (ids (B, T),
    lengths (B,), tags (B, T) with IGNORE_INDEX at padding)
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ...data.batching import bucketed_epochs, length_ordered_batches
from ...data.readers.conll import SEPARATORS, TaggedSentence, read_conll
from ...data.readers.conllu import TAG_COLUMNS, looks_like_conllu, read_conllu
from ...models.tagger import IGNORE_INDEX
from ...text import Vocab, pad_sequences
from ...text.char_ids import pad_char_ids, word_char_ids
from ...train.config import setting, validate_field_types
from ..base import describe_data, is_path_like, short_repr
from ..run_dir import Paths, describe_paths

NAME = "tag"
FORMATS = ("auto", "conll", "conllu")


def parse_tag_column(text: str) -> int | str:
    """``--tag-column``: a column index (``-1``, ``2``) or a CoNLL-U column name (``upos``, ``xpos``)."""
    try:
        return int(text)
    except ValueError:
        if text.lower() in TAG_COLUMNS:
            return text.lower()
        raise ValueError(f"--tag-column: got {text!r}; expected a column index or one of "
                         f"{', '.join(TAG_COLUMNS)}") from None


@dataclass(frozen=True)
class TagDataConfig:
    """How CoNLL-style files are read and turned into ids.

    Attributes:
        token_column: index of the token column (0: the first; negative: from the end).
        tag_column: index of the tag column (-1: the last; CoNLL-2003's NER tags), or in CoNLL-U files the column
            name ``"upos"`` or ``"xpos"`` (-1 there means UPOS).
        format: ``"conll"`` (columns), ``"conllu"`` (Universal Dependencies: comments, multiword ranges and empty
            nodes skipped, the token is FORM) or ``"auto"``: CoNLL-U when a file starts like one.
        separator: ``"whitespace"`` or ``"tab"`` between columns.
        encoding: text encoding of the files.
        lower: lower-case the tokens before looking them up (the tags are kept as they are).
        min_freq: keep tokens seen at least this often in the training data (others become ``<unk>``).
        max_vocab: keep at most this many tokens, specials included; None keeps all.
        valid_fraction: without validation data, hold out this share of the training sentences.
        embeddings: a word-vector file whose rows initialise the word embeddings of the vocabulary's words.
        freeze_embeddings: keep the word embeddings fixed (no gradient).
    """

    token_column: int = setting(0, help="index of the token column (0: the first; negative: from the end)")
    tag_column: int | str = setting(-1, help="index of the tag column (-1: the last), or upos|xpos in CoNLL-U files "
                                             "(-1 there: upos)", parse=parse_tag_column)
    format: str = setting("auto", help="conll (token/tag columns), conllu (Universal Dependencies) or auto "
                                       "(conllu when a file starts like one)", choices=FORMATS)
    separator: str = setting("whitespace", help="whitespace or tab between columns", choices=SEPARATORS)
    encoding: str = setting("utf-8", help="text encoding of the data files")
    lower: bool = setting(False, help="lower-case the tokens")
    min_freq: int = setting(1, help="rarer training tokens become <unk>")
    max_vocab: int | None = setting(None, help="vocabulary size limit, specials included")
    valid_fraction: float = setting(0.1, help="share of training sentences held out without --valid")
    embeddings: str | None = setting(None, help="pretrained word vectors (word2vec / GloVe / fastText text, .gz too) "
                                                "for the vocabulary's words; dimension = --embedding-size")
    freeze_embeddings: bool = setting(False, help="keep the word embeddings fixed in training")

    def __post_init__(self) -> None:
        validate_field_types(self)
        if self.separator not in SEPARATORS:
            raise ValueError(f"separator: got {self.separator!r}; expected one of {', '.join(map(repr, SEPARATORS))}")
        if self.format not in FORMATS:
            raise ValueError(f"format: got {self.format!r}; expected one of {', '.join(map(repr, FORMATS))}")
        if isinstance(self.tag_column, str) and self.tag_column not in TAG_COLUMNS:
            raise ValueError(f"tag_column: got {self.tag_column!r}; expected a column index or one of "
                             f"{', '.join(map(repr, TAG_COLUMNS))}")
        if isinstance(self.tag_column, str) and self.format == "conll":
            raise ValueError(f"tag_column: got {self.tag_column!r}, a CoNLL-U column name, with format 'conll'; "
                             "expected a column index")
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
    """Sentences as ids: ``ids[n]`` and ``tags[n]`` LongTensors of one length; ``sentences[n]`` the source;
    ``chars[n]`` the character ids of each word (character features) or None."""

    ids: list[Tensor]
    tags: list[Tensor]
    sentences: list[TaggedSentence]
    chars: list[list[list[int]]] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class MemorySentence(TaggedSentence):
    """A sentence handed over from Python: ``path`` names it (``"data item 3"``), ``lines`` number its tokens."""

    @property
    def where(self) -> str:
        return self.path

    def where_token(self, index: int) -> str:
        return f"{self.path} token {index + 1}"


def sentences_from(source: Any, config: TagDataConfig, argument: str) -> list[TaggedSentence]:
    """The sentences of ``source``: CoNLL files (paths) or a sequence of ``(tokens, tags)`` pairs; ``argument`` is
    ``"data"``, ``"valid"`` or ``"test"`` (errors name ``--data`` for files, ``data item N`` for pairs)."""
    if is_path_like(source):
        return read_sentences(source, config, f"--{argument}")
    if isinstance(source, str | bytes) or not isinstance(source, Sequence) or not source:
        raise ValueError(f"{argument}: got {short_repr(source)}; expected CoNLL file paths or a non-empty sequence of "
                         "(tokens, tags) pairs")
    return [memory_sentence(item, f"{argument} item {number}") for number, item in enumerate(source, 1)]


def memory_sentence(item: Any, where: str) -> MemorySentence:
    """One ``(tokens, tags)`` pair as a sentence; a ValueError naming ``where`` for anything else."""
    if (isinstance(item, tuple | list) and len(item) == 2
            and all(isinstance(part, Sequence) and not isinstance(part, str) for part in item)
            and len(item[0]) == len(item[1]) > 0
            and all(isinstance(value, str) and value.strip() for part in item for value in part)):
        tokens, tags = (tuple(value.strip() for value in part) for part in item)
        return MemorySentence(tokens, tags, where, tuple(range(1, len(tokens) + 1)))
    raise ValueError(f"{where}: expected a (tokens, tags) pair of two equal-length, non-empty lists of non-empty "
                     f"strings; got {short_repr(item)}")


def read_sentences(paths: Paths, config: TagDataConfig, name: str, tags: bool = True) -> list[TaggedSentence]:
    """Every sentence of ``paths``; ``name`` is the flag, for errors; ``tags=False`` reads the tokens only."""
    sentences = list(iter_sentences(paths, config, name, tags))
    if not sentences:
        raise ValueError(no_sentences(paths, name))
    return sentences


def no_sentences(paths: Paths, name: str) -> str:
    return (f"{name} {describe_paths(paths)}: holds no sentences; expected token lines with a blank line between "
            "sentences")


def iter_sentences(paths: Paths, config: TagDataConfig, name: str, tags: bool = True) -> Iterator[TaggedSentence]:
    """The sentences of ``paths`` as a stream (CoNLL-U or CoNLL columns, as ``config`` says)."""
    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if is_conllu(files, config):
        if isinstance(config.tag_column, int) and config.tag_column != -1:
            raise ValueError(f"{name} {describe_paths(paths)}: a CoNLL-U file with --tag-column "
                             f"{config.tag_column}; expected upos or xpos")
        tag = ("upos" if config.tag_column == -1 else config.tag_column) if tags else None
        return read_conllu(files, tag, config.encoding)
    if isinstance(config.tag_column, str):
        raise ValueError(f"{name} {describe_paths(paths)}: --tag-column {config.tag_column} names a CoNLL-U column "
                         "but the file is not CoNLL-U; expected a column index (or --format conllu)")
    return read_conll(files, config.token_column, config.tag_column if tags else None, config.separator,
                      config.encoding)


def is_conllu(files: Sequence[Any], config: TagDataConfig) -> bool:
    """Whether ``files`` are read as CoNLL-U: ``format`` says so, or (``"auto"``) the first file starts like one."""
    if config.format != "auto":
        return config.format == "conllu"
    return bool(files) and looks_like_conllu(files[0], config.encoding)


def tokens_of(sentence: TaggedSentence, config: TagDataConfig) -> list[str]:
    return [token.lower() for token in sentence.tokens] if config.lower else list(sentence.tokens)


def build_vocab(sentences: Iterable[TaggedSentence], config: TagDataConfig) -> Vocab:
    return Vocab.build((tokens_of(sentence, config) for sentence in sentences), min_freq=config.min_freq,
                       max_size=config.max_vocab)


def build_tag_vocab(sentences: Sequence[TaggedSentence], paths: Any) -> Vocab:
    """The training data's tags, sorted, ids from 0 (no specials); at least two tags. ``paths``: the data, for the
    error (files, or in-memory sentences)."""
    return tag_vocab_of({tag for sentence in sentences for tag in sentence.tags}, paths)


def tag_vocab_of(tags: Iterable[str], paths: Any) -> Vocab:
    """The tag vocabulary of a set of tags (sorted, no specials); fewer than two tags is an error naming ``paths``."""
    tags = sorted(tags)
    if len(tags) < 2:
        raise ValueError(f"{describe_data('--data', paths)}: every token has the tag {tags[0]!r}; "
                         "expected at least 2 tags")
    return Vocab(tags, specials=())


def encode_sentences(sentences: Iterable[TaggedSentence], vocab: Vocab, tag_vocab: Vocab,
                     config: TagDataConfig, char_vocab: Vocab | None = None) -> EncodedTags:
    """Word ids and tag ids (and, given ``char_vocab``, the character ids of each word as written); a tag that the
    training data did not have is an error naming its file and line.

    Sentences read without tags get tag id 0 everywhere (unused).
    """
    encoded = EncodedTags([], [], [], [] if char_vocab is not None else None)
    for sentence in sentences:
        ids, tag_ids = sentence_ids(sentence, vocab, tag_vocab, config)
        encoded.ids.append(torch.tensor(ids, dtype=torch.long))
        encoded.tags.append(torch.tensor(tag_ids, dtype=torch.long))
        encoded.sentences.append(sentence)
        if char_vocab is not None:
            encoded.chars.append(word_char_ids(sentence.tokens, char_vocab))
    return encoded


def sentence_ids(sentence: TaggedSentence, vocab: Vocab, tag_vocab: Vocab,
                 config: TagDataConfig) -> tuple[list[int], list[int]]:
    """A sentence's word ids and tag ids (0 everywhere without tags); an unknown tag names its file and line."""
    if sentence.tags is None:
        return vocab.encode(tokens_of(sentence, config)), [0] * len(sentence.tokens)
    known, tag_ids = tag_vocab.stoi, []
    for index, tag in enumerate(sentence.tags):
        if tag not in known:
            raise ValueError(f"{sentence.where_token(index)}: tag {tag!r} was not seen in the training data; "
                             f"the model knows {', '.join(map(repr, tag_vocab.itos))}")
        tag_ids.append(known[tag])
    return vocab.encode(tokens_of(sentence, config)), tag_ids


def split_sentences(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(kept, held_out)``: ``round(fraction * count)`` sentences (at least 1, never all) held out by a
    seeded shuffle; both lists in the original order."""
    held_out = min(count - 1, max(1, round(fraction * count)))
    order = list(range(count))
    random.Random(seed).shuffle(order)
    chosen = set(order[:held_out])
    return [index for index in range(count) if index not in chosen], sorted(chosen)


def collate(data: EncodedTags, indices: Sequence[int], pad_id: int) -> tuple[Tensor, ...]:
    """``(ids (B, T), lengths (B,), tags (B, T))``, and ``chars (B, T, C)`` when the data has character ids; tags
    are IGNORE_INDEX at padding positions."""
    ids, lengths = pad_sequences([data.ids[i] for i in indices], pad_id)
    tags = torch.full(ids.shape, IGNORE_INDEX, dtype=torch.long)
    for row, index in enumerate(indices):
        tags[row, : len(data.tags[index])] = data.tags[index]
    if data.chars is not None:
        return ids, lengths, tags, pad_char_ids([data.chars[i] for i in indices], 0, ids.shape[1])
    return ids, lengths, tags


def training_batches(data: EncodedTags, batch_size: int, seed: int, pad_id: int):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, pad_id))


def evaluation_batches(data: EncodedTags, batch_size: int, pad_id: int) -> Iterator[tuple[list[int], tuple]]:
    """``(indices, batch)`` in length order (little padding), every sentence once."""
    return length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                  lambda indices: collate(data, indices, pad_id))
