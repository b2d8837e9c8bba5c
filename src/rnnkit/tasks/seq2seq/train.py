"""The translation task: an encoder-decoder trained on sentence pairs with teacher forcing.

The one place that knows what goes together for translation: sentence pairs (a TSV, line-aligned parallel
files, or pairs in memory) -> word tokens -> source and target vocabularies -> length-bucketed padded batches ->
:class:`~rnnkit.models.Seq2Seq` -> cross-entropy summed over the target tokens (padding ignored). Each epoch
ends with the validation loss (per target token) and perplexity; the best epoch's weights are kept, and a test
set, if given, is translated (beam search) and scored with sacrebleu's BLEU and chrF.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...models.seq2seq import Seq2Seq, Seq2SeqConfig, sequence_loss
from ...text import Vocab
from ...train.config import TrainConfig
from ...train.trainer import StepResult
from ..base import Run, describe_data, finish_run, prepare_run
from ..model_size import build_within_limit
from .data import (
    Batch,
    EncodedPairs,
    TranslationCorpusConfig,
    build_vocabularies,
    encode_pairs,
    epoch_batches,
    filter_by_length,
    read_data,
    sample_pieces,
    split_pairs,
    tokenize_pairs,
)
from .predict import Seq2SeqPredictor
from .settings import SETTINGS, TASK_NAME, Seq2SeqTaskConfig
from .subword import SideTokenizers, run_tokenizers, trained_tokenizers

Pairs = str | Path | Sequence[tuple[str, str]]  # a TSV or parallel-file prefix, or (source, target) pairs


def batch_loss(model: nn.Module, batch: Batch, pad_id: int, teacher_forcing: float = 1.0,
               label_smoothing: float = 0.0) -> StepResult:
    """Summed cross-entropy (float32, also under bf16 autocast) of one batch over its non-padding target tokens."""
    count = int((batch.target_outputs != pad_id).sum())  # counted on the host copy: no device sync
    tokens = int(batch.source_lengths.sum()) + count
    padded_tokens = batch.source.numel() + batch.target_outputs.numel()
    batch = batch.to(next(model.parameters()).device)
    logits, _ = model(batch.source, batch.source_lengths, batch.target_inputs, teacher_forcing=teacher_forcing)
    loss = sequence_loss(logits, batch.target_outputs, pad_id, label_smoothing)
    return StepResult(loss, count, None, tokens=tokens, padded_tokens=padded_tokens)


@torch.no_grad()
def corpus_loss(model: nn.Module, batches: list[Batch], pad_id: int) -> dict[str, float]:
    """Mean loss per target token (nats) and perplexity, teacher forced, over ``batches``."""
    total, count = 0.0, 0
    for batch in batches:
        result = batch_loss(model, batch, pad_id)
        total, count = total + float(result.loss_sum), count + result.count
    mean = total / max(count, 1)
    return {"loss": mean, "ppl": math.exp(min(mean, 700.0))}


def prepare_data(data: Pairs, valid: Pairs | None, corpus: TranslationCorpusConfig, seed: int,
                 tokenizers: SideTokenizers | None = None):
    """Training and validation pairs (held out from ``data`` without ``valid``) encoded, the vocabularies, and the
    sides' tokenizers: ``tokenizers`` when given (a resumed run's own), else words or subword segmenters learnt from
    the training pairs (``corpus.subword``)."""
    pairs, data_name = read_data(data, corpus, "data"), describe_data("--data", data)
    if valid is not None:
        valid_pairs = read_data(valid, corpus, "valid")
    else:
        try:
            pairs, valid_pairs = split_pairs(pairs, corpus.valid_fraction, seed)
        except ValueError as error:
            raise ValueError(f"{data_name}: {error}") from None
    tokenizers = tokenizers if tokenizers is not None else trained_tokenizers(pairs, corpus)
    pairs, tokens = filter_by_length(pairs, tokenize_pairs(pairs, corpus, tokenizers), corpus.max_length, data_name)
    valid_name = describe_data("--valid", valid) if valid is not None else "validation pairs"
    valid_pairs, valid_tokens = filter_by_length(valid_pairs, tokenize_pairs(valid_pairs, corpus, tokenizers),
                                                 corpus.max_length, valid_name)
    source_vocab, target_vocab = build_vocabularies(tokens, corpus, tokenizers)
    train_data = encode_pairs(pairs, tokens, source_vocab, target_vocab)
    valid_data = encode_pairs(valid_pairs, valid_tokens, source_vocab, target_vocab)
    return train_data, valid_data, source_vocab, target_vocab, tokenizers


def train_seq2seq(out: Path, *, data: Pairs | None = None, valid: Pairs | None = None, test: Pairs | None = None,
                  corpus: TranslationCorpusConfig | None = None, model: Seq2SeqConfig | None = None,
                  train: TrainConfig | None = None, seq2seq: Seq2SeqTaskConfig | None = None, resume: bool = False,
                  epochs: int | None = None, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) an encoder-decoder into the run directory ``out``; return the final metrics.

    Args:
        out: a new run directory (with ``resume``: the run to continue).
        data: training pairs: a TSV, the prefix of parallel files when ``corpus`` names the languages, or a
            sequence of (source, target) strings (config.json then records ``"<in memory>"``).
        valid: validation pairs (same forms); default: ``corpus.valid_fraction`` of ``data`` held out.
        test: test pairs (same forms), translated with beam search at the end and scored (BLEU, chrF).
        corpus, model, train, seq2seq: the settings of the data, the network, the training and the decoding.
        resume: continue the run in ``out`` from its last checkpoint, with its saved data and settings.
        epochs: with ``resume``, a new number of epochs (to extend a finished run).
        callbacks: trainer callbacks (:mod:`rnnkit.train.callbacks`).
    """
    run = prepare_run(TASK_NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      callbacks=callbacks, settings={"corpus": corpus, "model": model, "train": train,
                                                     "seq2seq": seq2seq})
    corpus, model_config, train = run.settings["corpus"], run.settings["model"], run.train
    saved = run_tokenizers(run.out, corpus) if run.resume else None
    train_data, valid_data, source_vocab, target_vocab, tokenizers = prepare_data(run.data, run.valid, corpus,
                                                                                  train.seed, saved)
    if run.test is not None:
        read_data(run.test, corpus, "test")  # a mistake in the test data costs no training
    network = build_within_limit(lambda: Seq2Seq(len(source_vocab), len(target_vocab), model_config,
                                                 source_vocab.pad_id, target_vocab.pad_id)).to(run.device)
    run.start(run.settings, vocabularies={"source_vocab.json": source_vocab, "target_vocab.json": target_vocab})
    if run.is_main and not run.resume:
        tokenizers.save(run.out)
    if run.is_main:
        print(f"rnnkit: {len(train_data.sources)} training pairs, {len(valid_data.sources)} validation pairs; "
              f"vocabularies: source {len(source_vocab)}, target {len(target_vocab)}", file=sys.stderr)
    results = _fit(run, network, train_data, valid_data, source_vocab, target_vocab, tokenizers)
    if run.test is not None:
        settings = run.settings["seq2seq"]
        predictor = Seq2SeqPredictor(network, source_vocab, target_vocab, corpus, settings, tokenizers)
        scores = predictor.evaluate(run.test, beam_size=settings.beam_size, truncate=True)
        results.update({f"test_{key}": value for key, value in scores.items()})
    return finish_run(run, results, title=f"seq2seq {model_config.cell}, attention {model_config.attention}")


