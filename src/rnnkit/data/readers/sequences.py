"""Biological sequences (DNA or protein) with optional labels: FASTA files and tables such as DeepBind's.

Two layouts, plain or ``.gz``, read as streams (one record in memory at a time):

* ``"fasta"``: ``>`` header lines, each followed by one or more sequence lines (multi-line records are joined).
  The record's name is the header's first word; its label is a ``label=VALUE`` word in the header
  (``>chr1:100-201 label=1``), or comes from a separate ``labels`` mapping name -> label
  (:func:`read_label_file` reads one from a two-column TSV), or is None (unlabelled, e.g. positives only).
* ``"tsv"``: a tab-separated table with a header line naming the columns; the sequence and the label are chosen
  by column name. The defaults fit the DeepBind / deepRAM ChIP-seq files (``FoldID EventID seq Bound``).

Letters are case-insensitive (soft-masked lower case is read as upper case). Only the alphabet's letters and its
*unknown* letter are allowed: ``ACGT`` and ``N`` for DNA, the 20 amino acids and ``X`` for protein. Anything else
is a ``ValueError`` naming the file, the line, the column and the character. How the unknown letter is encoded
(an all-``1/4`` one-hot column, or its own k-mer tokens) is up to :mod:`rnnkit.data.sequence_encoding`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .labelled import numbered_lines

__all__ = ["ALPHABETS", "SEQUENCE_FORMATS", "Alphabet", "SequenceRecord", "detect_sequence_format", "read_fasta",
           "read_label_file", "read_sequence_table", "read_sequences"]

SEQUENCE_FORMATS = ("auto", "fasta", "tsv")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".faa", ".fas", ".ffn")
_LABEL_WORD = re.compile(r"^label=(\S+)$")


@dataclass(frozen=True)
class Alphabet:
    """The letters of one kind of sequence: ``letters`` in one-hot column order, and the ``unknown`` letter."""

    name: str
    letters: str
    unknown: str

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.letters + self.unknown)

    def describe(self) -> str:
        return f"one of {', '.join(self.letters + self.unknown)} (case-insensitive)"


ALPHABETS = {"dna": Alphabet("dna", "ACGT", "N"), "protein": Alphabet("protein", "ACDEFGHIKLMNPQRSTVWY", "X")}


@dataclass(frozen=True)
class SequenceRecord:
    """One sequence (upper case), its label (None if unlabelled), its name, and where it came from."""

    sequence: str
    label: str | None
    where: str
    name: str = ""


def alphabet_of(name: str) -> Alphabet:
    if name not in ALPHABETS:
        raise ValueError(f"alphabet: got {name!r}; expected one of {', '.join(map(repr, ALPHABETS))}")
    return ALPHABETS[name]


def check_letters(text: str, alphabet: Alphabet, where: str, first_column: int = 1) -> str:
    """``text`` in upper case; a letter outside the alphabet is a ValueError naming ``where`` and its column."""
    upper = text.upper()
    allowed = alphabet.allowed
    if not allowed.issuperset(upper):
        for offset, letter in enumerate(upper):
            if letter not in allowed:
                raise ValueError(f"{where} column {first_column + offset}: character {text[offset]!r} is not a "
                                 f"{alphabet.name.upper()} letter; expected {alphabet.describe()}")
    return upper


def read_fasta(path: str | os.PathLike[str], alphabet: str = "dna",
               labels: Mapping[str, str] | None = None) -> Iterator[SequenceRecord]:
    """Records of a FASTA file (``.gz`` too); see the module docstring for names and labels.

    With ``labels``, every record's name must be in it (a label in the header too is an error if it differs).

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For sequence lines before the first header, a header without a sequence, an empty name,
            a character outside the alphabet, or a name missing from ``labels``; each names the file and line.
    """
    path, kind = Path(path), alphabet_of(alphabet)
    header: tuple[int, str] | None = None
    parts: list[str] = []
    for number, line in numbered_lines(path):
        line = line.strip()
        if not line or line.startswith(";"):  # blank lines and old-style comments
            continue
        if line.startswith(">"):
            if header is not None:
                yield _fasta_record(path, header, parts, labels)
            header, parts = (number, line[1:].strip()), []
            continue
        if header is None:
            raise ValueError(f"{path} line {number}: sequence before the first '>' header; expected a FASTA file "
                             "whose records start with '>NAME'")
        parts.append(check_letters(line, kind, f"{path} line {number}"))
    if header is not None:
        yield _fasta_record(path, header, parts, labels)


def _fasta_record(path: Path, header: tuple[int, str], parts: list[str],
                  labels: Mapping[str, str] | None) -> SequenceRecord:
    number, text = header
    where = f"{path} line {number}"
    words = text.split()
    if not words:
        raise ValueError(f"{where}: empty header '>'; expected '>NAME [label=VALUE]'")
    if not parts:
        raise ValueError(f"{where}: record {words[0]!r} has no sequence; expected sequence lines after its header")
    label = next((match.group(1) for match in map(_LABEL_WORD.match, words[1:]) if match), None)
    if labels is not None:
        if words[0] not in labels:
            raise ValueError(f"{where}: record {words[0]!r} has no label in the labels file; expected a label for "
                             "every record")
        if label is not None and label != labels[words[0]]:
            raise ValueError(f"{where}: record {words[0]!r} has label={label} in its header but "
                             f"{labels[words[0]]!r} in the labels file; expected one label")
        label = labels[words[0]]
    return SequenceRecord("".join(parts), label, where, words[0])


def read_label_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: label}`` from a file of ``NAME<TAB or spaces>LABEL`` lines (blank lines skipped).

    Raises:
        ValueError: For a line without two fields, or a name given twice (naming the file and line).
    """
    path, labels = Path(path), {}
    for number, line in numbered_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(f"{path} line {number}: {len(fields)} fields; expected NAME and LABEL")
        if fields[0] in labels:
            raise ValueError(f"{path} line {number}: name {fields[0]!r} given twice; expected one label per name")
        labels[fields[0]] = fields[1]
    return labels


