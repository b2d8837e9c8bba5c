"""``rnnkit prepare classify``: labelled text (CSV/TSV/JSONL, label-first lines, ...) to id shards on disk.

Two streaming passes over the records of :func:`~rnnkit.data.readers.labelled.read_labelled` (the reader of
``train classify``), each text tokenised by :func:`~rnnkit.tasks.text_data.tokens_of` (same level, lower-casing,
HTML stripping, ``max_length`` cut):

1. counts the tokens exactly (spilled to disk: :mod:`rnnkit.data.vocab_count`) and the labels, which gives the
   vocabulary :func:`~rnnkit.tasks.text_data.build_vocab` builds in memory from the same records and the sorted
   label set (skipped with ``--vocab-from``, whose vocabulary and labels are used, an unknown label an error);
2. writes the ids. The directory holds::

    DIR/index.json      format, kind "classify", settings, vocab_size, dtype, texts, tokens, labels (names),
                        shards [{name, tokens, sha256}], offsets and label_ids {name, count, sha256}
    DIR/vocab.json      the vocabulary
    DIR/shard-00000-PPPPP.bin   the texts' ids one after another, uint16 (uint32 past 65,536 tokens)
    DIR/offsets.bin     int64, texts + 1 entries: text n is ids [offsets[n], offsets[n + 1])
    DIR/labels.bin      int64 label ids, one per text

Everything is written to a temporary name and renamed; ``index.json`` comes last, so its presence means done.
The vocabulary is counted over every record of ``--data``; ``train classify`` in memory counts the training split
only, so the two agree when a validation set is given (``--valid``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...data.readers.labelled import read_labelled
from ...data.shards import INDEX, SHARD_FORMAT, SHARD_VERSION, VOCAB, file_sha256, ids_dtype
from ...data.vocab_count import CountSpiller, vocab_from_runs
from ...text import Vocab
from ...text.vocab import DEFAULT_SPECIALS
from ...train.atomic import atomic_write_json, fsync_directory
from ..text_data import TextDataConfig, tokens_of

__all__ = ["KIND", "OFFSETS", "LABELS", "SETTING_NAMES", "prepare_classify"]

KIND = "classify"
OFFSETS = "offsets.bin"
LABELS = "labels.bin"
SHARD_TOKENS = 1 << 24
SETTING_NAMES = ("format", "text_column", "label_column", "encoding", "level", "lower", "min_freq", "max_vocab",
                 "max_length", "truncate", "strip_html")
_WORK = ".work"
_FLUSH = 1 << 20  # ids (and texts) gathered in memory before they are appended to the files


def _records(paths: Sequence[str], text: TextDataConfig) -> Iterator[tuple[list[str], str, str]]:
    """``(tokens, label, where)`` of every record, read as a stream."""
    records = read_labelled([Path(path) for path in paths], text.format, text.text_column, text.label_column,
                            text.encoding)
    for record in records:
        yield tokens_of(record, text), record.label, record.where


def _check_inputs(paths: Sequence[str]) -> list[str]:
    if not paths:
        raise ValueError("--data: missing; expected labelled text files")
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"--data {path}: no such file")
    return [str(path) for path in paths]


def _count(paths: Sequence[str], text: TextDataConfig, work: Path) -> tuple[Vocab, list[str]]:
    """Pass 1: the vocabulary (Vocab.build's, from exact spilled counts) and the sorted labels."""
    spiller, labels = CountSpiller(work / "count"), Counter()
    for tokens, label, _ in _records(paths, text):
        spiller.add(tokens)
        labels[label] += 1
    if not labels:
        raise ValueError(f"--data {' '.join(paths)}: holds no examples; expected labelled texts")
    if len(labels) < 2:
        (label,) = labels
        raise ValueError(f"--data {' '.join(paths)}: every one of the {labels[label]} examples has the label "
                         f"{label!r}; expected at least 2 classes")
    vocab = vocab_from_runs(spiller.finish(), DEFAULT_SPECIALS, text.min_freq, text.max_vocab)
    return vocab, sorted(labels)


class _Appender:
    """A file written by appending arrays, under a temporary name until :meth:`finish` renames it."""

    def __init__(self, out: Path, name: str, dtype: np.dtype) -> None:
        self.out, self.name, self.dtype, self.count = out, name, dtype, 0
        self.temporary = out / _WORK / f"{name}.tmp"
        self.handle = open(self.temporary, "wb")  # noqa: SIM115 - closed in finish

    def append(self, values: list[int] | np.ndarray) -> None:
        data = np.asarray(values, dtype=self.dtype)
        self.handle.write(data.tobytes())
        self.count += data.size

    def finish(self) -> dict[str, Any]:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temporary, self.out / self.name)
        return {"name": self.name, "count": self.count, "sha256": file_sha256(self.out / self.name)}


