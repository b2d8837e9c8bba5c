"""The data of a tagger trained from a prepared directory (``rnnkit prepare tag``): sentences read through memory maps,
batched with length bucketing inside a bounded shuffle buffer, each DDP rank its own part
(:mod:`rnnkit.data.prepared_records`; the training itself: :func:`rnnkit.tasks.tag.train.train_tagger`). The
validation and test splits (a directory prepared with ``--vocab-from`` the training one, or CoNLL files encoded with
its vocabulary and tags) are held in memory, as in-memory training holds them: evaluation needs every sentence's
predicted tags anyway.
"""

from __future__ import annotations

from typing import Any

from ...data.prepared_records import PreparedRecords, prepared_dir, prepared_settings
from ...text import Vocab
from ..base import Run
from .data import NAME, EncodedTags, encode_sentences, sentences_from
from .prepare import SETTING_NAMES

__all__ = ["prepared_data"]


def _split(path: Any, flag: str, train: PreparedRecords, tag_vocab: Vocab, run: Run) -> EncodedTags:
    """A validation or test split in memory: a prepared directory (same vocabulary and tags as the training one),
    or CoNLL files encoded with the training directory's vocabulary and tags."""
    if prepared_dir(path) is not None:
        split = PreparedRecords(prepared_dir(path), NAME)
        if split.vocab != train.vocab or split.label_names != train.label_names:
            raise ValueError(f"{flag} {prepared_dir(path)}: prepared with another vocabulary or tags than --data "
                             f"{train.directory}; prepare it with --vocab-from {train.directory}")
        ids, tags = split.everything()
        return EncodedTags(ids, tags, [])
    return encode_sentences(sentences_from(path, run.settings["text"], flag[2:]), train.vocab, tag_vocab,
                            run.settings["text"])


def prepared_data(run: Run) -> tuple[PreparedRecords, EncodedTags, EncodedTags | None, Vocab]:
    """``(training records on disk, validation split, test split, tag vocabulary)`` of a run whose ``--data`` is a
    prepared directory; the run's reading settings become the directory's (``run.settings["text"]``)."""
    records = PreparedRecords(prepared_dir(run.data), NAME, verify=run.is_main)  # rank 0 recomputes the checksums
    run.settings["text"] = prepared_settings(run.settings["text"], SETTING_NAMES, records, run.resume)
    if run.settings["model"].char_features != "none":
        raise ValueError(f"--data {run.data}: a prepared directory holds word ids; character features need the "
                         "text files")
    if run.valid is None:
        raise ValueError(f"--valid: missing; training on a prepared directory ({run.data}) needs validation data "
                         "(CoNLL files, or a directory prepared with --vocab-from the training one)")
    tag_vocab = Vocab(records.label_names, specials=())
    valid = _split(run.valid, "--valid", records, tag_vocab, run)
    test = _split(run.test, "--test", records, tag_vocab, run) if run.test is not None else None
    return records, valid, test, tag_vocab
