"""``rnnkit prepare lm``: text files to token-id shards on disk, in two streaming passes, resumable, in parallel.

Pass 1 counts the tokens of every file (exactly, spilling to disk: :mod:`rnnkit.data.vocab_count`) and makes the
vocabulary ``train lm`` would build from the same text (skipped with a given vocabulary, ``--vocab-from``).
Pass 2 encodes each file into shards of about ``shard_tokens`` ids (uint16, or uint32 past 65,536 tokens); files
are shared among ``workers`` processes. The ids are :func:`~rnnkit.data.corpus.encode_text` of each file's text,
files in the order given: the same tokenizer, vocabulary order and specials as in memory.

Resuming: everything is written to a temporary name, flushed and renamed, and a shard counts only once its record
(tokens, SHA-256, the input byte offset where it ends) is written after it; a re-run with the same inputs and
settings keeps the finished pieces (counted files, recorded shards) and starts each file again after its last
recorded shard, so a half-written shard is never taken. ``index.json`` is written last: its presence means done.
Progress (tokens, tokens/s) goes to stderr.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..text import Vocab
from ..train.atomic import atomic_write_json, fsync_directory
from . import vocab_count
from .chunk_ids import chunk_encoder
from .corpus import EOS, CorpusConfig
from .shards import INDEX, SHARD_FORMAT, SHARD_VERSION, STATE, VOCAB, ids_dtype
from .text_chunks import CHUNK_BYTES, check_chunk_encoding, iter_chunks
from .vocab_count import CountSpiller, vocab_from_runs

__all__ = ["SHARD_TOKENS", "WORK", "claim_directory", "describe_file", "expand_inputs", "prepare_lm",
           "recorded_shards", "vocab_digest", "write_shard"]

SHARD_TOKENS = 1 << 24  # ids per shard (32 MiB at uint16): small enough to redo, large enough to be few
WORK = ".work"  # records and count runs while preparing; removed once index.json is written


def expand_inputs(patterns: Sequence[str | os.PathLike[str]], flag: str = "--data") -> list[Path]:
    """Paths and glob patterns to the files they name, in the order given (a pattern's matches sorted).

    Raises:
        FileNotFoundError: A path that does not exist.
        ValueError: No pattern at all, a pattern that matches no file, or a directory.
    """
    if not patterns:
        raise ValueError(f"{flag}: missing; expected text files or glob patterns")
    files: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if glob.has_magic(text):
            matches = sorted(Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file())
            if not matches:
                raise ValueError(f"{flag} {text}: the pattern matches no file")
            files.extend(matches)
        else:
            path = Path(text)
            if not path.exists():
                raise FileNotFoundError(f"{flag} {path}: no such file")
            if path.is_dir():
                raise ValueError(f"{flag} {path}: is a directory; expected text files (or a glob such as "
                                 f"'{path}/*.txt')")
            files.append(path)
    return list(dict.fromkeys(files))


def prepare_lm(data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], corpus: CorpusConfig,
               vocab: Vocab | None = None, workers: int = 1, shard_tokens: int = SHARD_TOKENS,
               quiet: bool = False, vocab_from: str | None = None, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """Prepare text files for ``train lm --data OUT`` (see the module docstring); returns the index.

    Args:
        data: Text files and glob patterns, in corpus order.
        out: The directory to write (created; an unfinished one with the same inputs and settings is resumed).
        corpus: Tokenisation (level, lower) and vocabulary (min_freq, max_vocab) settings, as ``train lm``'s.
        vocab: A vocabulary to use instead of counting one (another run's or prepared directory's).
        workers: Processes sharing the files.
        shard_tokens: About how many ids a shard holds (shards end after whole lines).
        quiet: No progress on stderr.
        vocab_from: Where ``vocab`` came from, recorded in the index.
        chunk_bytes: About how many bytes of text are read at a time (a shard ends after a whole chunk).
    """
    if corpus.subword != "none":
        raise ValueError(f"--tokenizer {corpus.subword}: prepared corpora hold word or character ids; subword "
                         "pieces are not supported by 'rnnkit prepare'")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers: got {workers!r}; expected a positive integer")
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int) or shard_tokens < 1:
        raise ValueError(f"--shard-tokens: got {shard_tokens!r}; expected a positive integer")
    check_chunk_encoding(corpus.encoding)
    files = expand_inputs(data)
    out = Path(out)
    settings = {"level": corpus.level, "lower": corpus.lower, "min_freq": corpus.min_freq,
                "max_vocab": corpus.max_vocab, "encoding": corpus.encoding, "vocab_from": vocab_from}
    state = {"files": [describe_file(path) for path in files], "settings": settings, "shard_tokens": shard_tokens,
             "vocab": None if vocab is None else vocab_digest(vocab)}
    if claim_directory(out, state):
        return json.loads((out / INDEX).read_text(encoding="utf-8"))
    work = out / WORK
    work.mkdir(exist_ok=True)
    started = time.perf_counter()
    context = _Context(out, files, corpus, shard_tokens, workers, quiet, chunk_bytes)
    if vocab is None:
        vocab = _vocabulary(context)
    elif not (out / VOCAB).is_file():
        vocab.save(out / VOCAB)
    total = sum(json.loads((work / f"count-{number:05d}.done.json").read_text())["tokens"]
                for number in range(len(files))) if (work / "count-00000.done.json").is_file() else None
    dtype = ids_dtype(len(vocab))
    records = _run_jobs(context, _write_file, "prepare: ids", total, (dtype.str,))
    index = {"format": SHARD_FORMAT, "version": SHARD_VERSION, "kind": "lm", "settings": settings,
             "vocab_size": len(vocab), "dtype": dtype.str, "tokens": sum(r["tokens"] for r in records),
             "files": [{**describe_file(path), "tokens": r["tokens"], "shards": [s["name"] for s in r["shards"]]}
                       for path, r in zip(files, records, strict=True)],
             "shards": [shard for record in records for shard in record["shards"]],
             "seconds": round(time.perf_counter() - started, 3)}
    atomic_write_json(out / INDEX, index)
    shutil.rmtree(work, ignore_errors=True)
    return index


def describe_file(path: Path) -> dict[str, Any]:
    """What a re-run compares to know the input is unchanged: absolute path, size, modification time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def vocab_digest(vocab: Vocab) -> str:
    """SHA-256 of a vocabulary's specials and tokens (a given vocabulary, recorded in the preparation's state)."""
    return hashlib.sha256(json.dumps([list(vocab.specials), vocab.itos]).encode("utf-8")).hexdigest()


def claim_directory(out: Path, state: dict[str, Any]) -> bool:
    """Make ``out`` this preparation's folder; True when it is finished already (same inputs and settings)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; expected a new or a prepared directory")
    recorded = out / STATE
    if recorded.is_file():
        if json.loads(recorded.read_text(encoding="utf-8")) != state:
            raise ValueError(f"--out {out}: holds a preparation of other files or settings; choose another --out or "
                             "delete it")
        return (out / INDEX).is_file()
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"--out {out}: exists and is not empty; expected a new directory (or one 'rnnkit prepare' "
                         "wrote, to resume)")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(recorded, state)
    return False


@dataclasses.dataclass(frozen=True)
class _Context:
    out: Path
    files: list[Path]
    corpus: CorpusConfig
    shard_tokens: int
    workers: int
    quiet: bool
    chunk_bytes: int


_PROGRESS: Any = None  # a shared counter of tokens done, set in each worker process


def _init_worker(counter: Any) -> None:
    global _PROGRESS
    _PROGRESS = counter


def _advance(count: int) -> None:
    if _PROGRESS is not None:
        with _PROGRESS.get_lock():
            _PROGRESS.value += count


def _run_jobs(context: _Context, job: Callable[..., dict[str, Any]], label: str, total: int | None,
              extra: tuple[Any, ...]) -> list[dict[str, Any]]:
    """``job(context, number, *extra)`` for every file, in ``context.workers`` processes, with a progress bar."""
    counter = multiprocessing.get_context("fork").Value("q", 0)
    bar = tqdm(total=total, desc=label, unit="tok", unit_scale=True, file=sys.stderr, disable=context.quiet,
               mininterval=0.5, smoothing=0.1)
    numbers = range(len(context.files))
    try:
        if context.workers == 1 or len(context.files) == 1:
            _init_worker(counter)
            results = []
            for number in numbers:
                results.append(job(context, number, *extra, progress=lambda: bar.update(counter.value - bar.n)))
            return results
        with ProcessPoolExecutor(min(context.workers, len(context.files)), multiprocessing.get_context("fork"),
                                 initializer=_init_worker, initargs=(counter,)) as pool:
            futures = [pool.submit(job, context, number, *extra) for number in numbers]
            while not all(future.done() for future in futures):
                time.sleep(0.2)
                bar.update(counter.value - bar.n)
            return [future.result() for future in futures]
    finally:
        bar.update(counter.value - bar.n)
        bar.close()
        _init_worker(None)


def _lowered(texts: Iterable[tuple[str, int]], lower: bool) -> Iterable[tuple[str, int]]:
    return ((text.lower(), end) for text, end in texts) if lower else texts


def _count_file(context: _Context, number: int, progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Pass 1 for file ``number``: its counts spilled to sorted runs; a done record (a re-run skips the file)."""
    work = context.out / WORK
    done = work / f"count-{number:05d}.done.json"
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        _advance(record["tokens"])
        return record
    spiller, tokens = CountSpiller(work / f"count-{number:05d}", vocab_count.SPILL_DISTINCT), 0
    texts = iter_chunks(context.files[number], context.corpus.encoding, 0, context.chunk_bytes)
    for text, _ in _lowered(texts, context.corpus.lower):
        if context.corpus.level == "char":
            spiller.add(text)
            added = len(text)
        else:  # the words of every line, and one <eos> per line that has words (str.split: the same whitespace)
            words = text.split()
            lines = sum(1 for line in text.split("\n") if line.strip())
            spiller.add(words, {EOS: lines} if lines else None)
            added = len(words) + lines
        tokens += added
        _advance(added)
        if progress is not None:
            progress()
    record = {"runs": [path.name for path in spiller.finish()], "tokens": tokens}
    atomic_write_json(done, record)
    return record


def _vocabulary(context: _Context) -> Vocab:
    """Pass 1 (unless ``vocab.json`` is there from an earlier run): count every file and build the vocabulary."""
    if (context.out / VOCAB).is_file():
        return Vocab.load(context.out / VOCAB)
    records = _run_jobs(context, _count_file, "prepare: count", None, ())
    runs = [context.out / WORK / name for record in records for name in record["runs"]]
    try:
        vocab = vocab_from_runs(runs, context.corpus.specials, context.corpus.min_freq, context.corpus.max_vocab)
    except ValueError as error:
        raise ValueError(f"--data: {error}") from None
    vocab.save(context.out / VOCAB)
    for path in runs:
        path.unlink()
    return vocab


def _write_file(context: _Context, number: int, dtype_name: str,
                progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Pass 2 for file ``number``: its shards, resuming after the last recorded one; its done record."""
    work, dtype = context.out / WORK, np.dtype(dtype_name)
    done = work / f"file-{number:05d}.done.json"
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        _advance(record["tokens"])
        return record
    shards = recorded_shards(context.out, number, dtype)
    _advance(sum(shard["tokens"] for shard in shards))
    encode = chunk_encoder(Vocab.load(context.out / VOCAB), context.corpus)
    start = shards[-1]["end"] if shards else 0  # -1: the file's last shard was written
    pending: list[np.ndarray] = []
    buffered = 0
    texts = iter_chunks(context.files[number], context.corpus.encoding, start, context.chunk_bytes)
    chunks = _lowered(texts, context.corpus.lower)
    for text, end in chunks if start >= 0 else ():
        ids = encode(text)
        pending.append(ids.astype(dtype))  # held at 2 (or 4) bytes an id until the shard is full
        buffered += len(ids)
        _advance(len(ids))
        if progress is not None:
            progress()
        if buffered >= context.shard_tokens:
            shards.append(write_shard(context.out, number, len(shards), pending, dtype, end))
            pending, buffered = [], 0
    if buffered:
        shards.append(write_shard(context.out, number, len(shards), pending, dtype, -1))
    record = {"tokens": sum(shard["tokens"] for shard in shards),
              "shards": [{key: shard[key] for key in ("name", "tokens", "sha256")} for shard in shards]}
    atomic_write_json(done, record)
    return record


def recorded_shards(out: Path, number: int, dtype: np.dtype) -> list[dict[str, Any]]:
    """File ``number``'s shards finished by an earlier run, in order, while their records and sizes agree."""
    shards = []
    while True:
        name = f"shard-{number:05d}-{len(shards):05d}.bin"
        record_path = out / WORK / f"{name}.json"
        if not record_path.is_file():
            return shards
        record = json.loads(record_path.read_text(encoding="utf-8"))
        path = out / name
        if not path.is_file() or path.stat().st_size != record["tokens"] * dtype.itemsize:
            return shards  # rewritten from the previous shard's end on
        shards.append(record)


def write_shard(out: Path, number: int, part: int, pieces: list[np.ndarray], dtype: np.dtype,
                 end: int) -> dict[str, Any]:
    """Write one shard (temporary file, fsync, rename), then its record; ``end``: input offset after it."""
    name = f"shard-{number:05d}-{part:05d}.bin"
    data = np.concatenate(pieces).astype(dtype, copy=False).tobytes()
    temporary = out / WORK / f"{name}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, out / name)
    fsync_directory(out)
    record = {"name": name, "tokens": len(data) // dtype.itemsize, "sha256": hashlib.sha256(data).hexdigest(),
              "end": end}
    atomic_write_json(out / WORK / f"{name}.json", record)
    return record
