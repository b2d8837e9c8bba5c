"""The DNA (or protein) sequence-classification task, e.g. transcription-factor binding sites (many-to-one).

The classification task's training loop, loss and metrics (cross-entropy; accuracy, macro-F1, ROC-AUC, PR-AUC)
on biological sequences: FASTA or TSV records (:mod:`rnnkit.data.readers.sequences`), or ``(sequence, label)``
pairs from Python -> optional dinucleotide-shuffled negatives (as DeepBind) -> one-hot letters or k-mer tokens ->
:class:`~rnnkit.models.binding_classifier.BindingSiteClassifier` (optional convolution, then the recurrent
:class:`~rnnkit.models.SequenceClassifier`). The best epoch is chosen on validation data (``--valid``, or a share
of ``--data`` held out *before* negatives are made, so no sequence has its shuffled copy on the other side); test
data is evaluated once with the best weights and never used for a choice.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from ...data.prepared_records import PreparedRecords, prepared_dir, steps_per_epoch
from ...data.readers.sequences import ALPHABETS, SequenceRecord, read_label_file
from ...models import ClassifierConfig
from ...models.binding_classifier import BindingSiteClassifier, ConvFrontEndConfig
from ...text import Vocab
from ...train.config import TrainConfig
from ...train.distributed import check_batch_size
from ..base import Run, finish_run, prepare_run
from ..common import Encoded, batch_loss, metrics_of, predict_probabilities, stratified_split, training_batches
from ..model_size import build_within_limit
from ..run_dir import absolute_paths
from .data import (
    NAME,
    NEGATIVE,
    POSITIVE,
    SequenceDataConfig,
    build_kmer_vocab,
    check_classes,
    check_labelled,
    encode_records,
    expected_classes,
    records_from,
    sample,
    with_shuffled_negatives,
)
from .prepared import prepared_data

SETTINGS = {"sequence": SequenceDataConfig, "model": ClassifierConfig, "frontend": ConvFrontEndConfig,
            "train": TrainConfig}
Data = str | os.PathLike[str] | Sequence[Any]  # sequence file path(s), or (sequence, label) pairs


def build_model(num_classes: int, sequence: SequenceDataConfig, model: ClassifierConfig,
                frontend: ConvFrontEndConfig, vocab: Vocab | None) -> BindingSiteClassifier:
    """The classifier for these settings (k-mer inputs need the vocabulary)."""
    return BindingSiteClassifier(num_classes, model, frontend, inputs=sequence.inputs,
                                 alphabet_size=len(ALPHABETS[sequence.alphabet].letters),
                                 vocab_size=len(vocab) if vocab is not None else None,
                                 pad_id=vocab.pad_id if vocab is not None else 0)


@dataclass
class DnaData:
    """The encoded splits of a run, its labels and its k-mer vocabulary (None for one-hot inputs)."""

    train: Encoded | PreparedRecords  # prepared: read on disk
    valid: Encoded
    test: Encoded | None
    labels: list[str]
    vocab: Vocab | None

    @property
    def pad_id(self) -> int:
        return self.vocab.pad_id if self.vocab is not None else 0


def train_dna(out: str | os.PathLike[str], *, data: Data | None = None, valid: Data | None = None,
              test: Data | None = None, labels_file: str | os.PathLike[str] | None = None,
              sequence: SequenceDataConfig | None = None, model: ClassifierConfig | None = None,
              frontend: ConvFrontEndConfig | None = None, train: TrainConfig | None = None, resume: bool = False,
              epochs: int | None = None, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a sequence classifier into the run directory ``out``; return the final metrics.

    Args:
        data, valid, test: FASTA/TSV file path(s), or sequences of ``(sequence, label)`` string pairs.
        labels_file: for FASTA files: ``NAME LABEL`` lines giving each record's label (resuming: the run's own).
        resume: continue the run in ``out`` from its last checkpoint, with its saved data and settings.
        epochs: with ``resume``, a new number of epochs (to extend a finished run).

    Raises:
        ValueError: For malformed data (naming file, line and character, or the item), a single class without
            ``negatives="shuffle"``, a label in ``valid``/``test`` that training did not have, or bad settings.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"sequence": sequence, "model": model, "frontend": frontend, "train": train},
                      callbacks=callbacks)
    sequence, model, frontend, train = (run.settings[name] for name in SETTINGS)
    labels_file = run.saved_data.get("labels_file") if run.resume else labels_file
    if prepared_dir(run.data) is not None:  # ids on disk (rnnkit prepare dna), read through memory maps
        return _train_prepared(run, labels_file)
    splits = read_data(run, sequence, frontend, labels_file)
    network = build_within_limit(lambda: build_model(len(splits.labels), sequence, model, frontend,
                                                    splits.vocab)).to(run.device)
    counts = {"train": len(splits.train), "valid": len(splits.valid),
              "test": None if splits.test is None else len(splits.test)}
    run.start({"sequence": sequence, "model": model, "frontend": frontend, "train": train, "labels": splits.labels},
              vocabularies={"vocab.json": splits.vocab} if splits.vocab is not None else None,
              derived={"labels": splits.labels},
              data_extra={"labels_file": absolute_paths(labels_file), "examples": counts})
    batches, steps_per_epoch = training_batches(splits.train, train.batch_size, train.seed, splits.pad_id)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(splits), monitor="valid_error",
                      steps_per_epoch=steps_per_epoch)
    results.update(split_metrics(network, splits.valid, splits.pad_id, "valid"))
    if splits.test is not None:
        results.update(split_metrics(network, splits.test, splits.pad_id, "test"))
    return finish_run(run, results, title=f"{model.cell} sequence classifier")


def read_data(run: Run, sequence: SequenceDataConfig, frontend: ConvFrontEndConfig,
              labels_file: str | os.PathLike[str] | None) -> DnaData:
    """The run's records read, checked, split (without ``valid``, before negatives are made), given shuffled
    negatives (``negatives="shuffle"``) and encoded."""
    names = read_label_file(labels_file) if labels_file is not None else None
    seed = run.train.seed
    records = sample(records_from(run.data, sequence, "data", names), sequence.max_examples, seed)
    valid_records = records_from(run.valid, sequence, "valid", names) if run.valid is not None else None
    test_records = records_from(run.test, sequence, "test", names) if run.test is not None else None
    if valid_records is None:
        records, valid_records = held_out_split(records, sequence, seed)
    if sequence.negatives == "shuffle":
        records = with_shuffled_negatives(records, random.Random(f"{seed} train"))
    for name, split in (("--data", records), ("--valid", valid_records), ("--test", test_records)):
        if split is not None:
            check_labelled(split, name)
    allowed = expected_classes(records, sequence)
    for name, split in (("--data", records), ("--valid", valid_records), ("--test", test_records)):
        if split is not None:
            check_classes(split, allowed, name)
    labels = sorted({record.label for record in records})
    if len(labels) < 2:
        raise ValueError(f"--data: every training record has the label {labels[0]!r}; expected at least 2 classes, "
                         "or --negatives shuffle to make dinucleotide-shuffled negatives of positives")
    if sequence.negatives == "shuffle":
        labels = [NEGATIVE, POSITIVE]
    vocab = build_kmer_vocab(records, sequence) if sequence.inputs == "kmer" else None
    steps = frontend.shortening
    train_data, valid_data = (encode_records(split, sequence, vocab, labels, steps)
                              for split in (records, valid_records))
    test_data = encode_records(test_records, sequence, vocab, labels, steps) if test_records is not None else None
    return DnaData(train_data, valid_data, test_data, labels, vocab)


def held_out_split(records: list[SequenceRecord], sequence: SequenceDataConfig,
                   seed: int) -> tuple[list[SequenceRecord], list[SequenceRecord]]:
    """``(kept, held out)``: a stratified share of the records; the held-out part gets its own shuffled negatives
    (``negatives="shuffle"``), so no sequence has its shuffled copy on the other side."""
    kept, held_out = stratified_split([record.label or POSITIVE for record in records], sequence.valid_fraction, seed)
    if not held_out:
        raise ValueError(f"--data: {len(records)} records are too few to hold out a validation share; pass --valid")
    valid_records = [records[i] for i in held_out]
    if sequence.negatives == "shuffle":
        valid_records = with_shuffled_negatives(valid_records, random.Random(f"{seed} valid"))
    return [records[i] for i in kept], valid_records


def validation_of(splits: DnaData):
    """The trainer's ``evaluate``: validation loss, accuracy, ROC-AUC (two classes) and the error it monitors."""

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = split_metrics(net, splits.valid, splits.pad_id, "valid")
        picked = {key: metrics[key] for key in ("valid_loss", "valid_accuracy", "valid_roc_auc") if key in metrics}
        # the epoch is chosen by validation ROC-AUC where there is one (the field's metric), else by accuracy
        picked["valid_error"] = 1.0 - metrics.get("valid_roc_auc", metrics["valid_accuracy"])
        return picked

    return evaluate


