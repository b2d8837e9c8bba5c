"""The DNA (or protein) sequence-classification task, e.g. transcription-factor binding sites (many-to-one).

The classification task's training loop, loss and metrics (cross-entropy; accuracy, macro-F1, ROC-AUC, PR-AUC)
on biological sequences: FASTA or TSV records (:mod:`rnnkit.data.readers.sequences`) -> optional
dinucleotide-shuffled negatives (as DeepBind) -> one-hot letters or k-mer tokens ->
:class:`~rnnkit.models.binding_classifier.BindingSiteClassifier` (optional convolution, then the recurrent
:class:`~rnnkit.models.SequenceClassifier`). The best epoch is chosen on validation data (``--valid``, or a share
of ``--data`` held out *before* negatives are made, so no sequence has its shuffled copy on the other side); test
data is evaluated once with the best weights and never used for a choice.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.readers.sequences import ALPHABETS, read_label_file
from ..models import ClassifierConfig
from ..models.binding_classifier import BindingSiteClassifier, ConvFrontEndConfig
from ..text import Vocab
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import Trainer
from .classify import batch_loss, metrics_of, predict_probabilities
from .classify_data import Encoded, stratified_split, training_batches
from .dna_data import (
    NEGATIVE,
    POSITIVE,
    SequenceDataConfig,
    build_kmer_vocab,
    check_labelled,
    encode_records,
    read_records,
    sample,
    with_shuffled_negatives,
)
from .lm import check_device, seed_everything
from .run_dir import Paths, absolute_paths, check_data_given, fit_keeping_best, resumed_run, start_run, write_run_config

TASK = "dna"
SETTINGS = {"sequence": SequenceDataConfig, "model": ClassifierConfig, "frontend": ConvFrontEndConfig,
            "train": TrainConfig}


def build_model(num_classes: int, sequence: SequenceDataConfig, model: ClassifierConfig,
                frontend: ConvFrontEndConfig, vocab: Vocab | None) -> BindingSiteClassifier:
    """The classifier for these settings (k-mer inputs need the vocabulary)."""
    return BindingSiteClassifier(num_classes, model, frontend, inputs=sequence.inputs,
                                 alphabet_size=len(ALPHABETS[sequence.alphabet].letters),
                                 vocab_size=len(vocab) if vocab is not None else None,
                                 pad_id=vocab.pad_id if vocab is not None else 0)


def train_dna(out: Path, *, data: Paths | None = None, valid: Paths | None = None, test: Paths | None = None,
              labels_file: str | Path | None = None, sequence: SequenceDataConfig | None = None,
              model: ClassifierConfig | None = None, frontend: ConvFrontEndConfig | None = None,
              train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) a sequence classifier into the run directory ``out``; return the final metrics.

    Args:
        labels_file: for FASTA files: ``NAME LABEL`` lines giving each record's label.
        resume: continue the run in ``out`` from its last checkpoint, with its saved data and settings.
        epochs: with ``resume``, a new number of epochs (to extend a finished run).

    Raises:
        ValueError: For malformed data (naming file, line and character), a single class without
            ``negatives="shuffle"``, a label in ``valid``/``test`` that training did not have, or bad settings.
    """
    out = Path(out)
    sequence, model = sequence or SequenceDataConfig(), model or ClassifierConfig()
    frontend, train = frontend or ConvFrontEndConfig(), train or TrainConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        sequence, model, frontend, train = (settings[name] for name in SETTINGS)
        data, valid, test, labels_file = saved["train"], saved["valid"], saved["test"], saved.get("labels_file")
    check_device(train.device)
    names = read_label_file(labels_file) if labels_file is not None else None
    records = sample(read_records(data, sequence, "--data", names), sequence.max_examples, train.seed)
    valid_records = read_records(valid, sequence, "--valid", names) if valid is not None else None
    test_records = read_records(test, sequence, "--test", names) if test is not None else None
    if valid_records is None:
        kept, held_out = stratified_split([record.label or POSITIVE for record in records], sequence.valid_fraction,
                                          train.seed)
        if not held_out:
            raise ValueError(f"--data: {len(records)} records are too few to hold out a validation share; "
                             "pass --valid")
        records, valid_records = [records[i] for i in kept], [records[i] for i in held_out]
        if sequence.negatives == "shuffle":
            valid_records = with_shuffled_negatives(valid_records, random.Random(f"{train.seed} valid"))
    if sequence.negatives == "shuffle":
        records = with_shuffled_negatives(records, random.Random(f"{train.seed} train"))
    for name, split in (("--data", records), ("--valid", valid_records), ("--test", test_records)):
        if split is not None:
            check_labelled(split, name)
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

    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = build_model(len(labels), sequence, model, frontend, vocab).to(device)
    pad_id = vocab.pad_id if vocab is not None else 0
    start_run(out, resume, {"vocab.json": vocab} if vocab is not None else None, {"labels": labels})
    write_run_config(out, TASK, {
        "sequence": asdict(sequence), "model": asdict(model), "frontend": asdict(frontend), "train": asdict(train),
        "labels": labels,
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                 "labels_file": absolute_paths(labels_file) if labels_file is not None else None,
                 "examples": {"train": len(train_data), "valid": len(valid_data),
                              "test": None if test_data is None else len(test_data)}},
    })

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = metrics_of(predict_probabilities(net, valid_data, pad_id), valid_data.labels, "valid")
        picked = {key: metrics[key] for key in ("valid_loss", "valid_accuracy", "valid_roc_auc") if key in metrics}
        # the epoch is chosen by validation ROC-AUC where there is one (the field's metric), else by accuracy
        picked["valid_error"] = 1.0 - metrics.get("valid_roc_auc", metrics["valid_accuracy"])
        return picked

    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, pad_id)
    trainer = Trainer(network, train, batch_loss, batches, evaluate=evaluate, monitor="valid_error", run_dir=out,
                      steps_per_epoch=steps_per_epoch, show_perplexity=False)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    results.update(split_metrics(network, valid_data, pad_id, "valid"))
    if test_data is not None:
        results.update(split_metrics(network, test_data, pad_id, "test"))
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} sequence classifier")
    return results


def split_metrics(network: nn.Module, data: Encoded, pad_id: int, prefix: str) -> dict[str, Any]:
    return metrics_of(predict_probabilities(network, data, pad_id), data.labels, prefix)
