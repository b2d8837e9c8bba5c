"""A trained tagger put to use: tags for new sentences, metrics on tagged CoNLL files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ...data.limits import stdin_lines
from ...data.readers.conll import TaggedSentence
from ...data.readers.labelled import numbered_lines
from ...models.tagger import SequenceTagger, TaggerConfig
from ...text import Vocab
from ...train.checkpoint import load_model_weights
from ..common import check_batch_size
from ..export_graphs import export_tagger
from ..run_dir import Paths, read_run_config, run_settings
from .data import NAME, TagDataConfig, encode_sentences, read_sentences
from .stream import TaggerStream
from .train import metrics_of, predict_tags


class TaggerPredictor:
    """The verbs of a tagging run: :meth:`predict` and :meth:`evaluate`; ``tags`` are the tag names in id order."""

    task = NAME

    def __init__(self, model: SequenceTagger, vocab: Vocab, tag_vocab: Vocab, text: TagDataConfig,
                 char_vocab: Vocab | None = None) -> None:
        self.model, self.vocab, self.tag_vocab, self.text = model.eval(), vocab, tag_vocab, text
        self.tags = list(tag_vocab.itos)
        self.char_vocab = char_vocab  # the run's characters (chars.json) with character features

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> TaggerPredictor:
        """Rebuild the tagger of a run directory from its config, vocabularies and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"text": TagDataConfig, "model": TaggerConfig})
        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        tag_vocab = Vocab.load(Path(run_dir) / "tags.json")
        char_vocab = Vocab.load(Path(run_dir) / "chars.json") if settings["model"].char_features != "none" else None
        model = SequenceTagger(len(tag_vocab), len(vocab), settings["model"], pad_id=vocab.pad_id,
                               unk_id=vocab.unk_id, tag_names=list(tag_vocab.itos),
                               num_chars=len(char_vocab) if char_vocab is not None else None)
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        return cls(model.to(device), vocab, tag_vocab, settings["text"], char_vocab)

    def read_inputs(self, source: str, conll: bool = False) -> list[TaggedSentence]:
        """The sentences ``rnnkit predict RUN --input SOURCE [--conll]`` tags: with ``conll``, the run's token column
        of a CoNLL file (any tags ignored); else one whitespace-tokenized sentence per non-blank line of a file or,
        for ``"-"``, of stdin. Each sentence keeps its file and line.

        Raises:
            ValueError: ``conll`` with stdin; a malformed or empty CoNLL file.
        """
        if conll:
            if source == "-":
                raise ValueError("--conll: got --input -; expected a file (CoNLL columns are read from files)")
            return read_sentences(Path(source), self.text, "--input", tags=False)
        if source == "-":
            name, lines = "stdin", enumerate(stdin_lines(), 1)
        else:
            name, lines = str(source), numbered_lines(Path(source), self.text.encoding)
        return [TaggedSentence(tuple(line.split()), None, name, (number,) * len(line.split()))
                for number, line in lines if line.strip()]

    def predict(self, sentences: Iterable[str | Sequence[str] | TaggedSentence],
                batch_size: int = 64) -> list[dict[str, Any]]:
        """For each sentence: ``{"tokens": [...], "tags": [...]}``, in the order given.

        A sentence is a list of tokens, a :class:`TaggedSentence`, or a string split on whitespace (the tokens
        as the training files had them: CoNLL files are tokenized already).

        Raises:
            ValueError: If a sentence has no tokens (naming it: ``sentence N``, or its file and line).
        """
        check_batch_size(batch_size)
        records = []
        for number, sentence in enumerate(sentences, 1):
            if isinstance(sentence, TaggedSentence):
                records.append(TaggedSentence(sentence.tokens, None, sentence.path, sentence.lines))
                continue
            tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
            if not tokens or not all(isinstance(token, str) and token for token in tokens):
                raise ValueError(f"sentence {number}: got {sentence!r}; expected a sentence of non-empty tokens")
            records.append(TaggedSentence(tuple(tokens), None, f"sentence {number}", (number,) * len(tokens)))
        if not records:
            return []
        encoded = encode_sentences(records, self.vocab, self.tag_vocab, self.text, self.char_vocab)
        predicted, _ = predict_tags(self.model, encoded, self.vocab.pad_id, batch_size)
        return [{"tokens": list(record.tokens), "tags": [self.tags[i] for i in guesses]}
                for record, guesses in zip(records, predicted, strict=True)]

    def stream(self) -> TaggerStream:
        """A stream fed a sentence's tokens piece by piece: each token's tag as it arrives (a unidirectional
        tagger only; see :class:`~rnnkit.tasks.tag.stream.TaggerStream`)."""
        return TaggerStream(self)

    @torch.no_grad()
    def evaluate(self, data: Paths, batch_size: int = 64) -> dict[str, Any]:
        """Token accuracy, loss and (for a chunk tag set) span precision, recall, F1 and per-type scores of a
        tagged file, read with the run's columns, separator and encoding.

        Raises:
            ValueError: For a malformed file, or a tag that the model was not trained on (naming file and line).
        """
        check_batch_size(batch_size)
        encoded = encode_sentences(read_sentences(data, self.text, "--data"), self.vocab, self.tag_vocab, self.text,
                                   self.char_vocab)
        predicted, loss = predict_tags(self.model, encoded, self.vocab.pad_id, batch_size)
        metrics = metrics_of(predicted, loss, encoded, self.tags, "test")
        return {"tags": self.tags, **{key.removeprefix("test_"): value for key, value in metrics.items()}}

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            vocabularies, tags, CRF transitions and text settings.
        """
        return export_tagger(self, path, format)
