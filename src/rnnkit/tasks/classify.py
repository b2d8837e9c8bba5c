"""The classification task (many-to-one): a text in, one of C labels out.

The one place that knows which reader, model, loss and metrics go together for classification: labelled text
files (tables, label-first lines, a file per class, folders per class; see :mod:`rnnkit.data.readers.labelled`)
-> tokens -> vocabulary -> batches of similar lengths -> :class:`~rnnkit.models.SequenceClassifier` ->
cross-entropy summed over the batch. The best epoch is chosen on validation data (``--valid``, or a stratified
share of ``--data``); test data is evaluated once, at the end, and never used for a choice. Metrics: accuracy,
macro-F1, the confusion matrix (also as a PNG), and ROC-AUC and PR-AUC for two classes.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..analysis.confusion_plot import plot_confusion_matrix
from ..analysis.metrics import classification_report
from ..models import ClassifierConfig, ClassifierEnsemble, build_classifier
from ..train.checkpoint import has_checkpoint
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .classify_data import (
    Encoded,
    TextDataConfig,
    build_vocab,
    encode_splits,
    evaluation_batches,
    read_splits,
    training_batches,
)
from .classify_pretrain import PretrainConfig, check_pretrainable, pretrain_classifier
from .lm import check_device, seed_everything
from .run_dir import Paths, absolute_paths, check_data_given, fit_keeping_best, resumed_run, start_run, write_run_config

TASK = "classify"
EVAL_BATCH_SIZE = 64
SETTINGS = {"text": TextDataConfig, "model": ClassifierConfig, "train": TrainConfig, "pretrain": PretrainConfig}


def batch_loss(model: nn.Module, batch: tuple, state: Any) -> StepResult:
    """Summed cross-entropy of one batch ``(ids, lengths, labels)``; no state is carried between batches.

    An ensemble's loss is the mean over its K members of each member's own summed cross-entropy (so each member
    learns as if alone), not the loss of the averaged probabilities.
    """
    ids, lengths, labels = (part.to(_device(model)) for part in batch)
    if isinstance(model, ClassifierEnsemble):
        logits = model.member_logits(ids, lengths)  # (K, B, C)
        losses = [F.cross_entropy(member.float(), labels, reduction="sum") for member in logits]
        loss = torch.stack(losses).mean()
    else:
        logits = model(ids, lengths)  # (B, C)
        loss = F.cross_entropy(logits.float(), labels, reduction="sum")
    return StepResult(loss, labels.numel(), None, tokens=int(lengths.sum()))


@torch.no_grad()
def predict_probabilities(model: nn.Module, data: Encoded, pad_id: int,
                          batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of every example, in the data's order (model in eval mode)."""
    was_training = model.training
    model.eval()
    probabilities: list[torch.Tensor | None] = [None] * len(data)
    for indices, (ids, lengths, _) in evaluation_batches(data, batch_size, pad_id):
        rows = torch.softmax(model(ids.to(_device(model)), lengths).float(), dim=1).cpu()  # (B, C)
        for index, row in zip(indices, rows, strict=True):
            probabilities[index] = row
    model.train(was_training)
    return torch.stack(probabilities)  # (N, C)


def metrics_of(probabilities: torch.Tensor, labels: list[int], prefix: str) -> dict[str, Any]:
    """loss (nats per example), accuracy, macro-F1, confusion matrix, and ROC-AUC / PR-AUC for two classes."""
    truth = torch.tensor(labels, dtype=torch.long)
    loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), truth).item()
    num_classes = probabilities.shape[1]
    report = classification_report(labels, probabilities.argmax(1).tolist(), num_classes,
                                   probabilities[:, 1].tolist() if num_classes == 2 else None)
    return {f"{prefix}_loss": loss, **{f"{prefix}_{key}": value for key, value in report.items()},
            f"{prefix}_examples": len(labels)}


