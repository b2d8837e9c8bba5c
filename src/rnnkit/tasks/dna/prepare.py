"""``rnnkit prepare dna``: labelled DNA or protein sequences (FASTA, TSV) to letter-id or k-mer-id shards on disk.

Two streaming passes (:mod:`rnnkit.data.prepare_records`: the layout, and resuming after an interruption) over
the records of :func:`~rnnkit.tasks.dna.data.iter_records` (the reader of ``train dna``, cut to ``max_length``),
with ``--negatives shuffle`` each followed by its dinucleotide-shuffled copy (the generator seeded as
``train dna --seed`` seeds it):

1. counts the labels (and for k-mer inputs the k-mers, exactly, spilled to disk), which gives the sorted labels and
   the vocabulary ``train dna`` builds in memory from the same records; one-hot inputs keep letter ids
   (:func:`~rnnkit.data.sequence_encoding.letter_ids`: 0 padding, 1..K letters, K+1 the unknown letter), and
   ``vocab.json`` then names them (``<pad>``, the letters, the unknown letter);
2. writes each record's ids (:func:`~rnnkit.tasks.dna.data.record_ids`, the in-memory encoding) and label id.

``--vocab-from`` (a dna run or prepared directory) gives the labels and vocabulary instead, e.g. for validation
files. The records are all of ``--data``: a seeded sample (``--max-examples``) is not made here.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...data.prepare import SHARD_TOKENS
from ...data.prepare_records import RecordSource, check_inputs, prepare_records, prepared_source
from ...data.readers.sequences import ALPHABETS, SequenceRecord, read_label_file
from ...data.vocab_count import CountSpiller, vocab_from_runs
from ...text import Vocab
from ...text.vocab import DEFAULT_SPECIALS
from ...train.config import TrainConfig
from ..run_dir import read_run_config
from .data import (
    NAME,
    NEGATIVE,
    POSITIVE,
    SequenceDataConfig,
    check_classes,
    check_labelled,
    classes_of_counts,
    iter_records,
    no_records,
    record_ids,
    tokens_of,
    with_shuffled_negatives,
)

__all__ = ["SETTING_NAMES", "labels_of_dna_run", "letters_vocab", "prepare_dna"]

SETTING_NAMES = ("format", "alphabet", "sequence_column", "label_column", "inputs", "kmer_size", "min_freq",
                 "max_length", "negatives", "classes")


def letters_vocab(alphabet: str) -> Vocab:
    """The meaning of one-hot inputs' letter ids: ``<pad>`` 0, the letters 1..K, the unknown letter K+1."""
    letters = ALPHABETS[alphabet]
    return Vocab([*letters.letters, letters.unknown], specials=("<pad>",))


def _stream(paths: list[Path], sequence: SequenceDataConfig, names: Mapping[str, str] | None,
            seed: int) -> Iterator[SequenceRecord]:
    """The records in file order; with ``negatives="shuffle"`` each followed by its shuffled copy (the generator
    of in-memory training's, drawn record by record in the same order)."""
    records = iter_records(paths, sequence, names)
    if sequence.negatives != "shuffle":
        yield from records
        return
    rng = random.Random(f"{seed} train")
    for record in records:
        yield from with_shuffled_negatives([record], rng)


def _count(paths: list[Path], sequence: SequenceDataConfig, names: Mapping[str, str] | None, seed: int,
           work: Path) -> tuple[Vocab, list[str]]:
    """Pass 1: the sorted labels (checked as in-memory training checks them) and the vocabulary."""
    spiller, counts = CountSpiller(work / "count"), Counter()
    for record in _stream(paths, sequence, names, seed):
        check_labelled([record], "--data")
        counts[record.label] += 1
        if sequence.inputs == "kmer":
            spiller.add(tokens_of(record.sequence, sequence))
    if not counts:
        raise ValueError(no_records(paths, "--data"))
    allowed = classes_of_counts(counts, sequence)
    if allowed is not None and not set(counts) <= allowed:  # read again to name the first record outside them
        for record in _stream(paths, sequence, names, seed):
            check_classes([record], allowed, "--data")
    labels = sorted(counts)
    if len(labels) < 2:
        raise ValueError(f"--data: every training record has the label {labels[0]!r}; expected at least 2 classes, "
                         "or --negatives shuffle to make dinucleotide-shuffled negatives of positives")
    if sequence.negatives == "shuffle":
        labels = [NEGATIVE, POSITIVE]
    if sequence.inputs == "kmer":
        return vocab_from_runs(spiller.finish(), DEFAULT_SPECIALS, sequence.min_freq, None), labels
    return letters_vocab(sequence.alphabet), labels


