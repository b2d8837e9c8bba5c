"""Labelled text for classification: files to ``(text, label)`` records, read as streams.

Four layouts, chosen by :func:`detect_format` or by name:

* ``"table"``: CSV, TSV or JSONL (``.csv``, ``.tsv``, ``.jsonl``, each optionally ``.gz``) with a text column
  and a label column, chosen by name (default ``text`` and ``label``).
* ``"lines"``: one example per line, the label first and the text after the first space (``1 a stirring ,
  funny ...``), as the SST files of Kim (2014) and fastText's ``__label__pos text``.
* ``"files"``: one file per class, one example per non-blank line (``rt-polarity.pos``, ``rt-polarity.neg``);
  the label is the part of the file names that differs: the last suffix when the names share a stem
  (``pos``, ``neg``), else the name without its suffix (``spam.txt`` -> ``spam``).
* ``"folders"``: a folder per class, one example per file (``bbcsport/tennis/001.txt``), in a directory or a
  ``.zip`` archive. Wrapper folders holding a single folder are stepped through (``bbcsport/``), files beside
  the class folders (``README.TXT``) are not examples, and hidden files and ``__MACOSX/`` are skipped.

Every record knows where it came from (``where``: ``"reviews.csv line 12"``), so later checks (an unknown
label, an empty text) can name the file and line; a malformed record is a ``ValueError`` naming them here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..limits import check_symlink, read_capped_lines
from .archive import ArchiveReader

__all__ = ["FORMATS", "LabelledText", "detect_format", "read_labelled", "read_texts"]

FORMATS = ("auto", "table", "lines", "files", "folders")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


@dataclass(frozen=True)
class LabelledText:
    """One example: its text, its label (None where only texts are read), and where it came from."""

    text: str
    label: str | None
    where: str


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"encoding: unknown text encoding {encoding!r}; expected a codec name such as 'utf-8' or "
                         "'cp1252'") from None


def _suffix(path: Path) -> str:
    """The suffix that tells the format, under a ``.gz``: ``data.tsv.gz`` -> ``.tsv``."""
    return Path(path.stem).suffix.lower() if path.suffix.lower() == ".gz" else path.suffix.lower()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a file")


def _decode(data: bytes, codec: str, where: str, encoding: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        raise ValueError(f"{where}: invalid {encoding} at byte {error.start} of the record; pass --encoding to read "
                         "it with another encoding, e.g. --encoding cp1252") from None


def numbered_lines(path: Path, encoding: str = "utf-8", keep_ends: bool = False) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file (``.gz`` decompressed), one at a time, each decoded on its own.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For a directory, an unknown encoding, or a line that is not valid in ``encoding`` (naming
            the line).
    """
    path, codec = Path(path), _codec(encoding)
    _check_file(path)
    opener: Callable = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        try:
            for number, raw in enumerate(read_capped_lines(handle, str(path)), 1):  # a 50 MB line: refused
                line = _decode(raw, codec, f"{path} line {number}", encoding)
                if number == 1:
                    line = line.removeprefix("\ufeff")
                yield number, line if keep_ends else line.rstrip("\r\n")
        except (OSError, EOFError) as error:  # a broken .gz
            raise ValueError(f"{path}: cannot be read: {error}") from None


