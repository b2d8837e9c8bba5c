"""The data of a sequence classifier trained from a prepared directory (``rnnkit prepare dna``): records read through
memory maps, batched with length bucketing inside a bounded shuffle buffer, each DDP rank its own part
(:mod:`rnnkit.data.prepared_records`; the training itself: :func:`rnnkit.tasks.dna.train.train_dna`). The validation
and test splits (a directory prepared with ``--vocab-from`` the training one, or sequence files encoded with its
vocabulary and labels) are held in memory, as in-memory training holds them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...data.prepared_records import PreparedRecords, prepared_dir, prepared_settings
from ...data.readers.sequences import read_label_file
from ...text import Vocab
from ..base import Run
from ..common import Encoded
from .data import NAME, check_labelled, encode_records, records_from
from .prepare import SETTING_NAMES

__all__ = ["prepared_data"]


def _check_steps(records: PreparedRecords, minimum: int) -> None:
    """Every record must give ``minimum`` model steps (the pooling front-end needs that many ids)."""
    lengths = np.diff(np.asarray(records.offsets))
    short = np.flatnonzero(lengths < minimum)
    if short.size:
        raise ValueError(f"--data {records.directory}: record {int(short[0]) + 1} has {int(lengths[short[0]])} input "
                         f"steps; expected at least {minimum} (the pooling needs a longer one)")


def _split(path: Any, flag: str, train: PreparedRecords, vocab: Vocab | None, run: Run,
           labels_file: str | os.PathLike[str] | None) -> Encoded:
    """A validation or test split in memory: a prepared directory (same vocabulary and labels as the training
    one), or sequence files encoded with the training directory's vocabulary and labels."""
    directory = prepared_dir(path)
    if directory is not None:
        split = PreparedRecords(directory, NAME)
        if split.vocab != train.vocab or split.label_names != train.label_names:
            raise ValueError(f"{flag} {directory}: prepared with another vocabulary or labels than --data "
                             f"{train.directory}; prepare it with --vocab-from {train.directory}")
        ids, labels = split.everything()
        return Encoded(ids, labels, [f"{directory} record {number}" for number in range(1, len(ids) + 1)])
    sequence, frontend = run.settings["sequence"], run.settings["frontend"]
    names = read_label_file(labels_file) if labels_file is not None else None
    records = records_from(path, sequence, flag[2:], names)
    check_labelled(records, flag)
    return encode_records(records, sequence, vocab, train.label_names, frontend.shortening)


def prepared_data(run: Run, labels_file: str | os.PathLike[str] | None) -> tuple[PreparedRecords, Vocab | None,
                                                                                Encoded, Encoded | None]:
    """``(training records on disk, k-mer vocabulary or None, validation split, test split)`` of a run whose
    ``--data`` is a prepared directory; the run's sequence settings become the directory's."""
    records = PreparedRecords(prepared_dir(run.data), NAME, verify=run.is_main)  # rank 0 recomputes the checksums
    sequence = prepared_settings(run.settings["sequence"], SETTING_NAMES, records, run.resume)
    run.settings["sequence"] = sequence
    if sequence.max_examples is not None:
        raise ValueError(f"--max-examples {sequence.max_examples}: --data {run.data} is a prepared directory, "
                         "trained whole; prepare a sample file instead")
    if run.valid is None:
        raise ValueError(f"--valid: missing; training on a prepared directory ({run.data}) needs validation data "
                         "(sequence files, or a directory prepared with --vocab-from the training one)")
    _check_steps(records, run.settings["frontend"].shortening)
    vocab = records.vocab if sequence.inputs == "kmer" else None  # one-hot inputs: letter ids
    valid = _split(run.valid, "--valid", records, vocab, run, labels_file)
    test = _split(run.test, "--test", records, vocab, run, labels_file) if run.test is not None else None
    return records, vocab, valid, test
