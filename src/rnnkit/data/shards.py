"""Prepared corpora on disk: token ids in uint16 / uint32 shards, described by a JSON index, read by memmap.

``rnnkit prepare lm`` (:mod:`rnnkit.data.prepare`) writes a directory::

    DIR/index.json                  format, settings, vocabulary size, dtype, files, and one entry per shard:
                                    {"name": "shard-00000-00000.bin", "tokens": N, "sha256": ...}
    DIR/vocab.json                  the vocabulary (rnnkit.text.Vocab's file), the ids' meaning
    DIR/shard-FFFFF-PPPPP.bin       ids of input file F, part P, raw little-endian uint16 (or uint32)

The ids of the shards in index order are the ids of the input files in order (each file encoded as
``train lm`` encodes one text file, the files' ids concatenated). :class:`ShardedCorpus` opens every shard with
``numpy.memmap`` and reads any range of that sequence without loading the rest: memory holds what a window
asks for, and the pages of the file the kernel keeps cached (shared, dropped under pressure).

Pages of a mapped file that a process has read count in its resident memory until they are unmapped, so a
long epoch would show the whole corpus as resident (reclaimable page cache, but counted): after every
``release_bytes`` read (256 MiB by default) the mappings are told ``MADV_DONTNEED``, which drops them from the
process (the kernel's cache keeps them; a later read maps them back without disk I/O).

A directory is checked when it is opened: the index must parse and name existing shards whose sizes are
``tokens x itemsize``; with ``verify=True`` each shard's SHA-256 is recomputed too (read in 8 MiB blocks, not
mapped). Every problem is a one-line ValueError / FileNotFoundError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..text import Vocab

__all__ = ["INDEX", "SHARD_FORMAT", "VOCAB", "ShardedCorpus", "file_sha256", "ids_dtype", "is_prepared"]

SHARD_FORMAT = "rnnkit-shards"
SHARD_VERSION = 1
INDEX = "index.json"
STATE = "prepare.json"  # the inputs and settings of a preparation, written first (a re-run must match them)
VOCAB = "vocab.json"
_BLOCK = 8 << 20
RELEASE_BYTES = 256 << 20


def ids_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds ids ``0 .. vocab_size - 1``: uint16 up to 65,536 tokens, else uint32."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (no mapping, so it does not grow the resident memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def is_prepared(path: Any) -> bool:
    """Whether ``path`` is a directory ``rnnkit prepare`` wrote (finished: an ``index.json``; or not: its
    ``prepare.json``), which :class:`ShardedCorpus` then opens or refuses with the reason."""
    if not isinstance(path, str | os.PathLike) or not Path(path).is_dir():
        return False
    return (Path(path) / INDEX).is_file() or (Path(path) / STATE).is_file()


class ShardedCorpus:
    """A prepared directory: its settings and vocabulary, and its ids as one sequence read through memmaps.

    Args:
        directory: The folder ``rnnkit prepare`` wrote.
        kind: The kind of preparation expected (``"lm"``); another is refused.
        verify: Recompute every shard's SHA-256 and compare it with the index.

    Raises:
        FileNotFoundError: The directory, its index, its vocabulary or a shard is missing.
        ValueError: The index is not a prepared corpus's, is of another kind, or a shard's size or checksum
            differs from the index (a corrupted or half-written file).
    """

    def __init__(self, directory: str | os.PathLike[str], kind: str = "lm", verify: bool = False,
                 release_bytes: int = RELEASE_BYTES) -> None:
        self.directory = Path(directory)
        self.release_bytes, self._read_since_release = release_bytes, 0
        self.index = read_index(self.directory, kind)
        self.vocab = Vocab.load(self.directory / VOCAB)
        if len(self.vocab) != self.index["vocab_size"]:
            raise ValueError(f"{self.directory / VOCAB}: holds {len(self.vocab)} tokens; its index says "
                             f"{self.index['vocab_size']}: prepare the directory again")
        self.dtype = np.dtype(self.index["dtype"])
        self.settings: dict[str, Any] = self.index["settings"]
        self._maps: list[np.memmap] = []
        sizes = []
        for entry in self.index["shards"]:
            path = self.directory / entry["name"]
            check_shard(path, entry, self.dtype, verify)
            self._maps.append(np.memmap(path, dtype=self.dtype, mode="r"))
            sizes.append(entry["tokens"])
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])  # shard i holds [starts[i], starts[i+1])
        self.num_tokens = int(self._starts[-1])

    def __len__(self) -> int:
        return self.num_tokens

    def read(self, start: int, stop: int) -> np.ndarray:
        """Ids ``[start, stop)`` of the whole sequence (across shard boundaries), as a new int64 array."""
        if not 0 <= start <= stop <= self.num_tokens:
            raise ValueError(f"{self.directory}: range [{start}, {stop}) outside the corpus's {self.num_tokens} ids")
        out = np.empty(stop - start, dtype=np.int64)
        shard = int(np.searchsorted(self._starts, start, side="right")) - 1
        filled = 0
        while filled < stop - start:
            begin = start + filled - int(self._starts[shard])
            take = min(stop - start - filled, int(self._starts[shard + 1]) - (start + filled))
            out[filled:filled + take] = self._maps[shard][begin:begin + take]
            filled, shard = filled + take, shard + 1
        self._read_since_release += out.size * self.dtype.itemsize
        if self._read_since_release >= self.release_bytes:
            self.release()
        return out

    def release(self) -> None:
        """Drop the pages read so far from this process's resident memory (``MADV_DONTNEED``; data is unchanged)."""
        self._read_since_release = 0
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        for mapped in self._maps:
            handle = getattr(mapped, "_mmap", None)
            if handle is not None:
                handle.madvise(mmap.MADV_DONTNEED)

    def rows(self, starts: Sequence[int], width: int) -> np.ndarray:
        """``(len(starts), width)`` int64: row ``i`` is ids ``[starts[i], starts[i] + width)``."""
        return np.stack([self.read(start, start + width) for start in starts]) if len(starts) else \
            np.empty((0, width), dtype=np.int64)


