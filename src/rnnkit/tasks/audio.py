"""The audio classification task (many-to-one): a recording in, one of C labels out (e.g. a spoken digit).

The one place that knows which reader, features, model, loss and metrics go together for audio: labelled WAV
files (a folder per class, or the label in the file name; see :mod:`rnnkit.data.readers.audio`) -> log-mel or
MFCC frames (:mod:`rnnkit.data.audio_features`), normalised with statistics of the training part only ->
:class:`~rnnkit.models.SequenceClassifier` on numeric features -> cross-entropy summed over the batch. The best
epoch is chosen on validation data (``valid``, or a stratified share of ``data``); test data is evaluated once,
at the end, and never used for a choice. Metrics as the text classifier's: accuracy, macro-F1, confusion matrix
(also as a PNG), ROC-AUC and PR-AUC for two classes. The run's config.json holds the feature settings and the
normalisation statistics, so prediction computes the same frames.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..analysis.confusion_plot import plot_confusion_matrix
from ..data.audio_features import FeatureConfig, FeatureExtractor, fit_normalization
from ..data.readers.audio import read_labelled_audio
from ..models import ClassifierConfig, SequenceClassifier
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import Trainer
from .audio_data import (
    AudioDataConfig,
    FrameSet,
    check_training_labels,
    evaluation_batches,
    extract_frames,
    resolve_sample_rate,
    training_batches,
)
from .classify import batch_loss, metrics_of
from .classify_data import stratified_split
from .lm import check_device, seed_everything
from .run_dir import Paths, absolute_paths, check_data_given, fit_keeping_best, resumed_run, start_run, write_run_config

TASK = "audio"
SETTINGS = {"audio": AudioDataConfig, "features": FeatureConfig, "model": ClassifierConfig, "train": TrainConfig}
EVAL_BATCH_SIZE = 64


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


def train_audio_classifier(out: Path, *, data: Paths | None = None, valid: Paths | None = None,
                           test: Paths | None = None, audio: AudioDataConfig | None = None,
                           features: FeatureConfig | None = None, model: ClassifierConfig | None = None,
                           train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None
                           ) -> dict[str, Any]:
    """Train (or resume) a recurrent classifier of recordings into the run directory ``out``; return the final
    metrics.

    Without ``valid``, ``audio.valid_fraction`` of each class of ``data`` is held out (seeded by ``train.seed``).
    Every file (test included) is read and checked before training starts. With ``resume``, the run's saved data
    and settings are used and training continues from its last checkpoint (``epochs`` may extend it).

    Raises:
        FileNotFoundError: For a missing path.
        ValueError: For an unreadable WAV file (naming it), a file name without a label, a single class, a label
            in ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    out = Path(out)
    audio, features = audio or AudioDataConfig(), features or FeatureConfig()
    model, train = model or ClassifierConfig(), train or TrainConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        audio, features, model, train = (settings[name] for name in SETTINGS)
        data, valid, test = saved["train"], saved["valid"], saved["test"]
    check_device(train.device)
    train_files = read_labelled_audio(data, audio.format, audio.label_pattern)
    labels = check_training_labels(train_files, "--data")
    valid_files = read_labelled_audio(valid, audio.format, audio.label_pattern) if valid is not None else None
    test_files = read_labelled_audio(test, audio.format, audio.label_pattern) if test is not None else None
    features = resolve_sample_rate(features, train_files)
    extractor = FeatureExtractor(features)
    train_data = extract_frames(train_files, extractor, labels)
    valid_data = extract_frames(valid_files, extractor, labels) if valid_files is not None else None
    test_data = extract_frames(test_files, extractor, labels) if test_files is not None else None
    if valid_data is None:
        kept, held_out = stratified_split(train_data.labels, audio.valid_fraction, train.seed)
        if not held_out:
            raise ValueError(f"--data: {len(train_data)} recordings are too few to hold out a validation share; "
                             "pass --valid")
        train_data, valid_data = train_data.subset(kept), train_data.subset(held_out)
    statistics = fit_normalization(train_data.frames) if features.normalize else None  # training part only
    train_data, valid_data = train_data.normalized(statistics), valid_data.normalized(statistics)
    test_data = test_data.normalized(statistics) if test_data is not None else None

    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = SequenceClassifier(len(labels), model, input_size=features.size).to(device)
    start_run(out, resume, derived={"labels": labels})
    write_run_config(out, TASK, {
        "audio": asdict(audio), "features": asdict(features), "normalization": statistics, "model": asdict(model),
        "train": asdict(train), "labels": labels,
        "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                 "examples": {"train": len(train_data), "valid": len(valid_data),
                              "test": None if test_data is None else len(test_data)}},
    })

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = metrics_of(predict_probabilities(net, valid_data), valid_data.labels, "valid")
        return {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                "valid_error": 1.0 - metrics["valid_accuracy"]}

    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed)
    trainer = Trainer(network, train, batch_loss, batches, evaluate=evaluate, monitor="valid_error", run_dir=out,
                      steps_per_epoch=steps_per_epoch, show_perplexity=False)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    for prefix, split in (("valid", valid_data), ("test", test_data)):
        if split is not None:
            results.update(metrics_of(predict_probabilities(network, split), split.labels, prefix))
            plot_confusion_matrix(results[f"{prefix}_confusion_matrix"], labels, out / f"confusion_{prefix}.png",
                                  title=f"{prefix}: accuracy {results[f'{prefix}_accuracy']:.3f}")
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} audio classifier")
    return results