def _fit(run: Run, network: Seq2Seq, train_data: EncodedPairs, valid_data: EncodedPairs, source_vocab: Vocab,
         target_vocab: Vocab, tokenizers: SideTokenizers) -> dict[str, Any]:
    """Train with teacher forcing (its ratio on the run's schedule), keep the best epoch on the validation loss;
    return the trainer's results and that epoch's validation loss and perplexity."""
    train, settings, pad_id = run.train, run.settings["seq2seq"], target_vocab.pad_id
    dropout = run.settings["corpus"].subword_dropout
    valid_batches = epoch_batches(valid_data, train.batch_size, source_vocab, target_vocab, 0, 0, shuffle=False)
    steps_per_epoch = math.ceil(len(train_data.sources) / train.batch_size)
    if train.max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, train.max_steps_per_epoch)
    total_steps = max(1, steps_per_epoch * train.epochs)

    def loss_fn(net: nn.Module, batch: Batch, state: Any) -> StepResult:
        ratio = settings.teacher_forcing_at(run.trainer.state.step / total_steps)  # 1.0: no random draws
        return batch_loss(net, batch, pad_id, ratio, settings.label_smoothing)

    def batches(epoch: int) -> list[Batch]:
        data = train_data
        if dropout:
            data = sample_pieces(train_data, tokenizers, dropout, source_vocab, target_vocab, train.seed, epoch)
        return epoch_batches(data, train.batch_size, source_vocab, target_vocab, train.seed, epoch)

    def evaluate(net: nn.Module) -> dict[str, float]:
        return {f"valid_{key}": value for key, value in corpus_loss(net, valid_batches, pad_id).items()}

    # every tensor of a Batch has the sentences on dim 0: the default shard splits it for DDP
    results = run.fit(network, loss_fn, batches, evaluate=evaluate, monitor="valid_loss",
                      steps_per_epoch=steps_per_epoch)
    return results | evaluate(network)


__all__ = ["batch_loss", "corpus_loss", "prepare_data", "train_seq2seq"]
