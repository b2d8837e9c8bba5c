"""Labelled records to id shards on disk, in two streaming passes, resumable: the writer behind
``rnnkit prepare classify``, ``prepare tag`` and ``prepare dna``.

A task describes its data as a :class:`RecordSource`: the input files and settings, a counting pass (the
vocabulary and label names it would build in memory from the same records) and the stream of encoded records
``(ids, label)``: a text's ids with one label id, or (``per_token``) a sentence's ids with one tag id per id. The
directory holds::

    DIR/prepare.json    the inputs (path, size, mtime) and settings of this preparation, written first
    DIR/index.json      format, kind, settings, vocab_size, dtype, texts, tokens, labels (names), files,
                        shards [{name, tokens, sha256}], offsets and label_ids {name, count, sha256, dtype, per}
    DIR/vocab.json      the vocabulary
    DIR/shard-00000-PPPPP.bin   the records' ids one after another, uint16 (uint32 past 65,536 tokens)
    DIR/offsets.bin     int64, records + 1 entries: record n is ids [offsets[n], offsets[n + 1])
    DIR/labels.bin      a label id per record (int64), or (per_token) a tag id per id (uint16 / uint32)

Resuming (as ``prepare lm``): pass 1's vocabulary and labels are kept once written (``vocab.json``, then
``.work/labels.json``). In pass 2 a shard ends after whole records and counts only once the offsets and labels
before its end are flushed to disk and its own record (name, ids, SHA-256, records before its end) is written
after it. A re-run with the same inputs and settings keeps the recorded shards, cuts ``offsets`` and ``labels``
back to where the last one ends, and reads the records again from the start, writing from the first record not in
a shard (the records before it are read and encoded, not written). ``index.json`` is written last: its presence
means done; a finished directory given again with the same inputs is returned as it is.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..text import Vocab
from ..train.atomic import atomic_write_json, fsync_directory
from .prepare import SHARD_TOKENS, WORK, claim_directory, describe_file, recorded_shards, vocab_digest, write_shard
from .shards import INDEX, SHARD_FORMAT, SHARD_VERSION, VOCAB, file_sha256, ids_dtype, is_prepared, read_index

__all__ = ["LABELS", "OFFSETS", "RecordSource", "check_inputs", "prepare_records", "prepared_source"]

OFFSETS = "offsets.bin"
LABELS = "labels.bin"
LABEL_NAMES = "labels.json"  # in .work: pass 1's label names (its vocabulary is vocab.json)
INT64 = np.dtype("<i8")
_FLUSH = 1 << 20  # ids (or records) gathered in memory before they are appended to the files

Record = tuple[Sequence[int], Any]  # (ids, label id) or, per token, (ids, tag ids)


@dataclass(frozen=True)
class RecordSource:
    """What a task prepares: files, settings, how to count them and how to encode them.

    Attributes:
        kind: The task (``"classify"``, ``"tag"``, ``"dna"``), recorded in the index and checked by readers.
        files: The input files, checked to exist.
        settings: Reading and encoding settings (JSON values), recorded in the index.
        count: Pass 1, given a folder for spilled counts: the vocabulary and the sorted label names.
        records: Pass 2, given the vocabulary and label names: every record encoded, in file order; a bad one is
            a ValueError naming its file and line.
        per_token: Labels are a tag per id (else one per record).
    """

    kind: str
    files: list[Path]
    settings: dict[str, Any]
    count: Callable[[Path], tuple[Vocab, list[str]]]
    records: Callable[[Vocab, list[str]], Iterator[Record]]
    per_token: bool = False


def prepared_source(path: Path, kind: str) -> tuple[Vocab, list[str], dict[str, Any]] | None:
    """``--vocab-from PATH``: a prepared ``kind`` directory's vocabulary, labels and settings; None for a run
    directory (which the task reads); a FileNotFoundError for neither."""
    if is_prepared(path):
        index = read_index(path, kind)
        return Vocab.load(path / VOCAB), list(index["labels"]), index["settings"]
    if not path.is_dir():
        raise FileNotFoundError(f"--vocab-from {path}: no such directory; expected a {kind} run or a prepared "
                                "directory")
    return None


def check_inputs(paths: Sequence[str | os.PathLike[str]], what: str) -> list[Path]:
    """``--data``'s files (``what`` they should be, for the error), each checked to exist."""
    if not paths:
        raise ValueError(f"--data: missing; expected {what}")
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--data {path}: no such file")
    return [Path(path) for path in paths]


