"""Sequence-classification data: FASTA/TSV records -> (shuffled negatives) -> letter ids or k-mer ids -> batches.

::

    read_sequences(path) ─▶ SequenceRecord(sequence, label, where)
    [(sequence, label), ...] from Python ─▶ SequenceRecord(sequence, label, "data item N")
        --negatives shuffle: each record is a positive ("1"); a dinucleotide-shuffled copy of it is a negative ("0")
    onehot: letter ids (0 padding, 1..K letters, K+1 the unknown letter N/X), one-hot rows made inside the model
    kmer:   overlapping k-mers ─▶ Vocab ids
    batches: those of the classification task (similar lengths together, seeded by (seed, epoch))
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...data.dinucleotide_shuffle import dinucleotide_shuffle
from ...data.readers.sequences import ALPHABETS, SEQUENCE_FORMATS, SequenceRecord, check_letters, read_sequences
from ...data.sequence_encoding import kmers, letter_ids
from ...models.binding_classifier import INPUTS
from ...text import Vocab
from ...train.config import setting, validate_field_types
from ..base import is_path_like, short_repr
from ..common import Encoded
from ..run_dir import Paths

NAME = "dna"
NEGATIVES = ("none", "shuffle")
POSITIVE, NEGATIVE = "1", "0"


@dataclass(frozen=True)
class SequenceDataConfig:
    """How sequence files are read and turned into model inputs.

    Attributes:
        format: ``"auto"``, ``"fasta"`` or ``"tsv"`` (see :mod:`rnnkit.data.readers.sequences`).
        alphabet: ``"dna"`` (ACGT, N unknown) or ``"protein"`` (20 amino acids, X unknown).
        sequence_column: the sequence column of a table (DeepBind: ``seq``).
        label_column: the label column of a table (DeepBind: ``Bound``).
        inputs: ``"onehot"`` (K numbers per position; N is 1/K in each) or ``"kmer"`` (overlapping k-mer tokens
            into an embedding).
        kmer_size: k of the k-mer tokens.
        min_freq: k-mers seen fewer times in the training data become ``<unk>``.
        max_length: keep the first this many letters of each sequence; None keeps all.
        negatives: ``"none"`` (the files hold both classes) or ``"shuffle"``: the training records are positives
            (label ``1`` or none) and each gets a dinucleotide-shuffled copy labelled ``0``, as DeepBind's.
        max_examples: train on a seeded sample of at most this many training records (before negatives).
        valid_fraction: without validation data, hold out this share of each class of the training records.
        classes: the labels the data may hold; None: ``0`` and ``1`` when most training records are labelled so
            (the binding-site convention, in which a stray ``x`` is a typo, not a third class), else any.
    """

    format: str = setting("auto", help="auto (by suffix or a leading '>'), fasta or tsv", choices=SEQUENCE_FORMATS)
    alphabet: str = setting("dna", help="dna (ACGT, N unknown) or protein (20 amino acids, X unknown)",
                            choices=tuple(ALPHABETS))
    sequence_column: str = setting("seq", help="sequence column of a TSV")
    label_column: str = setting("Bound", help="label column of a TSV")
    inputs: str = setting("onehot", help="onehot (N is 1/4 in each column) or kmer tokens", choices=INPUTS)
    kmer_size: int = setting(3, help="k of the overlapping k-mer tokens")
    min_freq: int = setting(1, help="rarer training k-mers become <unk>")
    max_length: int | None = setting(None, help="keep the first N letters of each sequence")
    negatives: str = setting("none", help="none, or shuffle: dinucleotide-shuffled copies of the training positives "
                                          "are the negatives (as DeepBind)", choices=NEGATIVES)
    max_examples: int | None = setting(None, help="train on a seeded sample of at most N records")
    valid_fraction: float = setting(0.1, help="share of the records held out without --valid")
    classes: list[str] | None = setting(None, parse=lambda text: parse_classes(text),
                                        help="the labels the data may hold, comma-separated (default: 0,1 when most "
                                             "records are labelled 0 or 1, else any)")

    def __post_init__(self) -> None:
        validate_field_types(self)
        for name, allowed in (("format", SEQUENCE_FORMATS), ("alphabet", tuple(ALPHABETS)), ("inputs", INPUTS),
                              ("negatives", NEGATIVES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: got {getattr(self, name)!r}; expected one of "
                                 f"{', '.join(map(repr, allowed))}")
        for name in ("kmer_size", "min_freq", "max_length", "max_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a fraction in (0, 1)")


def _paths(paths: Paths) -> list[Path]:
    return [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(path) for path in paths]


def read_records(paths: Paths, config: SequenceDataConfig, name: str,
                 labels: Mapping[str, str] | None = None) -> list[SequenceRecord]:
    """Every record of ``paths`` (cut to ``max_length``); ``name`` is the flag, for errors."""
    records = list(iter_records(paths, config, labels))
    if not records:
        raise ValueError(no_records(paths, name))
    return records


def no_records(paths: Paths, name: str) -> str:
    return f"{name} {' '.join(map(str, _paths(paths)))}: holds no sequences; expected records"


def iter_records(paths: Paths, config: SequenceDataConfig,
                 labels: Mapping[str, str] | None = None) -> Iterator[SequenceRecord]:
    """The records of ``paths`` as a stream, each cut to ``max_length``."""
    for path in _paths(paths):
        for record in read_sequences(path, config.format, config.alphabet, config.sequence_column,
                                     config.label_column, labels):
            yield SequenceRecord(record.sequence[: config.max_length], record.label, record.where, record.name)


def records_from(source: Any, config: SequenceDataConfig, argument: str,
                 labels: Mapping[str, str] | None = None) -> list[SequenceRecord]:
    """The records of ``source``: FASTA/TSV file path(s), or a sequence of ``(sequence, label)`` pairs (``label``
    a string, or None for a positive with ``negatives="shuffle"``); ``argument`` is ``"data"``, ``"valid"`` or
    ``"test"`` (errors name ``--data`` for files, ``data item N`` for pairs)."""
    if is_path_like(source):
        return read_records(source, config, f"--{argument}", labels)
    if isinstance(source, str | bytes) or not isinstance(source, Sequence) or not source:
        raise ValueError(f"{argument}: got {short_repr(source)}; expected sequence file paths or a non-empty sequence "
                         "of (sequence, label) pairs")
    return [memory_record(item, f"{argument} item {number}", config) for number, item in enumerate(source, 1)]


def memory_record(item: Any, where: str, config: SequenceDataConfig) -> SequenceRecord:
    """One ``(sequence, label)`` pair as a record (letters checked, cut to ``max_length``)."""
    if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str) and item[0].strip()
            and (item[1] is None or isinstance(item[1], str))):
        raise ValueError(f"{where}: expected a (sequence, label) pair of a non-empty string and a string label; "
                         f"got {short_repr(item)}")
    sequence = check_letters(item[0].strip(), ALPHABETS[config.alphabet], where)
    return SequenceRecord(sequence[: config.max_length], item[1], where, where)


def sample(records: list[SequenceRecord], limit: int | None, seed: int) -> list[SequenceRecord]:
    """At most ``limit`` records, a seeded random sample in file order (all when ``limit`` is None)."""
    if limit is None or len(records) <= limit:
        return records
    return [records[index] for index in sorted(random.Random(seed).sample(range(len(records)), limit))]


def with_shuffled_negatives(records: Iterable[SequenceRecord], rng: random.Random) -> list[SequenceRecord]:
    """Each record as a positive, followed by its dinucleotide-shuffled copy as a negative.

    Raises:
        ValueError: If a record has a label other than ``1`` (naming its file and line): shuffled negatives are
            for files of positives only.
    """
    out = []
    for record in records:
        if record.label not in (None, POSITIVE):
            raise ValueError(f"{record.where}: label {record.label!r} with --negatives shuffle; expected only "
                             f"positives (label {POSITIVE!r} or none), whose shuffled copies become the negatives")
        out.append(SequenceRecord(record.sequence, POSITIVE, record.where, record.name))
        out.append(SequenceRecord(dinucleotide_shuffle(record.sequence, rng), NEGATIVE,
                                  f"{record.where} (shuffled)", record.name))
    return out


def parse_classes(text: str) -> list[str]:
    """Labels from ``--classes``' comma-separated text: ``"0,1"`` -> ``["0", "1"]``."""
    labels = [label.strip() for label in text.split(",")]
    if len(labels) < 2 or not all(labels) or len(set(labels)) != len(labels):
        raise ValueError(f"got {text!r}; expected two or more distinct labels separated by commas, e.g. 0,1")
    return labels


