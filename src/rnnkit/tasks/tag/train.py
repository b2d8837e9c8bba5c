"""The tagging task (many-to-many, synchronous): a sentence in, one tag per token out.

The one place that knows which reader, model, loss and metrics go together for tagging: CoNLL-style column files
(see :mod:`rnnkit.data.readers.conll`), or ``(tokens, tags)`` pairs from Python -> word ids and tag ids ->
batches of similar lengths -> :class:`~rnnkit.models.SequenceTagger` -> cross-entropy summed over the real tokens
(padding never counts). The best epoch is chosen on validation data (``--valid``, or a held-out share of
``--data``); test data is evaluated once, at the end, and never used for a choice.

Metrics: token accuracy (over real tokens, ``O`` included, as conlleval's "accuracy") and, when the tags are a
chunk tag set (BIO/IOB1/IOB2/IOBES: every tag ``O`` or ``B-``/``I-``/``E-``/``S-TYPE``), entity-level
precision, recall and F1 as conlleval computes them (:mod:`rnnkit.analysis.spans`), overall and per type.
Selection monitors the validation span F1 for chunk tag sets, else the validation token error.

    RUN/ config.json (task "tag": data, model, train settings), vocab.json (words), tags.json (tags),
         model.safetensors, metrics.jsonl, curves.png, checkpoint/
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...analysis.spans import is_chunk_tagset, span_scores
from ...data.prepared_records import PreparedRecords, prepared_dir, steps_per_epoch
from ...models.tagger import IGNORE_INDEX, SequenceTagger, TaggerConfig, tagging_loss
from ...text import Vocab
from ...text.char_ids import build_char_vocab
from ...train.config import TrainConfig
from ...train.distributed import check_batch_size
from ...train.trainer import StepResult
from ..base import Run, finish_run, prepare_run
from ..common import EVAL_BATCH_SIZE
from ..model_size import build_within_limit
from ..pretrained import load_pretrained
from .data import (
    NAME,
    EncodedTags,
    TagDataConfig,
    build_tag_vocab,
    build_vocab,
    encode_sentences,
    evaluation_batches,
    sentences_from,
    split_sentences,
    training_batches,
)
from .prepared import prepared_data

SETTINGS = {"text": TagDataConfig, "model": TaggerConfig, "train": TrainConfig}


def batch_loss(model: nn.Module, batch: tuple, state: Any) -> StepResult:
    """Loss of one batch ``(ids, lengths, tags[, chars])`` summed over its real tokens (the count): cross-entropy,
    or the CRF's negative log-likelihood."""
    device = next(model.parameters()).device
    ids, lengths, tags, *chars = (part.to(device) for part in batch)
    logits = model(ids, lengths, *chars)  # (B, T, K)
    tokens = int(lengths.sum())
    return StepResult(loss_of(model, logits, tags, lengths), tokens, None, tokens=tokens, padded_tokens=ids.numel())


