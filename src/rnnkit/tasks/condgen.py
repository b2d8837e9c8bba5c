"""The conditional-generation task (one-to-many): a class label in, a text of that class out.

The one place that knows what goes together for conditional generation: labelled text files (read as for
classification: tables, label-first lines, a file per class, folders per class; see
:mod:`rnnkit.tasks.classify_data`) -> tokens -> a vocabulary with ``<bos>`` and ``<eos>`` -> batches of similar
lengths -> :class:`~rnnkit.models.ConditionalGenerator` (the label sets the decoder's initial state) ->
cross-entropy summed over the real target tokens (``y_1 .. y_T <eos>``; padding ignored). The best epoch is the
one with the lowest validation loss per token (``--valid``, or a stratified share of ``--data``); test data is
evaluated once at the end. Metrics: loss (nats per token) and perplexity, conditioned on the label.

::

    label "pos", tokens [a, fine, film]  ─▶  condition 1;  inputs  <bos> a    fine film
                                                          targets a     fine film <eos>
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..data.batching import bucketed_epochs, length_ordered_batches
from ..models.condgen import ConditionalGenerator, ConditionalGeneratorConfig, sequence_loss
from ..text import Vocab
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .classify_data import (
    Encoded,
    TextDataConfig,
    encode_splits,
    read_splits,
)
from .lm import check_device, seed_everything
from .run_dir import Paths, absolute_paths, check_data_given, fit_keeping_best, resumed_run, start_run, write_run_config

TASK = "condgen"
SETTINGS = {"text": TextDataConfig, "model": ConditionalGeneratorConfig, "train": TrainConfig}
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
EVAL_BATCH_SIZE = 64
Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # labels (B,), inputs (B, T), targets (B, T), lengths (B,)


def build_vocab(examples: Sequence[tuple[list[str], str, str]], text: TextDataConfig) -> Vocab:
    """The training tokens' vocabulary, with ``<pad> <unk> <bos> <eos>`` first."""
    return Vocab.build((tokens for tokens, _, _ in examples), min_freq=text.min_freq, max_size=text.max_vocab,
                       specials=SPECIALS)


def collate(data: Encoded, indices: Sequence[int], vocab: Vocab) -> Batch:
    """``(labels, inputs, targets, lengths)``: inputs ``<bos> y_1 ..``, targets ``.. y_T <eos>``, padded."""
    bos, eos, pad = vocab.stoi["<bos>"], vocab.stoi["<eos>"], vocab.pad_id
    lengths = torch.tensor([len(data.ids[i]) + 1 for i in indices], dtype=torch.long)  # (B,)
    inputs = torch.full((len(indices), int(lengths.max())), pad, dtype=torch.long)  # (B, T)
    targets = inputs.clone()
    for row, index in enumerate(indices):
        ids = data.ids[index]
        inputs[row, 0] = bos
        inputs[row, 1 : len(ids) + 1] = ids
        targets[row, : len(ids)] = ids
        targets[row, len(ids)] = eos
    return torch.tensor([data.labels[i] for i in indices], dtype=torch.long), inputs, targets, lengths


def training_batches(data: Encoded, batch_size: int, seed: int, vocab: Vocab):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, vocab))


def evaluation_batches(data: Encoded, batch_size: int, vocab: Vocab) -> list[Batch]:
    """Every example once, in length order (little padding)."""
    return [batch for _, batch in length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                                         lambda indices: collate(data, indices, vocab))]


def batch_loss(model: nn.Module, batch: Batch, pad_id: int) -> StepResult:
    """Summed cross-entropy over the real target tokens of one batch (padding ignored)."""
    device = next(model.parameters()).device
    labels, inputs, targets, lengths = batch
    logits = model(labels.to(device), inputs.to(device), lengths)  # (B, T, V)
    count = int(lengths.sum())  # real targets: the tokens and one <eos> each
    return StepResult(sequence_loss(logits, targets.to(device), pad_id), count, None, tokens=count)


