"""``rnnkit prepare tag``: CoNLL / CoNLL-U sentences to word-id shards and a tag id per word, on disk.

Two streaming passes (:mod:`rnnkit.data.prepare_records`: the layout, and resuming after an interruption) over
the sentences of :func:`~rnnkit.tasks.tag.data.iter_sentences` (the reader of ``train tag``: the same columns,
CoNLL-U detection, ``--tag-column``):

1. counts the words exactly (spilled to disk) and collects the tags, which gives the vocabulary
   :func:`~rnnkit.tasks.tag.data.build_vocab` builds in memory from the same sentences and the sorted tag set
   (skipped with ``--vocab-from``, a tag run or prepared directory whose vocabulary and tags are used);
2. writes each sentence's word ids and tag ids (:func:`~rnnkit.tasks.tag.data.sentence_ids`, the in-memory
   encoding), ``labels.bin`` holding one tag id per word.

The vocabulary is counted over every sentence of ``--data``; ``train tag`` in memory counts the training split
only, so the two agree when a validation set is given (``--valid``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...data.prepare import SHARD_TOKENS
from ...data.prepare_records import RecordSource, check_inputs, prepare_records, prepared_source
from ...data.vocab_count import CountSpiller, vocab_from_runs
from ...text import Vocab
from ...text.vocab import DEFAULT_SPECIALS
from ..run_dir import read_run_config
from .data import NAME, TagDataConfig, iter_sentences, no_sentences, sentence_ids, tag_vocab_of, tokens_of

__all__ = ["SETTING_NAMES", "prepare_tag", "tags_of_run"]

SETTING_NAMES = ("token_column", "tag_column", "format", "separator", "encoding", "lower", "min_freq", "max_vocab")


def _count(paths: list[Path], text: TagDataConfig, work: Path) -> tuple[Vocab, list[str]]:
    """Pass 1: the vocabulary (Vocab.build's, from exact spilled counts) and the sorted tags."""
    spiller, tags, sentences = CountSpiller(work / "count"), set(), 0
    for sentence in iter_sentences(paths, text, "--data"):
        spiller.add(tokens_of(sentence, text))
        tags.update(sentence.tags)
        sentences += 1
    if not sentences:
        raise ValueError(no_sentences(paths, "--data"))
    tag_vocab = tag_vocab_of(tags, paths)
    return vocab_from_runs(spiller.finish(), DEFAULT_SPECIALS, text.min_freq, text.max_vocab), list(tag_vocab.itos)


def _encoded(paths: list[Path], text: TagDataConfig, vocab: Vocab,
             tags: list[str]) -> Iterator[tuple[list[int], list[int]]]:
    """Pass 2: each sentence's word ids and tag ids; a tag outside ``tags`` names its file and line."""
    tag_vocab = Vocab(tags, specials=())
    for sentence in iter_sentences(paths, text, "--data"):
        yield sentence_ids(sentence, vocab, tag_vocab, text)


def prepare_tag(data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], text: TagDataConfig,
                vocab: Vocab | None = None, tags: Sequence[str] | None = None, vocab_from: str | None = None,
                shard_tokens: int = SHARD_TOKENS) -> dict[str, Any]:
    """Prepare CoNLL-style files for ``train tag --data OUT`` (see the module docstring); returns the index.

    The arguments are those of :func:`~rnnkit.tasks.classify.prepare.prepare_classify`, with ``text`` the reading
    settings of ``train tag`` (columns, format, lower-casing, vocabulary limits) and ``tags`` the tag names that
    go with a given ``vocab``; shards end after whole sentences.

    Raises:
        FileNotFoundError: An input file is missing.
        ValueError: Malformed data (naming file and line), a single tag, a tag ``tags`` lacks, or an ``out`` that
            holds other files or another preparation.
    """
    paths = check_inputs(data, "CoNLL or CoNLL-U files")
    source = RecordSource(NAME, paths, {name: getattr(text, name) for name in SETTING_NAMES},
                          lambda work: _count(paths, text, work),
                          lambda vocabulary, names: _encoded(paths, text, vocabulary, names), per_token=True)
    return prepare_records(source, out, vocab, tags, vocab_from, shard_tokens)


def tags_of_run(path: Path) -> tuple[Vocab, list[str], dict[str, Any]]:
    """The vocabulary, tags and reading settings of a prepared tag directory or a tag run (``--vocab-from``)."""
    prepared = prepared_source(path, NAME)
    if prepared is not None:
        return prepared
    config = read_run_config(path, NAME)
    if not (path / "tags.json").is_file():
        raise FileNotFoundError(f"{path / 'tags.json'}: missing; expected a tag run's tag vocabulary")
    return Vocab.load(path / "vocab.json"), list(Vocab.load(path / "tags.json").itos), config.get("text") or {}
