"""A trained sequence classifier put to use: class probabilities for sequences, metrics on labelled files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ...data.limits import stdin_lines
from ...data.readers.labelled import LabelledText
from ...data.readers.sequences import ALPHABETS, SequenceRecord, check_letters, read_sequences
from ...models import ClassifierConfig
from ...models.binding_classifier import BindingSiteClassifier, ConvFrontEndConfig
from ...text import Vocab
from ...train.checkpoint import load_model_weights
from ..common import check_batch_size, evaluation_report, predict_probabilities
from ..export_graphs import export_classifier, settings_of, vocabulary
from ..run_dir import Paths, read_run_config, run_settings
from .data import NAME, SequenceDataConfig, check_labelled, encode_records, read_records
from .train import build_model


class SequenceClassifierPredictor:
    """The verbs of a ``dna`` run: :meth:`predict` and :meth:`evaluate`.

    ``labels`` are the class names in id order; for two classes the second (``"1"`` with shuffled negatives) is
    the positive one of ROC-AUC and PR-AUC.
    """

    task = NAME

    def __init__(self, model: BindingSiteClassifier, vocab: Vocab | None, labels: list[str],
                 sequence: SequenceDataConfig) -> None:
        self.model, self.vocab, self.labels, self.sequence = model.eval(), vocab, labels, sequence
        self.pad_id = vocab.pad_id if vocab is not None else 0
        self.minimum_steps = model.frontend_config.shortening

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> SequenceClassifierPredictor:
        """Rebuild the classifier of a run directory from its config, k-mer vocabulary and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"sequence": SequenceDataConfig, "model": ClassifierConfig,
                                                  "frontend": ConvFrontEndConfig})
        if not isinstance(config.get("labels"), list):
            raise ValueError(f"{Path(run_dir) / 'config.json'}: not a valid {NAME!r} run config (no list of labels)")
        labels = [str(label) for label in config["labels"]]
        sequence = settings["sequence"]
        vocab = Vocab.load(Path(run_dir) / "vocab.json") if sequence.inputs == "kmer" else None
        model = build_model(len(labels), sequence, settings["model"], settings["frontend"], vocab)
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        return cls(model.to(device), vocab, labels, sequence)

    def read(self, path: str | os.PathLike[str]) -> list[SequenceRecord]:
        """The records of a FASTA or TSV file, read as in training (labels not needed)."""
        config = self.sequence
        return list(read_sequences(path, config.format, config.alphabet, config.sequence_column, None))

    def read_inputs(self, source: str) -> list[SequenceRecord | LabelledText]:
        """What ``rnnkit predict RUN --input SOURCE`` classifies: the records of a FASTA or TSV file (:meth:`read`),
        or for ``"-"`` each non-blank line of stdin as one sequence (named ``stdin line N``)."""
        if source == "-":
            return [LabelledText(line, None, f"stdin line {number}")
                    for number, line in enumerate(stdin_lines(), 1) if line.strip()]
        return self.read(Path(source))

    def predict(self, sequences: Iterable[str | SequenceRecord | LabelledText],
                batch_size: int = 64) -> list[dict[str, Any]]:
        """For each sequence: ``{"name", "label", "probabilities": {label: p}}``, in the order given.

        A sequence is a string (named ``sequence N``), a record of :meth:`read`, or a line of text read elsewhere
        (a :class:`~rnnkit.data.readers.LabelledText`, named by where it came from).

        Raises:
            ValueError: For a character outside the alphabet or a too-short sequence (naming which sequence).
        """
        check_batch_size(batch_size)
        alphabet = ALPHABETS[self.sequence.alphabet]
        records = []
        for number, item in enumerate(sequences, 1):
            if not isinstance(item, SequenceRecord):
                text, where = ((item.text, item.where) if isinstance(item, LabelledText)
                               else (item, f"sequence {number}"))
                item = SequenceRecord(check_letters(text.strip(), alphabet, where), None, where, where)
            records.append(item)
        if not records:
            return []
        records = [SequenceRecord(record.sequence[: self.sequence.max_length], None, record.where, record.name)
                   for record in records]
        encoded = encode_records(records, self.sequence, self.vocab, self.labels, self.minimum_steps)
        probabilities = predict_probabilities(self.model, encoded, self.pad_id, batch_size)
        return [{"name": record.name, "label": self.labels[int(row.argmax())],
                 "probabilities": dict(zip(self.labels, row.tolist(), strict=True))}
                for record, row in zip(records, probabilities, strict=True)]

    def evaluate(self, data: Paths, batch_size: int = 64) -> dict[str, Any]:
        """accuracy, macro_f1, confusion_matrix, loss and, for two classes, roc_auc and pr_auc of labelled data.

        Raises:
            ValueError: For malformed data, an unlabelled record, or a label the model was not trained on.
        """
        check_batch_size(batch_size)
        records = read_records(data, self.sequence, "--data")
        check_labelled(records, "evaluate")
        encoded = encode_records(records, self.sequence, self.vocab, self.labels, self.minimum_steps)
        probabilities = predict_probabilities(self.model, encoded, self.pad_id, batch_size)
        return evaluation_report(probabilities, encoded.labels, self.labels)

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            labels, k-mer vocabulary and sequence settings.
        """
        table = self.model.one_hot_table.shape[0] if self.vocab is None else len(self.vocab)
        ids = torch.randint(0, table, (2, 3), device=next(self.model.parameters()).device)
        return export_classifier(self, path, format, ids, {"vocabulary": vocabulary(self.vocab),
                                                           "sequence": settings_of(self.sequence)})