def prepare_records(source: RecordSource, out: str | os.PathLike[str], vocab: Vocab | None = None,
                    labels: Sequence[str] | None = None, vocab_from: str | None = None,
                    shard_tokens: int = SHARD_TOKENS) -> dict[str, Any]:
    """Prepare ``source`` into the directory ``out`` (see the module docstring); returns the index.

    Args:
        source: The task's files, settings, counting pass and encoded records.
        out: The directory to write: new, empty, or an unfinished (or finished) one of the same inputs and settings.
        vocab: A vocabulary (and ``labels``) to use instead of counting (``--vocab-from``).
        labels: The label names that go with ``vocab``.
        vocab_from: Where ``vocab`` came from, recorded in the index.
        shard_tokens: About how many ids a shard holds (shards end after whole records).

    Raises:
        ValueError: Malformed data (from the task, naming file and line), an ``out`` holding other files or another
            preparation, or settings out of range.
    """
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int) or shard_tokens < 1:
        raise ValueError(f"--shard-tokens: got {shard_tokens!r}; expected a positive integer")
    if vocab is not None and labels is None:
        raise ValueError("labels: missing; a given vocabulary needs the labels that go with it")
    out = Path(out)
    settings = {**source.settings, "vocab_from": vocab_from}
    state = json.loads(json.dumps({"kind": source.kind, "files": [describe_file(path) for path in source.files],
                                   "settings": settings, "shard_tokens": shard_tokens,
                                   "vocab": None if vocab is None else vocab_digest(vocab),
                                   "labels": None if labels is None else list(labels)}))  # as read back
    if claim_directory(out, state):
        return read_index(out, source.kind)
    (out / WORK).mkdir(exist_ok=True)
    started = time.perf_counter()
    vocab, names = _vocabulary(source, out, vocab, labels)
    written = _write(source, out, vocab, names, shard_tokens)
    index = {"format": SHARD_FORMAT, "version": SHARD_VERSION, "kind": source.kind, "settings": settings,
             "vocab_size": len(vocab), "dtype": ids_dtype(len(vocab)).str, "texts": written["texts"],
             "tokens": written["tokens"], "labels": names, "files": state["files"], "shards": written["shards"],
             "offsets": written["offsets"], "label_ids": written["label_ids"],
             "seconds": round(time.perf_counter() - started, 3)}
    atomic_write_json(out / INDEX, index)
    fsync_directory(out)
    shutil.rmtree(out / WORK, ignore_errors=True)
    return index


def _vocabulary(source: RecordSource, out: Path, vocab: Vocab | None,
                labels: Sequence[str] | None) -> tuple[Vocab, list[str]]:
    """Pass 1, unless an earlier run finished it (or the vocabulary is given): the vocabulary and label names."""
    done = out / WORK / LABEL_NAMES
    if vocab is None and done.is_file():
        return Vocab.load(out / VOCAB), json.loads(done.read_text(encoding="utf-8"))
    if vocab is None:
        vocab, labels = source.count(out / WORK)
    vocab.save(out / VOCAB)
    atomic_write_json(done, list(labels))
    return vocab, list(labels)


def _write(source: RecordSource, out: Path, vocab: Vocab, labels: list[str], shard_tokens: int) -> dict[str, Any]:
    """Pass 2: the shards, offsets and label ids, from the first record not yet in a recorded shard."""
    label_dtype = ids_dtype(len(labels)) if source.per_token else INT64
    writer = _RecordWriter(out, ids_dtype(len(vocab)), label_dtype, shard_tokens, source.per_token)
    for ids, label in itertools.islice(source.records(vocab, labels), writer.records, None):
        writer.add(ids, label)
    return writer.finish()