def expected_classes(records: Sequence[SequenceRecord], config: SequenceDataConfig) -> set[str] | None:
    """The labels the training records may hold: ``config.classes``; else ``{"0", "1"}`` when most records are
    labelled 0 or 1 (binding data); else None (any label is a class)."""
    return classes_of_counts(Counter(record.label for record in records), config)


def classes_of_counts(counts: Mapping[str | None, int], config: SequenceDataConfig) -> set[str] | None:
    """:func:`expected_classes` from the count of each label of the training records."""
    if config.classes is not None:
        return set(config.classes)
    binary = counts.get(NEGATIVE, 0) + counts.get(POSITIVE, 0)
    return {NEGATIVE, POSITIVE} if 2 * binary > sum(counts.values()) else None


def check_classes(records: Sequence[SequenceRecord], allowed: set[str] | None, name: str) -> None:
    """A ValueError naming the first record whose label is outside ``allowed`` (None: anything goes)."""
    if allowed is None:
        return
    for record in records:
        if record.label not in allowed:
            raise ValueError(f"{record.where}: label {record.label!r} in {name}; expected one of "
                             f"{', '.join(map(repr, sorted(allowed)))} (pass --classes to name other labels)")


def check_labelled(records: Sequence[SequenceRecord], name: str) -> None:
    for record in records:
        if record.label is None:
            raise ValueError(f"{record.where}: record has no label; {name} needs labels (a label column, "
                             "'label=VALUE' in the FASTA header, or --labels FILE), or pass --negatives shuffle "
                             "for a training file of positives")