def split_metrics(network: nn.Module, data: Encoded, pad_id: int, prefix: str) -> dict[str, Any]:
    return metrics_of(predict_probabilities(network, data, pad_id), data.labels, prefix)


def _train_prepared(run: Run, labels_file: str | os.PathLike[str] | None) -> dict[str, Any]:
    """:func:`train_dna` on a prepared directory (:mod:`.prepared`): its vocabulary, labels and sequence settings;
    each rank reads its own part of the records, a bounded buffer at a time."""
    records, vocab, valid, test = prepared_data(run, labels_file)
    sequence, model, frontend, train = (run.settings[name] for name in SETTINGS)
    data = DnaData(records, valid, test, records.label_names, vocab)
    network = build_within_limit(lambda: build_model(len(data.labels), sequence, model, frontend,
                                                    vocab)).to(run.device)
    local = check_batch_size(train.batch_size, run.distributed)
    counts = {"train": len(records), "valid": len(valid), "test": None if test is None else len(test)}
    run.start({"sequence": sequence, "model": model, "frontend": frontend, "train": train, "labels": data.labels},
              vocabularies={"vocab.json": vocab} if vocab is not None else None, derived={"labels": data.labels},
              data_extra={"labels_file": absolute_paths(labels_file), "examples": counts,
                          "source": f"{run.data} (prepared: {len(records)} records)"})
    batches = records.batches(local, train.seed, run.distributed.rank, run.distributed.world_size,
                              pad_id=data.pad_id)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(data), monitor="valid_error",
                      shard=None,  # each rank reads its own records already
                      steps_per_epoch=steps_per_epoch(len(records), local, run.distributed.world_size))
    results.update(split_metrics(network, valid, data.pad_id, "valid"))
    if test is not None:
        results.update(split_metrics(network, test, data.pad_id, "test"))
    return finish_run(run, results, title=f"{model.cell} sequence classifier")