def _table_rows(path: Path, encoding: str, columns: dict[str, str]) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` of a CSV, TSV or JSONL file; the line is where the record starts.

    ``columns`` maps what a column holds (``"text"``, ``"label"``) to its name; a CSV/TSV header without one of
    them is an error naming the header line.
    """
    suffix = _suffix(path)
    if suffix == ".jsonl":
        for number, line in numbered_lines(path, encoding):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number}: not valid JSON ({error.msg} at column {error.colno}); "
                                 "expected one JSON object per line") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path} line {number}: got a JSON {type(row).__name__}; expected an object")
            yield number, row
        return
    lines = numbered_lines(path, encoding, keep_ends=True)
    current = [0]  # the physical line the csv module last asked for

    def text_lines() -> Iterator[str]:
        for number, line in lines:
            current[0] = number
            yield line

    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {"strict": True}
    reader = csv.reader(text_lines(), **options)
    header: list[str] | None = None
    previous_end = 0
    try:
        for fields in reader:
            start, previous_end = previous_end + 1, current[0]  # a quoted field may span lines
            if not fields or not any(field.strip() for field in fields):
                continue
            if header is None:
                header = [field.strip() for field in fields]
                for what, name in columns.items():
                    if name not in header:
                        raise ValueError(f"{path} line {start}: no {what} column {name!r} in the header (found "
                                         f"{', '.join(map(repr, header))}); expected --{what}-column NAME naming "
                                         "one of them")
                continue
            if len(fields) != len(header):
                raise ValueError(f"{path} line {start}: {len(fields)} fields; expected {len(header)} as in the "
                                 f"header ({', '.join(map(repr, header))})")
            yield start, dict(zip(header, fields, strict=True))
    except csv.Error as error:
        raise ValueError(f"{path} line {current[0]}: malformed {suffix[1:].upper()}: {error}") from None
    if header is None:
        raise ValueError(f"{path}: no header line; expected a first line naming the columns")


def _field(row: dict, column: str, where: str, what: str) -> str:
    if column not in row:
        keys = ", ".join(repr(name) for name in row)
        raise ValueError(f"{where}: no {what} key {column!r} (found {keys}); expected --{what}-column NAME naming "
                         "one of them")
    value = row[column]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{where}: the {what} {column!r} is {value!r}; expected a string")
    return str(value)


def read_table(path: str | os.PathLike[str], text_column: str = "text", label_column: str | None = "label",
               encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Records of a CSV, TSV or JSONL file; ``label_column=None`` reads texts only.

    Raises:
        ValueError: For a missing column (naming the columns found), a row with the wrong number of fields, a
            line that is not JSON, or a text or label that is not a string; each names the file and line.
    """
    path = Path(path)
    columns = {"text": text_column} | ({} if label_column is None else {"label": label_column})
    for number, row in _table_rows(path, encoding, columns):
        where = f"{path} line {number}"
        text = _field(row, text_column, where, "text")
        label = None if label_column is None else _field(row, label_column, where, "label").strip()
        yield LabelledText(text, label, where)


def read_lines_with_labels(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Records of a file with ``LABEL TEXT`` per line (blank lines skipped)."""
    path = Path(path)
    for number, line in numbered_lines(path, encoding):
        if not line.strip():
            continue
        label, _, text = line.strip().partition(" ")
        if not text.strip():
            raise ValueError(f"{path} line {number}: got {line.strip()[:40]!r}, only one word; expected a label, "
                             "a space and the text (or pass --format for another layout)")
        yield LabelledText(text, label, f"{path} line {number}")


def class_labels(paths: Sequence[Path]) -> list[str]:
    """The label of each one-file-per-class file: the differing suffix, or the name without its suffix."""
    stems = {path.name.rsplit(".", 1)[0] for path in paths}
    if len(stems) == 1 and all("." in path.name for path in paths):
        labels = [path.name.rsplit(".", 1)[1] for path in paths]
    else:
        labels = [path.name.rsplit(".", 1)[0] if "." in path.name else path.name for path in paths]
    if len(set(labels)) != len(labels):
        raise ValueError(f"files {', '.join(str(path) for path in paths)}: give the same label twice ({labels}); "
                         "expected one file per class with distinct names")
    return labels


def read_class_files(paths: Sequence[str | os.PathLike[str]], encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Records of one file per class, one example per non-blank line; see :func:`class_labels`."""
    paths = [Path(path) for path in paths]
    for path in paths:
        _check_file(path)
    for path, label in zip(paths, class_labels(paths), strict=True):
        for number, line in numbered_lines(path, encoding):
            if line.strip():
                yield LabelledText(line, label, f"{path} line {number}")


def _is_hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _class_root(files: list[tuple[str, ...]], where: Path) -> int:
    """Depth of the folder that holds the class folders, stepping through wrapper folders."""
    depth = 0
    while True:
        folders = {parts[depth] for parts in files if len(parts) > depth + 1}
        if len(folders) == 1:
            depth += 1
            continue
        if len(folders) < 2:
            raise ValueError(f"{where}: holds no class folders; expected a folder per class (e.g. pos/, neg/) with "
                             "one text file per example; for one file per class pass the files themselves")
        return depth


def read_class_folders(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Records of a folder per class (a directory or a ``.zip``), one example per file, sorted by path."""
    path, codec = Path(path), _codec(encoding)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    archive = None
    if path.is_dir():
        entries = [entry for entry in path.rglob("*") if entry.is_file() or entry.is_symlink()]
        for entry in entries:  # a link (pos/x.txt -> /etc/passwd) would read outside the data
            check_symlink(entry, path)
        files = sorted(entry.relative_to(path).parts for entry in entries)
    else:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise ValueError(f"{path}: not a zip archive ({error}); expected a directory or .zip of class "
                             "folders") from None
        files = sorted(tuple(name.split("/")) for name in archive.namelist() if not name.endswith("/"))
        members = ArchiveReader(archive, path)
    try:
        files = [parts for parts in files if not _is_hidden(parts)]
        depth = _class_root(files, path)
        for parts in files:
            if len(parts) <= depth + 1:
                continue  # a file beside the class folders (a README), not an example
            name = "/".join(parts)
            where = f"{path}:{name}" if archive is not None else str(path / name)
            data = members.read(name) if archive is not None else (path / name).read_bytes()
            text = _decode(data, codec, where, encoding).removeprefix("\ufeff")
            yield LabelledText(text, parts[depth], where)
    finally:
        if archive is not None:
            archive.close()


def detect_format(paths: Sequence[str | os.PathLike[str]]) -> str:
    """``"files"`` for several paths; for one: ``"folders"`` (a directory or ``.zip``), ``"table"`` (by suffix),
    else ``"lines"``."""
    paths = [Path(path) for path in paths]
    if not paths:
        raise ValueError("--data: got no path; expected a file, a directory or a .zip")
    if len(paths) > 1:
        return "files"
    path = paths[0]
    if path.is_dir() or path.suffix.lower() == ".zip":
        return "folders"
    return "table" if _suffix(path) in TABLE_SUFFIXES else "lines"


def read_labelled(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], format: str = "auto",
                  text_column: str = "text", label_column: str = "label",
                  encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Labelled records from one or more paths in any layout above (``format="auto"``: :func:`detect_format`).

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: For an unknown format, a layout that does not fit the paths, or a malformed record (naming
            the file and line, or the archive member).
    """
    paths = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(path) for path in paths]
    if format not in FORMATS:
        raise ValueError(f"format: got {format!r}; expected one of {', '.join(map(repr, FORMATS))}")
    chosen = detect_format(paths) if format == "auto" else format
    if chosen == "files":
        if len(paths) < 2:
            raise ValueError(f"--data {paths[0]}: one file; one file per class needs a file for each class")
        return read_class_files(paths, encoding)
    if len(paths) != 1:
        raise ValueError(f"--data: got {len(paths)} paths for format {chosen!r}; expected one")
    if chosen == "folders":
        return read_class_folders(paths[0], encoding)
    if chosen == "table":
        return read_table(paths[0], text_column, label_column, encoding)
    return read_lines_with_labels(paths[0], encoding)


def read_texts(path: str | os.PathLike[str], text_column: str = "text",
               encoding: str = "utf-8") -> Iterator[LabelledText]:
    """Unlabelled texts to predict on: the text column of a CSV/TSV/JSONL file, else one text per line."""
    path = Path(path)
    if _suffix(path) in TABLE_SUFFIXES:
        return read_table(path, text_column, None, encoding)
    return (LabelledText(line, None, f"{path} line {number}") for number, line in numbered_lines(path, encoding)
            if line.strip())