def evaluation_report(probabilities: torch.Tensor, truth: list[int], label_names: list[str],
                      confusion_png: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What ``evaluate`` of a classifier run returns: ``labels`` and the :func:`metrics_of` figures without a
    prefix; the confusion matrix is also drawn to ``confusion_png`` when given."""
    metrics = {key.removeprefix("test_"): value for key, value in metrics_of(probabilities, truth, "test").items()}
    if confusion_png is not None:
        plot_confusion_matrix(metrics["confusion_matrix"], label_names, confusion_png,
                              title=f"accuracy {metrics['accuracy']:.3f}")
    return {"labels": label_names, **metrics}


def check_batch_size(batch_size: Any) -> None:
    """A ValueError unless ``batch_size`` is a positive int (the ``batch_size`` of predict and evaluate)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: got {batch_size!r}; expected a positive integer")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_classifier(out: Path, *, data: Paths | None = None, valid: Paths | None = None, test: Paths | None = None,
                     text: TextDataConfig | None = None, model: ClassifierConfig | None = None,
                     train: TrainConfig | None = None, pretrain: PretrainConfig | None = None,
                     resume: bool = False, epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) a sequence classifier into the run directory ``out``; return the final metrics.

    Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by ``train.seed``)
    for choosing the best epoch. ``test`` is read and checked first (so a mistake in it costs no training), and
    evaluated once with the best weights. With ``pretrain.pretrain_epochs`` the embedding and recurrent layer are
    first trained as a language model on the training texts (:mod:`rnnkit.tasks.classify_pretrain`; run in
    ``out/pretrain``).

    With ``resume``, the data and settings saved in ``out/config.json`` are used and training continues from the
    last checkpoint (of the pretraining, while that was running), ending with the weights an uninterrupted run
    would have; ``epochs`` may extend a finished run.

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line), a single class, a label in
            ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    out = Path(out)
    text, model, train = text or TextDataConfig(), model or ClassifierConfig(), train or TrainConfig()
    pretrain = pretrain or PretrainConfig()
    check_data_given(data, resume)
    if resume:  # runs made before pretraining existed have no "pretrain" section: they had none
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs, ("checkpoint", "pretrain/checkpoint"),
                                      optional=("pretrain",))
        text, model, train, pretrain = (settings[name] for name in SETTINGS)
        data, valid, test = saved["train"], saved["valid"], saved["test"]
    check_device(train.device)
    if pretrain.pretrain_epochs:
        check_pretrainable(model)
    labels, train_examples, valid_examples, test_examples = read_splits(data, valid, test, text, train.seed)
    vocab = build_vocab(train_examples, text)
    train_data, valid_data, test_data = encode_splits(vocab, labels, train_examples, valid_examples, test_examples)

    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = build_classifier(len(labels), model, vocab_size=len(vocab), pad_id=vocab.pad_id).to(device)
    start_run(out, resume, {"vocab.json": vocab}, {"labels": labels})
    write_run_config(out, TASK, {
        "text": asdict(text), "model": asdict(model), "train": asdict(train), "pretrain": asdict(pretrain),
        "labels": labels,
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                 "examples": {"train": len(train_data), "valid": len(valid_data),
                              "test": None if test_data is None else len(test_data)}},
    })

    def evaluate(net: nn.Module) -> dict[str, float]:
        probabilities = predict_probabilities(net, valid_data, vocab.pad_id)
        metrics = metrics_of(probabilities, valid_data.labels, "valid")
        return {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                "valid_error": 1.0 - metrics["valid_accuracy"]}

    pretrained: dict[str, Any] = {}
    classifying = resume and has_checkpoint(out / "checkpoint")  # past the pretraining: its weights are in there
    if pretrain.pretrain_epochs and not classifying:
        pretrained = pretrain_classifier(network, train_data, valid_data, pad_id=vocab.pad_id, unk_id=vocab.unk_id,
                                         config=pretrain, train=train, out=out / "pretrain", resume=resume)
    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, vocab.pad_id)
    trainer = Trainer(network, train, batch_loss, batches, evaluate=evaluate, monitor="valid_error", run_dir=out,
                      steps_per_epoch=steps_per_epoch, show_perplexity=False)
    if classifying:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    results.update(pretrained)
    for prefix, split in (("valid", valid_data), ("test", test_data)):
        if split is not None:
            results.update(metrics_of(predict_probabilities(network, split, vocab.pad_id), split.labels, prefix))
            plot_confusion_matrix(results[f"{prefix}_confusion_matrix"], labels, out / f"confusion_{prefix}.png",
                                  title=f"{prefix}: accuracy {results[f'{prefix}_accuracy']:.3f}")
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} classifier")
    return results