def _encoded(paths: list[Path], sequence: SequenceDataConfig, names: Mapping[str, str] | None, seed: int,
             vocab: Vocab, labels: list[str]) -> Iterator[tuple[list[int], int]]:
    """Pass 2: each record's ids and label id; an unknown label names its file and line."""
    label_ids = {label: index for index, label in enumerate(labels)}
    kmer_vocab = vocab if sequence.inputs == "kmer" else None
    for record in _stream(paths, sequence, names, seed):
        check_labelled([record], "--data")
        yield record_ids(record, sequence, kmer_vocab, label_ids), label_ids[record.label]


def prepare_dna(data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], sequence: SequenceDataConfig,
                labels_file: str | os.PathLike[str] | None = None, seed: int | None = None,
                vocab: Vocab | None = None, labels: Sequence[str] | None = None, vocab_from: str | None = None,
                shard_tokens: int = SHARD_TOKENS) -> dict[str, Any]:
    """Prepare sequence files for ``train dna --data OUT`` (see the module docstring); returns the index.

    Args:
        data: FASTA or TSV files, as ``train dna --data`` takes them.
        out: The directory to write: new or empty, or an interrupted preparation of the same files and settings
            (resumed).
        sequence: Reading and encoding settings, as ``train dna``'s (``max_examples`` must be left unset).
        labels_file: For FASTA files: ``NAME LABEL`` lines giving each record's label.
        seed: The seed of the shuffled negatives (``negatives="shuffle"``), as ``train dna``'s (default: its).
        vocab: A vocabulary (and ``labels``) to use instead of counting (``--vocab-from``).
        labels: The labels that go with ``vocab``.
        vocab_from: Where ``vocab`` came from, recorded in the index.
        shard_tokens: About how many ids a shard holds (shards end after whole records).

    Raises:
        FileNotFoundError: An input file is missing.
        ValueError: Malformed data (naming file, line and character), a single class, a label ``labels`` lacks, a
            sample size, or an ``out`` that holds other files.
    """
    paths = check_inputs(data, "FASTA or TSV sequence files")
    if sequence.max_examples is not None:
        raise ValueError(f"--max-examples {sequence.max_examples}: 'prepare dna' writes every record; prepare a "
                         "sample file instead")
    seed = TrainConfig().seed if seed is None else seed
    names = read_label_file(labels_file) if labels_file is not None else None
    settings = {name: getattr(sequence, name) for name in SETTING_NAMES} | {
        "seed": seed, "labels_file": None if labels_file is None else str(Path(labels_file).resolve())}
    source = RecordSource(NAME, paths, settings, lambda work: _count(paths, sequence, names, seed, work),
                          lambda vocabulary, found: _encoded(paths, sequence, names, seed, vocabulary, found))
    return prepare_records(source, out, vocab, labels, vocab_from, shard_tokens)


def labels_of_dna_run(path: Path) -> tuple[Vocab, list[str], dict[str, Any]]:
    """The vocabulary (letters for one-hot inputs), labels and sequence settings of a prepared dna directory or a
    dna run (``--vocab-from``)."""
    prepared = prepared_source(path, NAME)
    if prepared is not None:
        return prepared
    config = read_run_config(path, NAME)
    settings, labels = config.get("sequence") or {}, config.get("labels")
    if not isinstance(labels, list):
        raise ValueError(f"{path / 'config.json'}: no labels; expected a dna run's config")
    if settings.get("inputs") == "kmer":
        return Vocab.load(path / "vocab.json"), labels, settings
    return letters_vocab(settings.get("alphabet", "dna")), labels, settings