def loss_of(model: nn.Module, logits: torch.Tensor, tags: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The model's own loss (a CRF's likelihood) where it has one, else per-token cross-entropy."""
    if isinstance(model, SequenceTagger):
        return model.loss(logits, tags, lengths)
    return tagging_loss(logits, tags, lengths)


@torch.no_grad()
def predict_tags(model: nn.Module, data: EncodedTags, pad_id: int,
                 batch_size: int = EVAL_BATCH_SIZE) -> tuple[list[list[int]], float]:
    """The argmax tag ids of every sentence (in the data's order), and the summed loss against ``data.tags``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    predicted: list[list[int] | None] = [None] * len(data)
    loss = 0.0
    for indices, (ids, lengths, tags, *chars) in evaluation_batches(data, batch_size, pad_id):
        logits = model(ids.to(device), lengths, *(part.to(device) for part in chars))  # (B, T, K)
        loss += float(loss_of(model, logits, tags.to(device), lengths))
        if isinstance(model, SequenceTagger):
            guesses = model.decode(logits, lengths)
        else:
            best = logits.argmax(2).cpu()  # (B, T)
            guesses = [best[row, : int(length)].tolist() for row, length in enumerate(lengths)]
        for index, guess in zip(indices, guesses, strict=True):
            predicted[index] = guess
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


@dataclass
class TagData:
    """The encoded splits of a run and the vocabularies they were encoded with."""

    train: EncodedTags | PreparedRecords  # prepared: read on disk
    valid: EncodedTags
    test: EncodedTags | None
    vocab: Vocab
    tag_vocab: Vocab
    char_vocab: Vocab | None = None

    @property
    def tag_names(self) -> list[str]:
        return list(self.tag_vocab.itos)


Data = str | os.PathLike[str] | Sequence[Any]  # CoNLL file path(s), or (tokens, tags) pairs


def train_tagger(out: str | os.PathLike[str], *, data: Data | None = None, valid: Data | None = None,
                 test: Data | None = None, text: TagDataConfig | None = None, model: TaggerConfig | None = None,
                 train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None,
                 callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a sequence tagger into the run directory ``out``; return the final metrics.

    ``data``, ``valid``, ``test``: CoNLL file path(s), or sequences of ``(tokens, tags)`` pairs (two equal-length
    lists of strings). Without ``valid``, ``text.valid_fraction`` of the training sentences is held out (seeded by
    ``train.seed``); ``valid`` and ``test`` are read and checked before training. With ``resume``, the run's saved
    settings and data are used (in-memory data must be given again) and training continues from its checkpoint.

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line, or the item), a single tag, a tag
            in ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"text": text, "model": model, "train": train}, callbacks=callbacks)
    if prepared_dir(run.data) is not None:  # ids on disk (rnnkit prepare tag), read through memory maps
        return _train_prepared(run)
    text, model, train = (run.settings[name] for name in SETTINGS)
    splits = read_data(run, text, model)
    network = build_within_limit(lambda: SequenceTagger(
        len(splits.tag_vocab), len(splits.vocab), model, pad_id=splits.vocab.pad_id, unk_id=splits.vocab.unk_id,
        tag_names=splits.tag_names, num_chars=len(splits.char_vocab) if splits.char_vocab is not None else None))
    vectors = load_pretrained(network.embedding, splits.vocab, text)
    if model.word_dropout_alpha > 0:
        network.set_word_counts(word_counts(splits.train, len(splits.vocab)))
    network = network.to(run.device)
    counts = {"train": len(splits.train), "valid": len(splits.valid),
              "test": None if splits.test is None else len(splits.test)}
    vocabularies = {"vocab.json": splits.vocab, "tags.json": splits.tag_vocab}
    if splits.char_vocab is not None:
        vocabularies["chars.json"] = splits.char_vocab
    run.start({"text": text, "model": model, "train": train}, vocabularies=vocabularies,
              data_extra={"sentences": counts, **({"embeddings": vectors} if vectors else {})})
    chunked = is_chunk_tagset(splits.tag_names)
    batches, steps_per_epoch = training_batches(splits.train, train.batch_size, train.seed, splits.vocab.pad_id)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(splits, chunked),
                      monitor="valid_f1_error" if chunked else "valid_error", steps_per_epoch=steps_per_epoch)
    for prefix, split in (("valid", splits.valid), ("test", splits.test)):
        if split is not None:
            predicted, loss = predict_tags(network, split, splits.vocab.pad_id)
            results.update(metrics_of(predicted, loss, split, splits.tag_names, prefix))
    if vectors:
        results["embeddings_found"] = vectors["found_share"]
    return finish_run(run, results, title=f"{model.cell} tagger")


def word_counts(data: EncodedTags, vocab_size: int) -> torch.Tensor:
    """``(V,)``: how often each word id occurs in the encoded training sentences (frequency-aware word dropout)."""
    if not data.ids:
        return torch.zeros(vocab_size, dtype=torch.long)
    return torch.bincount(torch.cat([torch.as_tensor(ids).flatten() for ids in data.ids]), minlength=vocab_size)