class _Appender:
    """A file written by appending arrays under a temporary name in ``.work``; ``keep``: resume an earlier one cut
    to its first ``keep`` values (None: start a new one)."""

    def __init__(self, out: Path, name: str, dtype: np.dtype, keep: int | None) -> None:
        self.out, self.name, self.dtype = out, name, dtype
        self.temporary = out / WORK / f"{name}.tmp"
        if keep is None:
            self.handle, self.count = open(self.temporary, "wb"), 0  # noqa: SIM115 - closed in finish
            return
        size = self.temporary.stat().st_size if self.temporary.is_file() else -1
        if size < keep * dtype.itemsize:
            raise ValueError(f"{self.temporary}: shorter than its recorded shards say ({keep} values): the unfinished "
                             f"preparation is inconsistent; delete {out} and prepare again")
        self.handle, self.count = open(self.temporary, "r+b"), keep  # noqa: SIM115 - closed in finish
        self.handle.truncate(keep * dtype.itemsize)
        self.handle.seek(0, os.SEEK_END)

    def append(self, values: Sequence[int]) -> None:
        data = np.asarray(values, dtype=self.dtype)
        self.handle.write(data.tobytes())
        self.count += data.size

    def sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def finish(self) -> dict[str, Any]:
        self.sync()
        self.handle.close()
        os.replace(self.temporary, self.out / self.name)
        return {"name": self.name, "count": self.count, "sha256": file_sha256(self.out / self.name)}


class _RecordWriter:
    """Records appended to shards, offsets and labels; resumes after the last recorded shard of an earlier run."""

    def __init__(self, out: Path, dtype: np.dtype, label_dtype: np.dtype, shard_tokens: int, per_token: bool) -> None:
        self.out, self.dtype, self.label_dtype = out, dtype, label_dtype
        self.shard_tokens, self.per_token = shard_tokens, per_token
        self.shards = recorded_shards(out, 0, dtype)
        self.records = self.shards[-1]["end"] if self.shards else 0  # a shard's "end": records before its end
        self.tokens = sum(shard["tokens"] for shard in self.shards)
        resumed = bool(self.shards)
        self.offsets = _Appender(out, OFFSETS, INT64, self.records + 1 if resumed else None)
        self.labels = _Appender(out, LABELS, label_dtype,
                                (self.tokens if per_token else self.records) if resumed else None)
        if not resumed:
            self.offsets.append([0])
        self.pieces: list[np.ndarray] = []  # the open shard's ids
        self.buffered = 0
        self.pending_ids: list[int] = []
        self.pending_offsets: list[int] = []
        self.pending_labels: list[int] = []

    def add(self, ids: Sequence[int], label: Any) -> None:
        """One record: its ids and its label id (per token: a tag id per id)."""
        self.pending_ids.extend(ids)
        self.tokens += len(ids)
        self.records += 1
        self.pending_offsets.append(self.tokens)
        if self.per_token:
            self.pending_labels.extend(label)
        else:
            self.pending_labels.append(label)
        if max(len(self.pending_ids), len(self.pending_offsets)) >= _FLUSH:
            self._flush()
        if self.buffered + len(self.pending_ids) >= self.shard_tokens:
            self._flush()
            self._close_shard()

    def _flush(self) -> None:
        if self.pending_ids:
            self.pieces.append(np.asarray(self.pending_ids, dtype=self.dtype))
            self.buffered += len(self.pending_ids)
        self.offsets.append(self.pending_offsets)
        self.labels.append(self.pending_labels)
        self.pending_ids, self.pending_offsets, self.pending_labels = [], [], []

    def _close_shard(self) -> None:
        """Offsets and labels to disk first, then the shard and its record: a recorded shard's records are whole."""
        if not self.pieces:
            return
        self.offsets.sync()
        self.labels.sync()
        self.shards.append(write_shard(self.out, 0, len(self.shards), self.pieces, self.dtype, self.records))
        self.pieces, self.buffered = [], 0

    def finish(self) -> dict[str, Any]:
        """The last shard written; the index entries of the shards, offsets and labels."""
        self._flush()
        self._close_shard()
        label_ids = self.labels.finish() | {"dtype": self.label_dtype.str, "per": "token" if self.per_token else "text"}
        return {"shards": [{key: shard[key] for key in ("name", "tokens", "sha256")} for shard in self.shards],
                "offsets": self.offsets.finish(), "label_ids": label_ids, "tokens": self.tokens,
                "texts": self.records}