def tokens_of(sequence: str, config: SequenceDataConfig) -> list[str]:
    """Letters (one-hot inputs) or overlapping k-mers of ``sequence``."""
    if config.inputs == "onehot":
        return list(sequence)
    return kmers(sequence, config.kmer_size)


def check_length(record: SequenceRecord, config: SequenceDataConfig, minimum: int) -> None:
    """A sequence must give at least ``minimum`` model steps (the pooling front-end needs some)."""
    steps = len(record.sequence) - (config.kmer_size - 1 if config.inputs == "kmer" else 0)
    if steps < minimum:
        raise ValueError(f"{record.where}: sequence of {len(record.sequence)} letters gives {max(steps, 0)} "
                         f"input steps; expected at least {minimum} (k-mer size and pooling need a longer one)")


def build_kmer_vocab(records: Iterable[SequenceRecord], config: SequenceDataConfig) -> Vocab:
    return Vocab.build((tokens_of(record.sequence, config) for record in records), min_freq=config.min_freq)


def encode_records(records: Sequence[SequenceRecord], config: SequenceDataConfig, vocab: Vocab | None,
                   labels: Sequence[str], minimum_steps: int = 1) -> Encoded:
    """Ids per record (letter ids, or k-mer ids with ``vocab``) and label ids; unknown labels name their line."""
    label_ids = {label: index for index, label in enumerate(labels)}
    encoded = Encoded([], [], [])
    for record in records:
        encoded.ids.append(torch.tensor(record_ids(record, config, vocab, label_ids, minimum_steps), dtype=torch.long))
        encoded.labels.append(label_ids.get(record.label, 0))
        encoded.where.append(record.where)
    return encoded


def record_ids(record: SequenceRecord, config: SequenceDataConfig, vocab: Vocab | None, label_ids: Mapping[str, int],
               minimum_steps: int = 1) -> list[int]:
    """A record's letter ids (or k-mer ids with ``vocab``); an unknown label or a too short sequence names its line."""
    if record.label is not None and record.label not in label_ids:
        raise ValueError(f"{record.where}: label {record.label!r} was not seen in the training data; the model "
                         f"knows {', '.join(map(repr, label_ids))}")
    check_length(record, config, minimum_steps)
    return (letter_ids(record.sequence, config.alphabet) if vocab is None
            else vocab.encode(tokens_of(record.sequence, config)))
