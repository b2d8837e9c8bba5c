"""A trained conditional generator put to use: texts of a chosen class, perplexity on labelled files.

    P(y | label) = prod_t P(y_t | y_<t, label),    perplexity = exp(-log P(y <eos> | label) / (T + 1))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ...decode.condgen import generate_conditional
from ...models.condgen import ConditionalGenerator, ConditionalGeneratorConfig
from ...text import Vocab
from ...train.checkpoint import load_model_weights
from ..common import EVAL_BATCH_SIZE, check_batch_size
from ..export_graphs import export_condgen
from ..run_dir import Paths, read_run_config, run_settings
from ..text_data import TextDataConfig, encode_examples, read_examples
from .data import NAME, SPECIALS, evaluation_batches
from .loss import corpus_loss


class ConditionalGeneratorPredictor:
    """The verbs of a conditional-generation run: :meth:`generate` and :meth:`evaluate`.

    ``labels`` are the conditions the model knows, in id order (sorted).
    """

    task = NAME

    def __init__(self, model: ConditionalGenerator, vocab: Vocab, labels: list[str], text: TextDataConfig,
                 max_length: int = 100) -> None:
        missing = [special for special in SPECIALS if special not in vocab.stoi]
        if missing:
            raise ValueError(f"vocab: has no {', '.join(missing)}; expected the specials {list(SPECIALS)}")
        self.model, self.vocab, self.labels, self.text = model.eval(), vocab, labels, text
        self.max_length = max_length
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> ConditionalGeneratorPredictor:
        """Rebuild the generator of a run directory from its config, vocabulary and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"text": TextDataConfig, "model": ConditionalGeneratorConfig})
        labels, generation = config.get("labels"), config.get("generation")
        if not isinstance(labels, list) or not isinstance(generation, dict) or \
                not isinstance(generation.get("max_length"), int):
            raise ValueError(f"{Path(run_dir) / 'config.json'}: not a valid {NAME!r} run config (expected a list of "
                             "labels and generation.max_length)")
        labels = [str(label) for label in labels]
        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        model = ConditionalGenerator(len(vocab), settings["model"], num_classes=len(labels), pad_id=vocab.pad_id)
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        return cls(model.to(device), vocab, labels, settings["text"], generation["max_length"])

    def label_id(self, condition: str) -> int:
        """The id of a condition label; an unknown one is a ValueError listing the known ones."""
        if condition not in self.labels:
            raise ValueError(f"--condition: got {condition!r}; this model knows {', '.join(map(repr, self.labels))}")
        return self.labels.index(condition)

    def join(self, tokens: list[str]) -> str:
        """Tokens back to text: words joined by spaces, characters concatenated."""
        return " ".join(tokens) if self.text.level == "word" else "".join(tokens)

    @torch.no_grad()
    def generate(self, condition: str, n: int = 1, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, max_length: int | None = None, seed: int | None = None,
                 batch_size: int = 256, guidance: float = 0.0) -> list[str]:
        """``n`` texts sampled for the class ``condition`` (each up to ``<eos>``, at most ``max_length`` tokens).

        Args:
            condition: one of :attr:`labels`.
            n: how many texts.
            temperature, top_k, top_p: see :func:`rnnkit.decode.sampling.sample_next` (temperature 0: greedy).
            max_length: token limit per text (default: the run's, the longest training text + 10).
            seed: seed of the sampling (None: fresh randomness); the same seed gives the same texts.
            batch_size: texts decoded together.
            guidance: w of classifier-free guidance (0: plain sampling); see
                :func:`~rnnkit.decode.condgen.generate_conditional`.

        Raises:
            ValueError: For an unknown condition (listing the known ones) or settings out of range.
        """
        label = self.label_id(condition)
        for name, value in (("n", n), ("batch_size", batch_size), ("max_length", max_length or self.max_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        generator = torch.Generator(device=self.device)
        if seed is None:
            generator.seed()  # fresh randomness for this generator only
        else:
            generator.manual_seed(seed)
        stoi = self.vocab.stoi
        banned = [stoi[token] for token in ("<pad>", "<unk>", "<bos>")]
        texts: list[str] = []
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            conditions = torch.full((count,), label, dtype=torch.long, device=self.device)
            sequences = generate_conditional(self.model, conditions, stoi["<bos>"], stoi["<eos>"],
                                             max_length or self.max_length, temperature, top_k, top_p, banned,
                                             generator, guidance=guidance)
            texts += [self.join(self.vocab.decode(ids)) for ids in sequences]
        return texts

    @torch.no_grad()
    def evaluate(self, data: Paths | Sequence[tuple[str, str]], batch_size: int = EVAL_BATCH_SIZE,
                 format: str | None = None) -> dict[str, Any]:
        """Loss (nats per token, ``<eos>`` included), perplexity, and perplexity per label of labelled data read
        as in training (columns, encoding, tokens), or of in-memory ``(text, label)`` pairs, each text conditioned
        on its own label.

        ``format`` None reads the data in the training data's format, except that one path given to a run trained
        on one file per class (``"files"``, which needs a file per class) is detected (``"auto"``: a table, or
        label-first lines), so ``rnnkit evaluate RUN --data test.tsv`` works for such runs too.

        Raises:
            ValueError: For malformed data, or a label that the model was not trained on (naming file and line).
        """
        check_batch_size(batch_size)
        if format is None:  # (in-memory pairs are read whatever the format)
            single = isinstance(data, str | os.PathLike) or len(data) == 1
            format = "auto" if self.text.format == "files" and single else self.text.format
        text = replace(self.text, format=format)
        encoded = encode_examples(read_examples(data, text, "--data"), self.vocab, self.labels)
        metrics = corpus_loss(self.model, evaluation_batches(encoded, batch_size, self.vocab), self.vocab.pad_id,
                              len(self.labels))
        metrics["ppl_by_label"] = dict(zip(self.labels, metrics["ppl_by_label"], strict=True))
        return {"labels": self.labels, **metrics, "examples": len(encoded)}

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            vocabulary and labels (two graphs: initial and step).
        """
        return export_condgen(self, path, format)
