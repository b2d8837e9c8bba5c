"""The tagging task (many-to-many, synchronous): a sentence in, one tag per token out.

The one place that knows which reader, model, loss and metrics go together for tagging: CoNLL-style column files
(see :mod:`rnnkit.data.readers.conll`) -> word ids and tag ids -> batches of similar lengths ->
:class:`~rnnkit.models.SequenceTagger` -> cross-entropy summed over the real tokens (padding never counts). The
best epoch is chosen on validation data (``--valid``, or a held-out share of ``--data``); test data is evaluated
once, at the end, and never used for a choice.

Metrics: token accuracy (over real tokens, ``O`` included, as conlleval's "accuracy") and, when the tags are a
chunk tag set (BIO/IOB1/IOB2/IOBES: every tag ``O`` or ``B-``/``I-``/``E-``/``S-TYPE``), entity-level
precision, recall and F1 as conlleval computes them (:mod:`rnnkit.analysis.spans`), overall and per type.
Selection monitors the validation span F1 for chunk tag sets, else the validation token error.

    RUN/ config.json (task "tag": data, model, train settings), vocab.json (words), tags.json (tags),
         model.safetensors, metrics.jsonl, curves.png, checkpoint/
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..analysis.spans import is_chunk_tagset, span_scores
from ..models.tagger import SequenceTagger, TaggerConfig, tagging_loss
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .lm import check_device, seed_everything
from .run_dir import Paths, absolute_paths, check_data_given, fit_keeping_best, resumed_run, start_run, write_run_config
from .tag_data import (
    EncodedTags,
    TagDataConfig,
    build_tag_vocab,
    build_vocab,
    encode_sentences,
    evaluation_batches,
    read_sentences,
    split_sentences,
    training_batches,
)

TASK = "tag"
EVAL_BATCH_SIZE = 64
SETTINGS = {"text": TagDataConfig, "model": TaggerConfig, "train": TrainConfig}


def batch_loss(model: nn.Module, batch: tuple, state: Any) -> StepResult:
    """Cross-entropy of one batch ``(ids, lengths, tags)`` summed over its real tokens (the count)."""
    device = next(model.parameters()).device
    ids, lengths, tags = (part.to(device) for part in batch)
    logits = model(ids, lengths)  # (B, T, K)
    tokens = int(lengths.sum())
    return StepResult(tagging_loss(logits, tags, lengths), tokens, None, tokens=tokens)


@torch.no_grad()
def predict_tags(model: nn.Module, data: EncodedTags, pad_id: int,
                 batch_size: int = EVAL_BATCH_SIZE) -> tuple[list[list[int]], float]:
    """The argmax tag ids of every sentence (in the data's order), and the summed loss against ``data.tags``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    predicted: list[list[int] | None] = [None] * len(data)
    loss = 0.0
    for indices, (ids, lengths, tags) in evaluation_batches(data, batch_size, pad_id):
        logits = model(ids.to(device), lengths)  # (B, T, K)
        loss += float(tagging_loss(logits, tags.to(device), lengths))
        best = logits.argmax(2).cpu()  # (B, T)
        for row, index in enumerate(indices):
            predicted[index] = best[row, : int(lengths[row])].tolist()
    model.train(was_training)
    return predicted, loss


def metrics_of(predicted: list[list[int]], loss: float, data: EncodedTags, tag_names: list[str],
               prefix: str) -> dict[str, Any]:
    """loss (nats per token), token accuracy, and span precision/recall/F1 (overall and per type) for a chunk
    tag set; every key starts with ``prefix_``."""
    gold = [tags.tolist() for tags in data.tags]
    tokens = sum(len(sentence) for sentence in gold)
    correct = sum(guess == truth for sentence, guesses in zip(gold, predicted, strict=True)
                  for truth, guess in zip(sentence, guesses, strict=True))
    metrics: dict[str, Any] = {"loss": loss / tokens, "accuracy": correct / tokens, "sentences": len(gold),
                               "tokens": tokens}
    if is_chunk_tagset(tag_names):
        names = [[tag_names[i] for i in sentence] for sentence in gold]
        guesses = [[tag_names[i] for i in sentence] for sentence in predicted]
        metrics.update(span_scores(names, guesses))
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def train_tagger(out: Path, *, data: Paths | None = None, valid: Paths | None = None, test: Paths | None = None,
                 text: TagDataConfig | None = None, model: TaggerConfig | None = None,
                 train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) a sequence tagger into the run directory ``out``; return the final metrics.

    Without ``valid``, ``text.valid_fraction`` of the training sentences is held out (seeded by ``train.seed``).
    ``valid`` and ``test`` are read and checked before training (so a mistake in them costs no training).
    With ``resume``, the run's saved data and settings are used and training continues from its last checkpoint
    (``epochs`` may extend a finished run).

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line), a single tag, a tag in ``valid``
            or ``test`` that ``data`` does not have (naming its file and line), or settings out of range.
    """
    out = Path(out)
    text, model, train = text or TagDataConfig(), model or TaggerConfig(), train or TrainConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        text, model, train = settings["text"], settings["model"], settings["train"]
        data, valid, test = saved["train"], saved["valid"], saved["test"]
    check_device(train.device)
    train_sentences = read_sentences(data, text, "--data")
    tag_vocab = build_tag_vocab(train_sentences, data)
    valid_sentences = read_sentences(valid, text, "--valid") if valid is not None else None
    test_sentences = read_sentences(test, text, "--test") if test is not None else None
    if valid_sentences is None:
        if len(train_sentences) < 2:
            raise ValueError(f"--data: {len(train_sentences)} sentence is too few to hold out a validation share; "
                             "pass --valid")
        kept, held_out = split_sentences(len(train_sentences), text.valid_fraction, train.seed)
        train_sentences, valid_sentences = [train_sentences[i] for i in kept], [train_sentences[i] for i in held_out]
    vocab = build_vocab(train_sentences, text)
    train_data = encode_sentences(train_sentences, vocab, tag_vocab, text)
    valid_data = encode_sentences(valid_sentences, vocab, tag_vocab, text)
    test_data = encode_sentences(test_sentences, vocab, tag_vocab, text) if test_sentences is not None else None
    tag_names = list(tag_vocab.itos)
    chunked = is_chunk_tagset(tag_names)

    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = SequenceTagger(len(tag_vocab), len(vocab), model, pad_id=vocab.pad_id, unk_id=vocab.unk_id).to(device)
    start_run(out, resume, {"vocab.json": vocab, "tags.json": tag_vocab})
    write_run_config(out, TASK, {
        "text": asdict(text), "model": asdict(model), "train": asdict(train),
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                 "sentences": {"train": len(train_data), "valid": len(valid_data),
                               "test": None if test_data is None else len(test_data)}},
    })

    def evaluate(net: nn.Module) -> dict[str, float]:
        predicted, loss = predict_tags(net, valid_data, vocab.pad_id)
        metrics = metrics_of(predicted, loss, valid_data, tag_names, "valid")
        record = {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                  "valid_error": 1.0 - metrics["valid_accuracy"]}
        if chunked:
            record |= {"valid_f1": metrics["valid_f1"], "valid_f1_error": 1.0 - metrics["valid_f1"]}
        return record

    monitor = "valid_f1_error" if chunked else "valid_error"
    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, vocab.pad_id)
    trainer = Trainer(network, train, batch_loss, batches, evaluate=evaluate, monitor=monitor, run_dir=out,
                      steps_per_epoch=steps_per_epoch, show_perplexity=False)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    for prefix, split in (("valid", valid_data), ("test", test_data)):
        if split is not None:
            predicted, loss = predict_tags(network, split, vocab.pad_id)
            results.update(metrics_of(predicted, loss, split, tag_names, prefix))
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} tagger")
    return results