def _write(paths: Sequence[str], text: TextDataConfig, vocab: Vocab, labels: list[str], out: Path,
           shard_tokens: int) -> dict[str, Any]:
    """Pass 2: the shards, offsets and label ids; their index entries."""
    dtype, label_ids = ids_dtype(len(vocab)), {label: index for index, label in enumerate(labels)}
    offsets, label_file = _Appender(out, OFFSETS, np.dtype("<i8")), _Appender(out, LABELS, np.dtype("<i8"))
    shards: list[dict[str, Any]] = []
    shard: _Appender | None = None
    pending_ids: list[int] = []
    pending_offsets, pending_labels, position = [0], [], 0

    def flush(close_shard: bool) -> None:
        nonlocal shard, pending_ids, pending_offsets, pending_labels
        if pending_ids:
            if shard is None:
                shard = _Appender(out, f"shard-00000-{len(shards):05d}.bin", dtype)
            shard.append(pending_ids)
        offsets.append(pending_offsets)
        label_file.append(pending_labels)
        pending_ids, pending_offsets, pending_labels = [], [], []
        if close_shard and shard is not None:
            record = shard.finish()
            shards.append({"name": record["name"], "tokens": record["count"], "sha256": record["sha256"]})
            shard = None

    for tokens, label, where in _records(paths, text):
        if label not in label_ids:
            known = ", ".join(map(repr, labels))
            raise ValueError(f"{where}: label {label!r} is not one of the vocabulary's labels; expected {known}")
        pending_ids.extend(vocab.encode(tokens))
        position += len(tokens)
        pending_offsets.append(position)
        pending_labels.append(label_ids[label])
        written = 0 if shard is None else shard.count
        if written + len(pending_ids) >= shard_tokens or len(pending_ids) >= _FLUSH or len(pending_labels) >= _FLUSH:
            flush(close_shard=written + len(pending_ids) >= shard_tokens)
    flush(close_shard=True)
    return {"shards": shards, "offsets": offsets.finish(), "label_ids": label_file.finish(), "tokens": position}


def prepare_classify(data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], text: TextDataConfig,
                     vocab: Vocab | None = None, labels: Sequence[str] | None = None,
                     vocab_from: str | None = None, shard_tokens: int = SHARD_TOKENS) -> dict[str, Any]:
    """Prepare labelled text for ``train classify --data OUT`` (see the module docstring); returns the index.

    Args:
        data: The labelled files, as ``train classify --data`` takes them.
        out: The directory to write; it must not exist, or be empty.
        text: Reading and tokenisation settings, as ``train classify``'s.
        vocab: A vocabulary (and ``labels``) to use instead of counting (``--vocab-from``).
        labels: The class labels that go with ``vocab``.
        vocab_from: Where ``vocab`` came from, recorded in the index.
        shard_tokens: About how many ids a shard holds (shards end after whole texts).

    Raises:
        FileNotFoundError: An input file is missing.
        ValueError: Malformed data (naming file and line), a single class, a label ``labels`` lacks, or an
            ``out`` that holds files.
    """
    paths = _check_inputs([str(path) for path in data])
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int) or shard_tokens < 1:
        raise ValueError(f"--shard-tokens: got {shard_tokens!r}; expected a positive integer")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out}: exists and is not an empty directory; expected a new directory")
    work = out / _WORK
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        if vocab is None:
            vocab, labels = _count(paths, text, work)
        elif labels is None:
            raise ValueError("labels: missing; a given vocabulary needs the labels that go with it")
        written = _write(paths, text, vocab, list(labels), out, shard_tokens)
        vocab.save(out / VOCAB)
        settings = {name: getattr(text, name) for name in SETTING_NAMES} | {"vocab_from": vocab_from}
        index = {"format": SHARD_FORMAT, "version": SHARD_VERSION, "kind": KIND, "settings": settings,
                 "vocab_size": len(vocab), "dtype": ids_dtype(len(vocab)).str, "texts": written["label_ids"]["count"],
                 "tokens": written["tokens"], "labels": list(labels),
                 "files": [{"path": str(Path(path).resolve())} for path in paths],
                 "shards": written["shards"], "offsets": written["offsets"], "label_ids": written["label_ids"],
                 "seconds": round(time.perf_counter() - started, 3)}
        atomic_write_json(out / INDEX, index)
        fsync_directory(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return index


def labels_of_run(path: Path) -> tuple[Vocab, list[str], dict[str, Any]]:
    """The vocabulary, labels and text settings of a prepared classify directory or a classify run
    (``--vocab-from``)."""
    from ...data.shards import is_prepared, read_index
    from ..run_dir import read_run_config

    if is_prepared(path):
        index = read_index(path, KIND)
        return Vocab.load(path / VOCAB), list(index["labels"]), index["settings"]
    if not path.is_dir():
        raise FileNotFoundError(f"--vocab-from {path}: no such directory; expected a classify run or a prepared "
                                "directory")
    config = read_run_config(path, KIND)
    if (config.get("subword") or {}).get("subword", "none") not in ("none", None):
        raise ValueError(f"--vocab-from {path}: a subword run; prepared texts hold word or character ids")
    labels = config.get("labels")
    if not isinstance(labels, list):
        raise ValueError(f"{path / 'config.json'}: no labels; expected a classify run's config")
    return Vocab.load(path / "vocab.json"), labels, config.get("text") or {}
