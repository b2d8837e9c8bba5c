"""A trained audio classifier put to use: class probabilities for WAV files, metrics on labelled recordings."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ...data.audio_features import FeatureConfig, FeatureExtractor
from ...data.limits import stdin_lines
from ...data.readers.audio import LabelledAudio, audio_paths, read_labelled_audio
from ...models import ClassifierConfig, SequenceClassifier
from ...train.checkpoint import load_model_weights
from ..common import check_batch_size, evaluation_report
from ..export_graphs import export_classifier, settings_of
from ..run_dir import Paths, read_run_config, run_settings
from .data import NAME, AudioDataConfig, extract_frames
from .train import predict_probabilities


class AudioClassifierPredictor:
    """The verbs of an audio classification run: :meth:`predict` and :meth:`evaluate`.

    Recordings go through the run's own feature settings (resampled to its rate, the same frames) and its
    training-set normalisation. ``labels`` are the class names in id order (sorted).
    """

    task = NAME

    def __init__(self, model: SequenceClassifier, labels: list[str], audio: AudioDataConfig,
                 features: FeatureConfig, normalization: dict[str, Any] | None) -> None:
        self.model, self.labels, self.audio, self.features = model.eval(), labels, audio, features
        self.normalization = normalization
        self.extractor = FeatureExtractor(features)

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> AudioClassifierPredictor:
        """Rebuild the classifier of a run directory from its config and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"audio": AudioDataConfig, "features": FeatureConfig,
                                                  "model": ClassifierConfig})
        features, statistics = settings["features"], config.get("normalization")
        valid_statistics = statistics is None or (
            isinstance(statistics, dict) and all(len(statistics.get(key) or []) == features.size
                                                 for key in ("mean", "std")))
        if (not isinstance(config.get("labels"), list) or features.sample_rate is None or not valid_statistics
                or (statistics is None) == features.normalize):
            raise ValueError(f"{Path(run_dir) / 'config.json'}: not a valid {NAME!r} run config (labels, sample rate "
                             "or normalization missing or inconsistent)")
        labels = [str(label) for label in config["labels"]]
        model = SequenceClassifier(len(labels), settings["model"], input_size=features.size)
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        return cls(model.to(device), labels, settings["audio"], features, statistics)

    def read_inputs(self, source: str) -> list[str]:
        """What ``rnnkit predict RUN --input SOURCE`` classifies: ``SOURCE`` itself (a WAV file, a directory of
        them or a glob pattern), or for ``"-"`` one path per non-blank line of stdin.

        Raises:
            ValueError: ``"-"`` with no path on stdin.
        """
        if source != "-":
            return [source]
        files = [line.strip() for line in stdin_lines() if line.strip()]
        if not files:
            raise ValueError("--input -: stdin holds no paths; expected one WAV file path per line")
        return files

    def predict(self, files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                batch_size: int = 64) -> list[dict[str, Any]]:
        """For each WAV file: ``{"file", "label", "probabilities": {label: p}}``, in the order given.

        ``files`` is a path or several: WAV files, directories (their ``*.wav``, sorted) or glob patterns.

        Raises:
            FileNotFoundError: For a missing file.
            ValueError: For a file that is not a readable PCM WAV file (naming it).
        """
        check_batch_size(batch_size)
        paths = audio_paths(files if not isinstance(files, str | os.PathLike) else [files])
        if not paths:
            return []
        data = extract_frames([LabelledAudio(path, None) for path in paths], self.extractor, None)
        probabilities = predict_probabilities(self.model, data.normalized(self.normalization), batch_size)
        return [{"file": str(path), "label": self.labels[int(row.argmax())],
                 "probabilities": dict(zip(self.labels, row.tolist(), strict=True))}
                for path, row in zip(paths, probabilities, strict=True)]

    def evaluate(self, data: Paths, batch_size: int = 64,
                 confusion_png: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """accuracy, macro_f1, confusion_matrix (rows: truth, in :attr:`labels` order), loss and, for two classes,
        roc_auc and pr_auc of labelled recordings, labelled as in training (same format and label pattern).

        Raises:
            ValueError: For an unreadable file, or a label that the model was not trained on (naming the file).
        """
        check_batch_size(batch_size)
        files = read_labelled_audio(data, self.audio.format, self.audio.label_pattern)
        frames = extract_frames(files, self.extractor, self.labels).normalized(self.normalization)
        probabilities = predict_probabilities(self.model, frames, batch_size)
        return evaluation_report(probabilities, frames.labels, self.labels, confusion_png)

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            labels, feature settings and normalisation.
        """
        frames = torch.randn(2, 3, self.features.size, device=next(self.model.parameters()).device)
        return export_classifier(self, path, format, frames, {"features": settings_of(self.features),
                                                              "audio": settings_of(self.audio),
                                                              "normalization": self.normalization})