@torch.no_grad()
def corpus_loss(model: nn.Module, batches: list[Batch], pad_id: int, num_classes: int) -> dict[str, Any]:
    """Loss per target token (nats), perplexity, and the perplexity of each class's texts (model in eval mode)."""
    was_training = model.training
    model.eval()
    totals, counts = [0.0] * num_classes, [0] * num_classes
    device = next(model.parameters()).device
    for labels, inputs, targets, lengths in batches:
        logits = model(labels.to(device), inputs.to(device), lengths).float()  # (B, T, V)
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.to(device), ignore_index=pad_id,
                                                   reduction="none").sum(1).cpu()  # (B,)
        for label, loss, length in zip(labels.tolist(), losses.tolist(), lengths.tolist(), strict=True):
            totals[label] += loss
            counts[label] += length
    model.train(was_training)
    mean = math.fsum(totals) / max(sum(counts), 1)
    return {"loss": mean, "ppl": math.exp(min(mean, 700.0)), "tokens": sum(counts),
            "ppl_by_label": [math.exp(min(total / count, 700.0)) if count else None
                             for total, count in zip(totals, counts, strict=True)]}


def train_condgen(out: Path, *, data: Paths | None = None, valid: Paths | None = None, test: Paths | None = None,
                  text: TextDataConfig | None = None, model: ConditionalGeneratorConfig | None = None,
                  train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) a label-conditioned generator into the run directory ``out``; return the final metrics.

    Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by ``train.seed``)
    for choosing the best epoch. ``test`` is read and checked first, and evaluated once with the best weights.
    With ``resume``, the run's saved data and settings are used and training continues from its last checkpoint
    (``epochs`` may extend a finished run).

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line), a single class, a label in
            ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    out = Path(out)
    text, model, train = text or TextDataConfig(), model or ConditionalGeneratorConfig(), train or TrainConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        text, model, train = settings["text"], settings["model"], settings["train"]
        data, valid, test = saved["train"], saved["valid"], saved["test"]
    check_device(train.device)
    labels, train_examples, valid_examples, test_examples = read_splits(data, valid, test, text, train.seed)
    vocab = build_vocab(train_examples, text)
    train_data, valid_data, test_data = encode_splits(vocab, labels, train_examples, valid_examples, test_examples)

    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = ConditionalGenerator(len(vocab), model, num_classes=len(labels), pad_id=vocab.pad_id).to(device)
    start_run(out, resume, {"vocab.json": vocab}, {"labels": labels})
    write_run_config(out, TASK, {
        "text": asdict(text), "model": asdict(model), "train": asdict(train), "labels": labels,
        # generation stops after this many tokens without <eos>: the longest training text, plus a margin
        "generation": {"max_length": max(len(ids) for ids in train_data.ids) + 10},
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                 "examples": {"train": len(train_data), "valid": len(valid_data),
                              "test": None if test_data is None else len(test_data)}},
    })
    pad_id = vocab.pad_id
    valid_batches = evaluation_batches(valid_data, EVAL_BATCH_SIZE, vocab)

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = corpus_loss(net, valid_batches, pad_id, len(labels))
        return {"valid_loss": metrics["loss"], "valid_ppl": metrics["ppl"]}

    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, vocab)
    trainer = Trainer(network, train, lambda net, batch, state: batch_loss(net, batch, pad_id), batches,
                      evaluate=evaluate, monitor="valid_loss", run_dir=out, steps_per_epoch=steps_per_epoch)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    for prefix, split in (("valid", valid_data), ("test", test_data)):
        if split is not None:
            metrics = corpus_loss(network, evaluation_batches(split, EVAL_BATCH_SIZE, vocab), pad_id, len(labels))
            results.update({f"{prefix}_loss": metrics["loss"], f"{prefix}_ppl": metrics["ppl"],
                            f"{prefix}_ppl_by_label": dict(zip(labels, metrics["ppl_by_label"], strict=True))})
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} conditional generator")
    return results


__all__ = ["SPECIALS", "TASK", "batch_loss", "build_vocab", "collate", "corpus_loss", "train_condgen"]
