"""CoNLL-style token/tag columns: one token per line, a blank line between sentences, read as a stream.

::

    -DOCSTART- -X- -X- O          skipped (a document boundary, not a sentence)
                                   blank: ends the sentence so far
    EU NNP B-NP B-ORG             token in one column, its tag in another (default: first and last column)
    rejects VBZ B-VP O
    ...

Columns are split on any whitespace (``separator="whitespace"``, as CoNLL-2003) or on tabs only
(``separator="tab"``, where a token may hold a space). Column indices count from 0; a negative index counts
from the end (``-1``: the last column). Every token line of a file must have as many columns as the file's first
token line; a line with a token but no tag (one column where two are needed) is a ``ValueError`` naming the file
and line, as is any other malformed line. Plain files and ``.gz`` are read one line at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .labelled import numbered_lines

__all__ = ["DOCSTART", "SEPARATORS", "TaggedSentence", "read_conll"]

DOCSTART = "-DOCSTART-"
SEPARATORS = ("whitespace", "tab")


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its tokens, their tags (None where only tokens are read), the file and each token's line."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None
    path: str
    lines: tuple[int, ...]

    @property
    def where(self) -> str:
        """``"train.conll line 12"``: the sentence's first line."""
        return f"{self.path} line {self.lines[0]}"

    def where_token(self, index: int) -> str:
        """The file and line of token ``index``."""
        return f"{self.path} line {self.lines[index]}"


def _split(line: str, separator: str) -> list[str]:
    if separator == "tab":
        return [column.strip() for column in line.rstrip("\r\n").split("\t")]
    return line.split()


def _needed(column: int) -> int:
    """How many columns an index needs: 3 for index 2, 2 for index -2."""
    return column + 1 if column >= 0 else -column


def _read_file(path: Path, token_column: int, tag_column: int | None, separator: str,
               encoding: str) -> Iterator[TaggedSentence]:
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width: tuple[int, int] | None = None  # (columns, line) of the file's first token line

    def sentence() -> TaggedSentence:
        return TaggedSentence(tuple(tokens), tuple(tags) if tag_column is not None else None, str(path),
                              tuple(lines))

    for number, line in numbered_lines(path, encoding):
        columns = _split(line, separator) if line.strip() else []
        if not columns or columns[0] == DOCSTART:
            if tokens:
                yield sentence()
                tokens, tags, lines = [], [], []
            continue
        if width is None:
            needed = max(_needed(token_column), _needed(tag_column) if tag_column is not None else 0)
            if tag_column is not None:
                needed = max(needed, 2)
            if len(columns) < needed:
                if tag_column is not None and len(columns) == 1:
                    raise ValueError(f"{path} line {number}: got a token {columns[0]!r} but no tag; expected "
                                     f"token and tag columns (at least {needed})")
                raise ValueError(f"{path} line {number}: got {len(columns)} columns; expected at least {needed} for "
                                 f"token column {token_column} and tag column {tag_column}")
            if tag_column is not None and token_column % len(columns) == tag_column % len(columns):
                raise ValueError(f"{path} line {number}: token column {token_column} and tag column {tag_column} are "
                                 f"the same column of {len(columns)}; expected two different columns")
            width = (len(columns), number)
        elif len(columns) != width[0]:
            what = (f"a token {columns[0]!r} but no tag" if len(columns) == 1 and tag_column is not None
                    else f"{len(columns)} columns")
            raise ValueError(f"{path} line {number}: got {what}; expected {width[0]} columns as on line {width[1]}")
        token = columns[token_column]
        if not token:  # an empty field between tabs
            raise ValueError(f"{path} line {number}: the token (column {token_column}) is empty; expected a token")
        tokens.append(token)
        if tag_column is not None:
            if not columns[tag_column]:
                raise ValueError(f"{path} line {number}: got a token {token!r} but no tag (column {tag_column} is "
                                 "empty); expected a tag")
            tags.append(columns[tag_column])
        lines.append(number)
    if tokens:
        yield sentence()


def read_conll(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], token_column: int = 0,
               tag_column: int | None = -1, separator: str = "whitespace",
               encoding: str = "utf-8") -> Iterator[TaggedSentence]:
    """Sentences of one or more CoNLL-style files, in order, one at a time.

    Args:
        paths: a file or files (``.gz`` decompressed on the fly).
        token_column: index of the token column (0: the first; negative: from the end).
        tag_column: index of the tag column (-1: the last); None reads tokens only (``tags`` is None).
        separator: ``"whitespace"`` (any run of spaces and tabs) or ``"tab"``.
        encoding: text encoding of the files.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: For a line with a token but no tag, a line whose column count differs from the file's first
            token line, too few columns for the chosen ones, an undecodable line or a broken ``.gz``; each names
            the file and line.
    """
    if separator not in SEPARATORS:
        raise ValueError(f"separator: got {separator!r}; expected one of {', '.join(map(repr, SEPARATORS))}")
    for name, value in (("token_column", token_column), ("tag_column", tag_column)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name}: got {value!r}; expected a column index (0 the first, -1 the last)")
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    for path in paths:
        yield from _read_file(Path(path), token_column, tag_column, separator, encoding)