def check_shard(path: Path, entry: dict[str, Any], dtype: np.dtype, verify: bool) -> None:
    """A FileNotFoundError / ValueError naming ``path`` when it is missing, of the wrong size, or (``verify``)
    its SHA-256 differs from the index's."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: shard listed in {path.parent / INDEX} is missing; prepare the directory "
                                "again (a re-run keeps the finished shards)")
    expected = entry["tokens"] * dtype.itemsize
    if path.stat().st_size != expected:
        raise ValueError(f"{path}: {path.stat().st_size} bytes; the index says {entry['tokens']} {dtype.name} ids "
                         f"({expected} bytes): the shard is truncated or corrupted, prepare the directory again")
    if verify and file_sha256(path) != entry["sha256"]:
        raise ValueError(f"{path}: SHA-256 differs from the index's: the shard is corrupted; delete it and prepare "
                         "the directory again")


def read_index(directory: Path, kind: str) -> dict[str, Any]:
    """``directory/index.json``, checked: the format, the kind, and the entries every reader relies on."""
    path = directory / INDEX
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory (expected a folder written by 'rnnkit prepare')")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; {directory} is not a finished 'rnnkit prepare' folder (run "
                                "prepare again: it resumes)")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a prepared corpus's index: not JSON ({error})") from None
    if not isinstance(index, dict) or index.get("format") != SHARD_FORMAT:
        raise ValueError(f"{path}: not a prepared corpus's index: expected \"format\": {SHARD_FORMAT!r}")
    if index.get("version") != SHARD_VERSION:
        raise ValueError(f"{path}: unsupported version {index.get('version')!r}; expected {SHARD_VERSION}")
    if index.get("kind") != kind:
        raise ValueError(f"{path}: a corpus prepared for {index.get('kind')!r}; expected one for {kind!r} "
                         f"('rnnkit prepare {kind}')")
    shards = index.get("shards")
    valid = isinstance(shards, list) and all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str) and "/" not in entry["name"]
        and isinstance(entry.get("tokens"), int) and entry["tokens"] > 0 and isinstance(entry.get("sha256"), str)
        for entry in shards)
    if not valid or index.get("dtype") not in ("<u2", "<u4") or not isinstance(index.get("vocab_size"), int) \
            or not isinstance(index.get("settings"), dict):
        raise ValueError(f"{path}: malformed index: expected shards [{{name, tokens, sha256}}], dtype, vocab_size "
                         "and settings")
    return index
