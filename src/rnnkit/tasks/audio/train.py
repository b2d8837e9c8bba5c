"""The audio classification task (many-to-one): a recording in, one of C labels out (e.g. a spoken digit).

The one place that knows which reader, features, model, loss and metrics go together for audio: labelled WAV
files (a folder per class, or the label in the file name; see :mod:`rnnkit.data.readers.audio`), or
``(waveform, sample_rate, label)`` triples from Python -> log-mel or MFCC frames
(:mod:`rnnkit.data.audio_features`), normalised with statistics of the training part only ->
:class:`~rnnkit.models.SequenceClassifier` on numeric features -> cross-entropy summed over the batch. The best
epoch is chosen on validation data (``valid``, or a stratified share of ``data``); test data is evaluated once,
at the end, and never used for a choice. Metrics as the text classifier's: accuracy, macro-F1, confusion matrix
(also as a PNG), ROC-AUC and PR-AUC for two classes. The run's config.json holds the feature settings and the
normalisation statistics, so prediction computes the same frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...analysis.confusion_plot import plot_confusion_matrix
from ...data.audio_features import FeatureConfig, FeatureExtractor, fit_normalization
from ...models import ClassifierConfig, SequenceClassifier
from ...train.config import TrainConfig
from ..base import Run, finish_run, prepare_run
from ..common import EVAL_BATCH_SIZE, batch_loss, metrics_of, stratified_split
from ..model_size import build_within_limit
from .data import (
    NAME,
    AudioDataConfig,
    FrameSet,
    check_training_labels,
    evaluation_batches,
    examples_from,
    extract_frames,
    resolve_sample_rate,
    training_batches,
)

SETTINGS = {"audio": AudioDataConfig, "features": FeatureConfig, "model": ClassifierConfig, "train": TrainConfig}
Data = str | os.PathLike[str] | Sequence[Any]  # WAV paths, directories, globs; or (waveform, rate, label) triples


@torch.no_grad()
def predict_probabilities(model: nn.Module, data: FrameSet, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of every example, in the data's order (model in eval mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    probabilities: list[torch.Tensor | None] = [None] * len(data)
    for indices, (frames, lengths, _) in evaluation_batches(data, batch_size):
        rows = torch.softmax(model(frames.to(device), lengths).float(), dim=1).cpu()  # (B, C)
        for index, row in zip(indices, rows, strict=True):
            probabilities[index] = row
    model.train(was_training)
    return torch.stack(probabilities)  # (N, C)


@dataclass
class AudioData:
    """The normalised frames of each split, the labels, the features (sample rate resolved) and the statistics."""

    train: FrameSet
    valid: FrameSet
    test: FrameSet | None
    labels: list[str]
    features: FeatureConfig
    statistics: dict[str, Any] | None


def train_audio_classifier(out: str | os.PathLike[str], *, data: Data | None = None, valid: Data | None = None,
                           test: Data | None = None, audio: AudioDataConfig | None = None,
                           features: FeatureConfig | None = None, model: ClassifierConfig | None = None,
                           train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None,
                           callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a recurrent classifier of recordings into the run directory ``out``; return the final
    metrics.

    ``data``, ``valid``, ``test``: WAV files, directories or glob patterns, or sequences of ``(waveform,
    sample_rate, label)`` triples (mono). Without ``valid``, ``audio.valid_fraction`` of each class of ``data`` is
    held out (seeded by ``train.seed``). Every recording is read and checked before training starts. With
    ``resume``, the run's saved data and settings are used and training continues from its last checkpoint.

    Raises:
        FileNotFoundError: For a missing path.
        ValueError: For an unreadable WAV file (naming it) or a malformed item, a file name without a label, a
            single class, a label in ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"audio": audio, "features": features, "model": model, "train": train},
                      callbacks=callbacks)
    audio, features, model, train = (run.settings[name] for name in SETTINGS)
    splits = read_data(run, audio, features)
    network = build_within_limit(lambda: SequenceClassifier(len(splits.labels), model,
                                                             input_size=splits.features.size)).to(run.device)
    counts = {"train": len(splits.train), "valid": len(splits.valid),
              "test": None if splits.test is None else len(splits.test)}
    run.start({"audio": audio, "features": splits.features, "normalization": splits.statistics, "model": model,
               "train": train, "labels": splits.labels}, derived={"labels": splits.labels},
              data_extra={"examples": counts})
    batches, steps_per_epoch = training_batches(splits.train, train.batch_size, train.seed)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(splits), monitor="valid_error",
                      steps_per_epoch=steps_per_epoch)
    for prefix, split in (("valid", splits.valid), ("test", splits.test)):
        if split is not None:
            results.update(metrics_of(predict_probabilities(network, split), split.labels, prefix))
            if run.is_main:
                plot_confusion_matrix(results[f"{prefix}_confusion_matrix"], splits.labels,
                                      run.out / f"confusion_{prefix}.png",
                                      title=f"{prefix}: accuracy {results[f'{prefix}_accuracy']:.3f}")
    return finish_run(run, results, title=f"{model.cell} audio classifier")


def read_data(run: Run, audio: AudioDataConfig, features: FeatureConfig) -> AudioData:
    """Every recording read and turned into frames; the validation share held out (without ``valid``); the
    frames normalised with statistics of the training part only."""
    train_files = examples_from(run.data, audio, "data")
    labels = check_training_labels(train_files, "--data")
    valid_files = examples_from(run.valid, audio, "valid") if run.valid is not None else None
    test_files = examples_from(run.test, audio, "test") if run.test is not None else None
    features = resolve_sample_rate(features, train_files)
    extractor = FeatureExtractor(features)
    train_data = extract_frames(train_files, extractor, labels)
    valid_data = extract_frames(valid_files, extractor, labels) if valid_files is not None else None
    test_data = extract_frames(test_files, extractor, labels) if test_files is not None else None
    if valid_data is None:
        kept, held_out = stratified_split(train_data.labels, audio.valid_fraction, run.train.seed)
        if not held_out:
            raise ValueError(f"--data: {len(train_data)} recordings are too few to hold out a validation share; "
                             "pass --valid")
        train_data, valid_data = train_data.subset(kept), train_data.subset(held_out)
    statistics = fit_normalization(train_data.frames) if features.normalize else None  # training part only
    return AudioData(train_data.normalized(statistics), valid_data.normalized(statistics),
                     test_data.normalized(statistics) if test_data is not None else None, labels, features,
                     statistics)


def validation_of(splits: AudioData):
    """The trainer's ``evaluate``: validation loss, accuracy and error."""

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = metrics_of(predict_probabilities(net, splits.valid), splits.valid.labels, "valid")
        return {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                "valid_error": 1.0 - metrics["valid_accuracy"]}

    return evaluate
