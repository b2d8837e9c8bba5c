"""CoNLL-U (Universal Dependencies) files: the word forms and one tag column of each sentence, read as a stream.

::

    # sent_id = answers-20111108104724AAuBUR7_ans-0001      comment: skipped
    # text = Don't leave it.
    1-2   Don't  _      _     _    _  _  _      _  _      multiword-token range: skipped (its words follow)
    1     Do     do     AUX   VBP  ...                    a word: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC
    2     n't    not    PART  RB   ...
    3     leave  leave  VERB  VB   ...
    3.1   leave  leave  VERB  VB   ...                    empty node (enhanced graphs): skipped
                                                          blank: ends the sentence

Every word line has exactly 10 tab-separated columns and an integer ID; the word's token is FORM and its tag is
UPOS (``tag="upos"``) or XPOS (``tag="xpos"``). A line of another shape is a ``ValueError`` naming the file and
line. Plain files and ``.gz`` are read one line at a time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

from .conll import TaggedSentence
from .labelled import numbered_lines

__all__ = ["COLUMNS", "TAG_COLUMNS", "looks_like_conllu", "read_conllu"]

COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
TAG_COLUMNS = {"upos": 3, "xpos": 4}
WORD_ID = re.compile(r"[1-9][0-9]*")
SKIPPED_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*|[0-9]+\.[1-9][0-9]*")  # ranges 3-4, empty nodes 8.1


def looks_like_conllu(path: str | os.PathLike[str], encoding: str = "utf-8") -> bool:
    """True when the first line of ``path`` that is neither blank nor a ``#`` comment has 10 tab-separated columns
    and an ID that is a word, a range or an empty node (how UD files look; a CoNLL-2003 file never does)."""
    with closing(numbered_lines(Path(path), encoding)) as lines:
        for _, line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            columns = line.rstrip("\r\n").split("\t")
            return len(columns) == len(COLUMNS) and bool(WORD_ID.fullmatch(columns[0])
                                                          or SKIPPED_ID.fullmatch(columns[0]))
    return False


def _read_file(path: Path, tag: str | None, encoding: str) -> Iterator[TaggedSentence]:
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    tag_index = TAG_COLUMNS[tag] if tag is not None else None
    for number, line in numbered_lines(path, encoding):
        if not line.strip():
            if tokens:
                yield TaggedSentence(tuple(tokens), tuple(tags) if tag is not None else None, str(path), tuple(lines))
                tokens, tags, lines = [], [], []
            continue
        if line.startswith("#"):
            continue
        columns = line.rstrip("\r\n").split("\t")
        if len(columns) != len(COLUMNS):
            raise ValueError(f"{path} line {number}: got {len(columns)} tab-separated columns; expected "
                             f"{len(COLUMNS)} ({' '.join(COLUMNS)}) in a CoNLL-U word line")
        if SKIPPED_ID.fullmatch(columns[0]):
            continue
        if not WORD_ID.fullmatch(columns[0]):
            raise ValueError(f"{path} line {number}: got ID {columns[0]!r}; expected a word number (1, 2, ...), a "
                             "range (3-4) or an empty node (8.1)")
        if not columns[1]:
            raise ValueError(f"{path} line {number}: the FORM column is empty; expected a token")
        tokens.append(columns[1])
        if tag_index is not None:
            value = columns[tag_index]
            if not value or value == "_":
                raise ValueError(f"{path} line {number}: the {COLUMNS[tag_index]} column is {value!r}; expected a "
                                 "tag")
            tags.append(value)
        lines.append(number)
    if tokens:
        yield TaggedSentence(tuple(tokens), tuple(tags) if tag is not None else None, str(path), tuple(lines))


def read_conllu(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], tag: str | None = "upos",
                encoding: str = "utf-8") -> Iterator[TaggedSentence]:
    """Sentences of one or more CoNLL-U files, in order, one at a time (see the module docstring).

    Args:
        paths: a file or files (``.gz`` decompressed on the fly).
        tag: ``"upos"`` or ``"xpos"``: the tag column; None reads the forms only (``tags`` is None).
        encoding: text encoding of the files.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: For a line that is not 10 tab-separated columns, an ID that is neither a word, a range nor an
            empty node, an empty FORM or a ``_`` tag, each naming the file and line; an unknown ``tag``.
    """
    if tag is not None and tag not in TAG_COLUMNS:
        raise ValueError(f"tag: got {tag!r}; expected one of {', '.join(map(repr, TAG_COLUMNS))}")
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    for path in paths:
        yield from _read_file(Path(path), tag, encoding)
