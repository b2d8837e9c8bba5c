"""A trained classifier put to use: class probabilities for new texts, metrics on labelled files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ...data.limits import stdin_lines
from ...data.readers.labelled import LabelledText, read_texts
from ...models import ClassifierConfig, build_classifier
from ...text import Vocab
from ...text.subword import SubwordTokenizer
from ...train.checkpoint import load_model_weights
from ..common import Encoded, check_batch_size, evaluation_report, predict_probabilities
from ..export_graphs import export_classifier, settings_of, vocabulary
from ..run_dir import Paths, read_run_config, run_settings
from ..text_data import TextDataConfig, encode_examples, read_examples, tokens_of
from .chars import CharFeaturesConfig, add_chars, load_char_vocab
from .data import NAME
from .stream import ClassifierStream
from .subword import SubwordConfig, load_segmenter, segment


class ClassifierPredictor:
    """The verbs of a classification run: :meth:`predict` and :meth:`evaluate`.

    ``labels`` are the class names in id order (sorted); for two classes the second is the positive one of
    ROC-AUC and PR-AUC.
    """

    task = NAME

    def __init__(self, model: torch.nn.Module, vocab: Vocab, labels: list[str], text: TextDataConfig,
                 segmenter: SubwordTokenizer | None = None, char_vocab: Vocab | None = None) -> None:
        self.model, self.vocab, self.labels, self.text = model.eval(), vocab, labels, text
        self.segmenter = segmenter  # a subword run's pieces (tokenizer.json)
        self.char_vocab = char_vocab  # a run with character features (chars.json)

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> ClassifierPredictor:
        """Rebuild the classifier of a run directory from its config, vocabulary and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"text": TextDataConfig, "model": ClassifierConfig,
                                                  "subword": SubwordConfig, "chars": CharFeaturesConfig},
                                optional=("subword", "chars"))
        text, model_config, chars = settings["text"], settings["model"], settings["chars"]
        if not isinstance(config.get("labels"), list):
            raise ValueError(f"{Path(run_dir) / 'config.json'}: not a valid {NAME!r} run config (no list of labels)")
        labels = [str(label) for label in config["labels"]]
        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        char_vocab = load_char_vocab(Path(run_dir), chars)
        model = build_classifier(len(labels), model_config, vocab_size=len(vocab), pad_id=vocab.pad_id,
                                 **chars.model_arguments(char_vocab))
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        return cls(model.to(device), vocab, labels, text, load_segmenter(Path(run_dir), settings["subword"]),
                   char_vocab)

    def read_inputs(self, source: str, text_column: str | None = None) -> list[LabelledText]:
        """The texts ``rnnkit predict RUN --input SOURCE`` reads: ``"-"`` the non-empty lines of stdin (``stdin
        line N``), else the file ``source``: the ``text_column`` of a CSV/TSV/JSONL table (default: the run's),
        or one text per non-blank line, in the run's encoding."""
        if source == "-":
            return [LabelledText(line, None, f"stdin line {number}")
                    for number, line in enumerate(stdin_lines(), 1) if line.strip()]
        return list(read_texts(Path(source), text_column or self.text.text_column, self.text.encoding))

    def _encode(self, records: list[LabelledText]) -> Encoded:
        """Token ids of unlabelled records (label ids 0: unused)."""
        examples = segment([(tokens_of(record, self.text), "", record.where) for record in records], self.segmenter,
                           self.text)
        ids = [torch.tensor(self.vocab.encode(tokens), dtype=torch.long) for tokens, _, _ in examples]
        encoded = Encoded(ids, [0] * len(records), [record.where for record in records])
        add_chars(encoded, examples, self.char_vocab)
        return encoded

    def predict(self, texts: Iterable[str | LabelledText], batch_size: int = 64) -> list[dict[str, Any]]:
        """For each text: ``{"text", "label", "probabilities": {label: p}}``, in the order given.

        Raises:
            ValueError: If a text has no tokens (naming where it came from: ``text N`` or the file and line).
        """
        check_batch_size(batch_size)
        records = [text if isinstance(text, LabelledText) else LabelledText(text, None, f"text {number}")
                   for number, text in enumerate(texts, 1)]
        if not records:
            return []
        probabilities = predict_probabilities(self.model, self._encode(records), self.vocab.pad_id, batch_size)
        return [{"text": record.text, "label": self.labels[int(row.argmax())],
                 "probabilities": dict(zip(self.labels, row.tolist(), strict=True))}
                for record, row in zip(records, probabilities, strict=True)]

    def stream(self) -> ClassifierStream:
        """A stream fed a text piece by piece: the label probabilities of the text so far after each token (a
        unidirectional classifier only; see :class:`~rnnkit.tasks.classify.stream.ClassifierStream`)."""
        self._refuse_char_features("stream")
        return ClassifierStream(self)

    def _refuse_char_features(self, verb: str) -> None:
        """Streams and exported graphs feed word ids only: a run that also reads each word's characters would
        silently lose them there."""
        if self.char_vocab is not None:
            raise ValueError(f"{verb}: this classifier reads character features (--char-features); {verb} feeds "
                             "word ids only, so it is not offered for such a run (predict and serve work)")

    @torch.no_grad()
    def evaluate(self, data: Paths | Sequence[tuple[str, str]], batch_size: int = 64,
                 confusion_png: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """accuracy, macro_f1, confusion_matrix (rows: truth, in :attr:`labels` order), loss and, for two
        classes, roc_auc and pr_auc of labelled data read as in training (same format, columns, encoding), or of
        in-memory ``(text, label)`` pairs.

        Raises:
            ValueError: For malformed data, or a label that the model was not trained on (naming file and line).
        """
        check_batch_size(batch_size)
        examples = segment(read_examples(data, self.text, "--data"), self.segmenter, self.text)
        encoded = encode_examples(examples, self.vocab, self.labels)
        add_chars(encoded, examples, self.char_vocab)
        probabilities = predict_probabilities(self.model, encoded, self.vocab.pad_id, batch_size)
        return evaluation_report(probabilities, encoded.labels, self.labels, confusion_png)

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            vocabulary, labels and text settings.
        """
        self._refuse_char_features("export")
        ids = torch.randint(0, len(self.vocab), (2, 3), device=next(self.model.parameters()).device)
        return export_classifier(self, path, format, ids, {"vocabulary": vocabulary(self.vocab), "text": settings_of(
            self.text), "subword_tokenizer": "tokenizer.json" if self.segmenter is not None else None})
