"""``rnnkit prepare classify``: labelled text (CSV/TSV/JSONL, label-first lines, ...) to id shards on disk.

Two streaming passes (:mod:`rnnkit.data.prepare_records`: the directory's layout, and resuming after an
interruption) over the records of :func:`~rnnkit.data.readers.labelled.read_labelled` (the reader of
``train classify``), each text tokenised by :func:`~rnnkit.tasks.text_data.tokens_of` (same level, lower-casing,
HTML stripping, ``max_length`` cut):

1. counts the tokens exactly (spilled to disk: :mod:`rnnkit.data.vocab_count`) and the labels, which gives the
   vocabulary :func:`~rnnkit.tasks.text_data.build_vocab` builds in memory from the same records and the sorted
   label set (skipped with ``--vocab-from``, whose vocabulary and labels are used, an unknown label an error);
2. writes each text's ids and its label id.

The vocabulary is counted over every record of ``--data``; ``train classify`` in memory counts the training split
only, so the two agree when a validation set is given (``--valid``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...data.prepare import SHARD_TOKENS
from ...data.prepare_records import RecordSource, check_inputs, prepare_records, prepared_source
from ...data.readers.labelled import read_labelled
from ...data.vocab_count import CountSpiller, vocab_from_runs
from ...text import Vocab
from ...text.vocab import DEFAULT_SPECIALS
from ..text_data import TextDataConfig, tokens_of

__all__ = ["KIND", "SETTING_NAMES", "prepare_classify"]

KIND = "classify"
SETTING_NAMES = ("format", "text_column", "label_column", "encoding", "level", "lower", "min_freq", "max_vocab",
                 "max_length", "truncate", "strip_html")


def _records(paths: Sequence[Path], text: TextDataConfig) -> Iterator[tuple[list[str], str, str]]:
    """``(tokens, label, where)`` of every record, read as a stream."""
    for record in read_labelled(list(paths), text.format, text.text_column, text.label_column, text.encoding):
        yield tokens_of(record, text), record.label, record.where


def _count(paths: Sequence[Path], text: TextDataConfig, work: Path) -> tuple[Vocab, list[str]]:
    """Pass 1: the vocabulary (Vocab.build's, from exact spilled counts) and the sorted labels."""
    spiller, labels = CountSpiller(work / "count"), Counter()
    for tokens, label, _ in _records(paths, text):
        spiller.add(tokens)
        labels[label] += 1
    names = " ".join(map(str, paths))
    if not labels:
        raise ValueError(f"--data {names}: holds no examples; expected labelled texts")
    if len(labels) < 2:
        (label,) = labels
        raise ValueError(f"--data {names}: every one of the {labels[label]} examples has the label {label!r}; "
                         "expected at least 2 classes")
    return vocab_from_runs(spiller.finish(), DEFAULT_SPECIALS, text.min_freq, text.max_vocab), sorted(labels)


def _encoded(paths: Sequence[Path], text: TextDataConfig, vocab: Vocab,
             labels: list[str]) -> Iterator[tuple[list[int], int]]:
    """Pass 2: each text's ids and label id; a label outside ``labels`` names its file and line."""
    label_ids = {label: index for index, label in enumerate(labels)}
    for tokens, label, where in _records(paths, text):
        if label not in label_ids:
            known = ", ".join(map(repr, labels))
            raise ValueError(f"{where}: label {label!r} is not one of the vocabulary's labels; expected {known}")
        yield vocab.encode(tokens), label_ids[label]


def prepare_classify(data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], text: TextDataConfig,
                     vocab: Vocab | None = None, labels: Sequence[str] | None = None,
                     vocab_from: str | None = None, shard_tokens: int = SHARD_TOKENS) -> dict[str, Any]:
    """Prepare labelled text for ``train classify --data OUT`` (see the module docstring); returns the index.

    Args:
        data: The labelled files, as ``train classify --data`` takes them.
        out: The directory to write: new or empty, or an interrupted preparation of the same files and settings
            (resumed).
        text: Reading and tokenisation settings, as ``train classify``'s.
        vocab: A vocabulary (and ``labels``) to use instead of counting (``--vocab-from``).
        labels: The class labels that go with ``vocab``.
        vocab_from: Where ``vocab`` came from, recorded in the index.
        shard_tokens: About how many ids a shard holds (shards end after whole texts).

    Raises:
        FileNotFoundError: An input file is missing.
        ValueError: Malformed data (naming file and line), a single class, a label ``labels`` lacks, or an
            ``out`` that holds other files.
    """
    paths = check_inputs(data, "labelled text files")
    source = RecordSource(KIND, paths, {name: getattr(text, name) for name in SETTING_NAMES},
                          lambda work: _count(paths, text, work),
                          lambda vocabulary, names: _encoded(paths, text, vocabulary, names))
    return prepare_records(source, out, vocab, labels, vocab_from, shard_tokens)


def labels_of_run(path: Path) -> tuple[Vocab, list[str], dict[str, Any]]:
    """The vocabulary, labels and text settings of a prepared classify directory or a classify run
    (``--vocab-from``)."""
    from ..run_dir import read_run_config

    prepared = prepared_source(path, KIND)
    if prepared is not None:
        return prepared
    config = read_run_config(path, KIND)
    if (config.get("subword") or {}).get("subword", "none") not in ("none", None):
        raise ValueError(f"--vocab-from {path}: a subword run; prepared texts hold word or character ids")
    labels = config.get("labels")
    if not isinstance(labels, list):
        raise ValueError(f"{path / 'config.json'}: no labels; expected a classify run's config")
    return Vocab.load(path / "vocab.json"), labels, config.get("text") or {}