def read_sequence_table(path: str | os.PathLike[str], alphabet: str = "dna", sequence_column: str = "seq",
                        label_column: str | None = "Bound") -> Iterator[SequenceRecord]:
    """Records of a TSV file (``.gz`` too) with a header line; ``label_column=None`` reads sequences only.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For a missing header or column (naming the columns found), a row with the wrong number of
            fields, an empty sequence or label, or a character outside the alphabet; each names the file and line.
    """
    path, kind = Path(path), alphabet_of(alphabet)
    header: list[str] | None = None
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = [field.strip() for field in fields]
            wanted = {"sequence": sequence_column} | ({} if label_column is None else {"label": label_column})
            for what, name in wanted.items():
                if name not in header:
                    raise ValueError(f"{path} line {number}: no {what} column {name!r} in the header (found "
                                     f"{', '.join(map(repr, header))}); expected --{what}-column NAME naming one")
            sequence_index = header.index(sequence_column)
            label_index = None if label_column is None else header.index(label_column)
            continue
        where = f"{path} line {number}"
        if len(fields) != len(header):
            raise ValueError(f"{where}: {len(fields)} tab-separated fields; expected {len(header)} as in the header "
                             f"({', '.join(map(repr, header))})")
        field = fields[sequence_index]
        raw = field.strip()
        if not raw:
            raise ValueError(f"{where}: empty sequence in column {sequence_column!r}; expected a sequence")
        column = sum(len(before) + 1 for before in fields[:sequence_index]) + len(field) - len(field.lstrip()) + 1
        sequence = check_letters(raw, kind, where, column)
        label = None
        if label_index is not None:
            label = fields[label_index].strip()
            if not label:
                raise ValueError(f"{where}: empty label in column {label_column!r}; expected a label")
        yield SequenceRecord(sequence, label, where, f"{path.name}:{number}")
    if header is None:
        raise ValueError(f"{path}: no header line; expected a first line naming the columns (e.g. 'seq' and "
                         "'Bound')")


def _inner_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower() if path.suffix.lower() == ".gz" else path.suffix.lower()


def detect_sequence_format(path: str | os.PathLike[str]) -> str:
    """``"fasta"`` for ``.fa``/``.fasta``/``.fna``/... (also under ``.gz``) or a file starting with ``>``, else
    ``"tsv"``."""
    path = Path(path)
    if _inner_suffix(path) in FASTA_SUFFIXES:
        return "fasta"
    for _, line in numbered_lines(path):
        if line.strip():
            return "fasta" if line.lstrip().startswith(">") else "tsv"
    return "tsv"


def read_sequences(path: str | os.PathLike[str], format: str = "auto", alphabet: str = "dna",
                   sequence_column: str = "seq", label_column: str | None = "Bound",
                   labels: Mapping[str, str] | None = None) -> Iterator[SequenceRecord]:
    """Records of a FASTA or TSV file (``format="auto"``: :func:`detect_sequence_format`).

    ``sequence_column`` and ``label_column`` are for tables, ``labels`` for FASTA (see :func:`read_fasta`).
    """
    if format not in SEQUENCE_FORMATS:
        raise ValueError(f"format: got {format!r}; expected one of {', '.join(map(repr, SEQUENCE_FORMATS))}")
    alphabet_of(alphabet)
    chosen = detect_sequence_format(path) if format == "auto" else format
    if chosen == "fasta":
        return read_fasta(path, alphabet, labels)
    if labels is not None:
        raise ValueError(f"{path}: a labels file is for FASTA records; a table takes its labels from "
                         "--label-column")
    return read_sequence_table(path, alphabet, sequence_column, label_column)
