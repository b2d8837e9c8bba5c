"""Sentence pairs for translation: a TSV of pairs, or two line-aligned files (plain or ``.gz``).

* TSV (the Tatoeba / manythings.org format): ``source<TAB>target[<TAB>anything else]`` per line; further
  columns (an attribution) are ignored.
* Parallel files (the Multi30k format): ``train.de.gz`` and ``train.en.gz``, line i of one the translation of
  line i of the other; :func:`parallel_paths` finds ``PREFIX.LANG`` or ``PREFIX.LANG.gz``.

An empty sentence is an error naming the file and line, unless ``skip_empty`` drops such pairs; files of
different line counts are an error giving both counts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .text import read_lines

__all__ = ["SentencePair", "parallel_paths", "read_parallel", "read_pairs", "read_tsv_pairs"]


class SentencePair(NamedTuple):
    source: str
    target: str
    line: int  # 1-based line number in the file(s)


def _empty_error(path: Path, line: int, side: str) -> ValueError:
    return ValueError(f"{path} line {line}: empty {side} sentence; expected text on every line "
                      "(pass --skip-empty to drop such pairs)")


def read_tsv_pairs(path: str | os.PathLike[str], encoding: str = "utf-8",
                   skip_empty: bool = False) -> list[SentencePair]:
    """Pairs from the first two tab-separated columns of each non-blank line of ``path``."""
    path = Path(path)
    pairs = []
    for number, line in enumerate(read_lines(path, encoding), 1):
        if not line.strip():
            if skip_empty:
                continue
            raise ValueError(f"{path} line {number}: blank line; expected 'source<TAB>target' "
                             "(pass --skip-empty to drop such lines)")
        columns = line.split("\t")
        if len(columns) < 2:
            raise ValueError(f"{path} line {number}: {len(columns)} tab-separated column; expected at least 2 "
                             f"(source<TAB>target); got {line[:60]!r}")
        source, target = columns[0].strip(), columns[1].strip()
        for side, text in (("source", source), ("target", target)):
            if not text and not skip_empty:
                raise _empty_error(path, number, side)
        if source and target:
            pairs.append(SentencePair(source, target, number))
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs; expected lines of 'source<TAB>target'")
    return pairs


def read_parallel(source_path: str | os.PathLike[str], target_path: str | os.PathLike[str],
                  encoding: str = "utf-8", skip_empty: bool = False) -> list[SentencePair]:
    """Pairs from two line-aligned files: line i of ``source_path`` with line i of ``target_path``."""
    source_path, target_path = Path(source_path), Path(target_path)
    sources, targets = read_lines(source_path, encoding), read_lines(target_path, encoding)
    if len(sources) != len(targets):
        raise ValueError(f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)}; expected "
                         "line-aligned parallel files with the same number of lines")
    pairs = []
    for number, (source, target) in enumerate(zip(sources, targets, strict=True), 1):
        source, target = source.strip(), target.strip()
        if not source or not target:
            if skip_empty:
                continue
            raise _empty_error(source_path if not source else target_path, number, "source" if not source else "target")
        pairs.append(SentencePair(source, target, number))
    if not pairs:
        raise ValueError(f"{source_path}, {target_path}: no sentence pairs")
    return pairs


def parallel_paths(prefix: str | os.PathLike[str], source_lang: str, target_lang: str) -> tuple[Path, Path]:
    """``PREFIX.SRC`` and ``PREFIX.TGT``, each with or without ``.gz``; FileNotFoundError naming what was tried."""
    found = []
    for lang in (source_lang, target_lang):
        candidates = [Path(f"{prefix}.{lang}"), Path(f"{prefix}.{lang}.gz")]
        existing = [path for path in candidates if path.is_file()]
        if not existing:
            raise FileNotFoundError(f"{prefix}: no file {candidates[0]} or {candidates[1]}; expected line-aligned "
                                    f"parallel files PREFIX.{source_lang} and PREFIX.{target_lang} (optionally .gz)")
        found.append(existing[0])
    return found[0], found[1]


def read_pairs(path: str | os.PathLike[str], source_lang: str | None = None, target_lang: str | None = None,
               encoding: str = "utf-8", skip_empty: bool = False) -> list[SentencePair]:
    """A TSV of pairs (no languages given) or the parallel files ``PATH.SRC`` / ``PATH.TGT``."""
    if (source_lang is None) != (target_lang is None):
        raise ValueError(f"source_lang, target_lang: got {source_lang!r}, {target_lang!r}; expected both (parallel "
                         "files PREFIX.SRC, PREFIX.TGT) or neither (a TSV of pairs)")
    if source_lang is None:
        return read_tsv_pairs(path, encoding, skip_empty)
    return read_parallel(*parallel_paths(path, source_lang, target_lang), encoding=encoding, skip_empty=skip_empty)
