"""The translation task: an encoder-decoder trained on sentence pairs with teacher forcing.

The one place that knows what goes together for translation: sentence pairs (a TSV, or line-aligned parallel
files) -> word tokens -> source and target vocabularies -> length-bucketed padded batches ->
:class:`~rnnkit.models.Seq2Seq` -> cross-entropy summed over the target tokens (padding ignored). Each epoch
ends with the validation loss (per target token) and perplexity; the best epoch's weights are kept, and a test
set, if given, is translated (beam search) and scored with sacrebleu's BLEU and chrF.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.seq2seq import Seq2Seq, Seq2SeqConfig, sequence_loss
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .lm import check_device, seed_everything
from .run_dir import (
    absolute_paths,
    check_data_given,
    create_run_dir,
    fit_keeping_best,
    resumed_run,
    start_run,
    write_run_config,
)
from .translation_data import (
    Batch,
    TranslationCorpusConfig,
    build_vocabularies,
    encode_pairs,
    epoch_batches,
    filter_by_length,
    load_pairs,
    split_pairs,
    tokenize_pairs,
)

TASK = "seq2seq"
SCHEDULES = ("constant", "linear", "inverse_sigmoid")


@dataclass(frozen=True)
class Seq2SeqTaskConfig:
    """Teacher forcing while training, and the decoding used to evaluate.

    Attributes:
        teacher_forcing: the probability that a decoder step reads the true previous token (1.0: always).
        teacher_forcing_final: where the schedule ends (scheduled sampling, Bengio et al. 2015).
        teacher_forcing_schedule: ``"constant"`` (``teacher_forcing`` throughout), ``"linear"`` or
            ``"inverse_sigmoid"`` (from ``teacher_forcing`` to ``teacher_forcing_final`` over the run's steps;
            the inverse sigmoid has its midpoint at half the run).
        label_smoothing: label smoothing of the cross-entropy (0 for none).
        beam_size: beam used to evaluate the test set (1: greedy).
        length_penalty: alpha in ``log P / |y|^alpha`` when ranking finished beam hypotheses.
        max_length_ratio: a translation has at most ``floor(ratio * |source|) + max_length_offset`` tokens.
        max_length_offset: see ``max_length_ratio``.
    """

    teacher_forcing: float = 1.0
    teacher_forcing_final: float = 1.0
    teacher_forcing_schedule: str = "constant"
    label_smoothing: float = 0.0
    beam_size: int = 5
    length_penalty: float = 1.0
    max_length_ratio: float = 2.0
    max_length_offset: int = 5

    def __post_init__(self) -> None:
        for name in ("teacher_forcing", "teacher_forcing_final"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}; expected a probability in [0, 1]")
        if self.teacher_forcing_schedule not in SCHEDULES:
            raise ValueError(f"teacher_forcing_schedule: got {self.teacher_forcing_schedule!r}; expected one of "
                             f"{', '.join(map(repr, SCHEDULES))}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: got {self.label_smoothing!r}; expected a number in [0, 1)")
        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, int) or self.beam_size < 1:
            raise ValueError(f"beam_size: got {self.beam_size!r}; expected a positive integer")
        if not (self.length_penalty >= 0 and self.max_length_ratio >= 0 and self.max_length_offset >= 0):
            raise ValueError(f"length_penalty, max_length_ratio, max_length_offset: got {self.length_penalty!r}, "
                             f"{self.max_length_ratio!r}, {self.max_length_offset!r}; expected numbers >= 0")

    def teacher_forcing_at(self, progress: float) -> float:
        """The teacher-forcing ratio at ``progress`` in [0, 1] of the run."""
        start, end = self.teacher_forcing, self.teacher_forcing_final
        progress = min(max(progress, 0.0), 1.0)
        if self.teacher_forcing_schedule == "linear":
            return start + (end - start) * progress
        if self.teacher_forcing_schedule == "inverse_sigmoid":
            return end + (start - end) / (1.0 + math.exp(10.0 * (progress - 0.5)))
        return start


def batch_loss(model: nn.Module, batch: Batch, pad_id: int, teacher_forcing: float = 1.0,
               label_smoothing: float = 0.0) -> StepResult:
    """Summed cross-entropy of one batch over its non-padding target tokens."""
    count = int((batch.target_outputs != pad_id).sum())  # counted on the host copy: no device sync
    tokens = int(batch.source_lengths.sum()) + count
    batch = batch.to(next(model.parameters()).device)
    logits, _ = model(batch.source, batch.source_lengths, batch.target_inputs, teacher_forcing=teacher_forcing)
    loss = sequence_loss(logits, batch.target_outputs, pad_id, label_smoothing)
    return StepResult(loss, count, None, tokens=tokens)


@torch.no_grad()
def corpus_loss(model: nn.Module, batches: list[Batch], pad_id: int) -> dict[str, float]:
    """Mean loss per target token (nats) and perplexity, teacher forced, over ``batches``."""
    total, count = 0.0, 0
    for batch in batches:
        result = batch_loss(model, batch, pad_id)
        total, count = total + float(result.loss_sum), count + result.count
    mean = total / max(count, 1)
    return {"loss": mean, "ppl": math.exp(min(mean, 700.0))}


def prepare_data(data: Path, valid: Path | None, corpus: TranslationCorpusConfig, seed: int):
    """Training and validation pairs (held out from ``data`` without ``valid``), vocabularies, encoded pairs."""
    pairs = load_pairs(data, corpus)
    if valid is not None:
        valid_pairs = load_pairs(valid, corpus)
    else:
        try:
            pairs, valid_pairs = split_pairs(pairs, corpus.valid_fraction, seed)
        except ValueError as error:
            raise ValueError(f"--data {data}: {error}") from None
    pairs, tokens = filter_by_length(pairs, tokenize_pairs(pairs, corpus), corpus.max_length, f"--data {data}")
    valid_name = f"--valid {valid}" if valid is not None else "validation pairs"
    valid_pairs, valid_tokens = filter_by_length(valid_pairs, tokenize_pairs(valid_pairs, corpus), corpus.max_length,
                                                 valid_name)
    source_vocab, target_vocab = build_vocabularies(tokens, corpus)
    train_data = encode_pairs(pairs, tokens, source_vocab, target_vocab)
    valid_data = encode_pairs(valid_pairs, valid_tokens, source_vocab, target_vocab)
    return train_data, valid_data, source_vocab, target_vocab


# the settings dataclasses of a run, one per config.json section (also the CLI's sections)
SETTINGS = {"corpus": TranslationCorpusConfig, "model": Seq2SeqConfig, "train": TrainConfig,
            "seq2seq": Seq2SeqTaskConfig}


def train_seq2seq(out: Path, *, data: Path | None = None, valid: Path | None = None, test: Path | None = None,
                  corpus: TranslationCorpusConfig | None = None, model: Seq2SeqConfig | None = None,
                  train: TrainConfig | None = None, task: Seq2SeqTaskConfig | None = None, resume: bool = False,
                  epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) an encoder-decoder into the run directory ``out``; return the final metrics.

    Args:
        out: a new run directory (with ``resume``: the run to continue).
        data: training pairs: a TSV, or the prefix of parallel files when ``corpus`` names the languages.
        valid: validation pairs (same form); default: ``corpus.valid_fraction`` of ``data`` held out.
        test: test pairs, translated with beam search at the end and scored (BLEU, chrF).
        corpus, model, train, task: the settings of the data, the network, the training and the decoding.
        resume: continue the run in ``out`` from its last checkpoint, with its saved data and settings.
        epochs: with ``resume``, a new number of epochs (to extend a finished run).
    """
    from .seq2seq_predict import Seq2SeqPredictor

    out = Path(out)
    corpus, model_config = corpus or TranslationCorpusConfig(), model or Seq2SeqConfig()
    train, task = train or TrainConfig(), task or Seq2SeqTaskConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        corpus, model_config, train, task = (settings[name] for name in SETTINGS)
        data, valid, test = (Path(path) if path else None for path in (saved["train"], saved["valid"], saved["test"]))
    check_device(train.device)
    if not resume and (out / "config.json").exists():
        create_run_dir(out)  # refuses, with the message every task gives
    seed_everything(train.seed, train.deterministic)
    train_data, valid_data, source_vocab, target_vocab = prepare_data(data, valid, corpus, train.seed)
    print(f"rnnkit: {len(train_data.sources)} training pairs, {len(valid_data.sources)} validation pairs; "
          f"vocabularies: source {len(source_vocab)}, target {len(target_vocab)}", file=sys.stderr)
    device = torch.device(train.device)
    network = Seq2Seq(len(source_vocab), len(target_vocab), model_config, source_vocab.pad_id,
                      target_vocab.pad_id).to(device)
    start_run(out, resume, {"source_vocab.json": source_vocab, "target_vocab.json": target_vocab})
    write_run_config(out, TASK, {
        "corpus": asdict(corpus), "model": asdict(model_config), "train": asdict(train), "seq2seq": asdict(task),
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test)},
    })
    pad_id = target_vocab.pad_id
    valid_batches = epoch_batches(valid_data, train.batch_size, source_vocab, target_vocab, 0, 0, shuffle=False)
    steps_per_epoch = math.ceil(len(train_data.sources) / train.batch_size)
    if train.max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, train.max_steps_per_epoch)
    total_steps = max(1, steps_per_epoch * train.epochs)
    trainer: Trainer | None = None

    def loss_fn(net: nn.Module, batch: Batch, state: Any) -> StepResult:
        ratio = task.teacher_forcing_at(trainer.state.step / total_steps)
        return batch_loss(net, batch, pad_id, ratio, task.label_smoothing)

    def batches(epoch: int) -> list[Batch]:
        return epoch_batches(train_data, train.batch_size, source_vocab, target_vocab, train.seed, epoch)

    def evaluate(net: nn.Module) -> dict[str, float]:
        return {f"valid_{key}": value for key, value in corpus_loss(net, valid_batches, pad_id).items()}

    trainer = Trainer(network, train, loss_fn, batches, evaluate=evaluate, monitor="valid_loss", run_dir=out,
                      steps_per_epoch=steps_per_epoch)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    network.eval()
    results.update(evaluate(network))
    if test is not None:
        predictor = Seq2SeqPredictor(network, source_vocab, target_vocab, corpus, task)
        scores = predictor.evaluate(test, beam_size=task.beam_size, truncate=True)
        results.update({f"test_{key}": value for key, value in scores.items()})
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"seq2seq {model_config.cell}, "
                                                                          f"attention {model_config.attention}")
    return results


__all__ = ["SCHEDULES", "SETTINGS", "TASK", "Seq2SeqTaskConfig", "batch_loss", "corpus_loss", "prepare_data",
           "train_seq2seq"]