def read_data(run: Run, text: TagDataConfig, model: TaggerConfig | None = None) -> TagData:
    """The run's sentences read, checked, split (without ``valid``) and encoded; vocabularies from training."""
    train_sentences = sentences_from(run.data, text, "data")
    tag_vocab = build_tag_vocab(train_sentences, run.data)
    valid_sentences = sentences_from(run.valid, text, "valid") if run.valid is not None else None
    test_sentences = sentences_from(run.test, text, "test") if run.test is not None else None
    if valid_sentences is None:
        if len(train_sentences) < 2:
            raise ValueError(f"--data: {len(train_sentences)} sentence is too few to hold out a validation share; "
                             "pass --valid")
        kept, held_out = split_sentences(len(train_sentences), text.valid_fraction, run.train.seed)
        train_sentences, valid_sentences = [train_sentences[i] for i in kept], [train_sentences[i] for i in held_out]
    vocab = build_vocab(train_sentences, text)
    char_vocab = None
    if model is not None and model.char_features != "none":
        char_vocab = build_char_vocab(sentence.tokens for sentence in train_sentences)
    train_data, valid_data = (encode_sentences(split, vocab, tag_vocab, text, char_vocab)
                              for split in (train_sentences, valid_sentences))
    test_data = (encode_sentences(test_sentences, vocab, tag_vocab, text, char_vocab)
                 if test_sentences is not None else None)
    return TagData(train_data, valid_data, test_data, vocab, tag_vocab, char_vocab)


def validation_of(splits: TagData, chunked: bool):
    """The trainer's ``evaluate``: validation loss, accuracy and error (and span F1 for a chunk tag set)."""

    def evaluate(net: nn.Module) -> dict[str, float]:
        predicted, loss = predict_tags(net, splits.valid, splits.vocab.pad_id)
        metrics = metrics_of(predicted, loss, splits.valid, splits.tag_names, "valid")
        record = {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                  "valid_error": 1.0 - metrics["valid_accuracy"]}
        if chunked:
            record |= {"valid_f1": metrics["valid_f1"], "valid_f1_error": 1.0 - metrics["valid_f1"]}
        return record

    return evaluate


def _train_prepared(run: Run) -> dict[str, Any]:
    """:func:`train_tagger` on a prepared directory (:mod:`.prepared`): its vocabulary, tags and reading settings;
    each rank reads its own part of the sentences, a bounded buffer at a time."""
    records, valid, test, tag_vocab = prepared_data(run)
    text, model, train = (run.settings[name] for name in SETTINGS)
    vocab, splits = records.vocab, TagData(records, valid, test, records.vocab, tag_vocab)
    network = build_within_limit(lambda: SequenceTagger(
        len(tag_vocab), len(vocab), model, pad_id=vocab.pad_id, unk_id=vocab.unk_id, tag_names=splits.tag_names))
    vectors = load_pretrained(network.embedding, vocab, text)
    if model.word_dropout_alpha > 0:
        network.set_word_counts(records.token_counts())
    network = network.to(run.device)
    local = check_batch_size(train.batch_size, run.distributed)
    counts = {"train": len(records), "valid": len(valid), "test": None if test is None else len(test)}
    run.start({"text": text, "model": model, "train": train},
              vocabularies={"vocab.json": vocab, "tags.json": tag_vocab},
              data_extra={"sentences": counts, "source": f"{run.data} (prepared: {len(records)} sentences)",
                          **({"embeddings": vectors} if vectors else {})})
    chunked = is_chunk_tagset(splits.tag_names)
    batches = records.batches(local, train.seed, run.distributed.rank, run.distributed.world_size,
                              pad_id=vocab.pad_id, tag_pad=IGNORE_INDEX)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(splits, chunked),
                      monitor="valid_f1_error" if chunked else "valid_error", shard=None,  # each rank reads its own
                      steps_per_epoch=steps_per_epoch(len(records), local, run.distributed.world_size))
    for prefix, split in (("valid", valid), ("test", test)):
        if split is not None:
            predicted, loss = predict_tags(network, split, vocab.pad_id)
            results.update(metrics_of(predicted, loss, split, splits.tag_names, prefix))
    if vectors:
        results["embeddings_found"] = vectors["found_share"]
    return finish_run(run, results, title=f"{model.cell} tagger")
