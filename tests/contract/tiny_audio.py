"""Tiny audio data and settings for the contract tests: a low tone and a high tone, 0.1-0.2 s at 8 kHz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.audio_features import FeatureConfig
from rnnkit.models import ClassifierConfig
from rnnkit.tasks.audio import AudioDataConfig
from rnnkit.train.config import TrainConfig
from tests.audio_helpers import TONES, tone, write_wav

NAME = "audio"
RATE = 8000


def recordings(count: int, seed: int) -> list[tuple[np.ndarray, int, str]]:
    """``count`` seeded (waveform, rate, label) triples, the two tones alternately."""
    rng = np.random.default_rng(seed)
    labels = sorted(TONES)
    return [(tone(TONES[labels[index % 2]], float(rng.uniform(0.1, 0.2)), RATE, seed=int(rng.integers(1 << 30))),
             RATE, labels[index % 2]) for index in range(count)]


def write_folder(folder: Path, triples: list[tuple[np.ndarray, int, str]]) -> Path:
    for index, (samples, rate, label) in enumerate(triples):
        write_wav(folder / f"{label}_s_{index}.wav", samples, rate)
    return folder


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_audio_classifier``: 16 training recordings (4 batches of 4), 8 validation and 4 test."""
    splits: dict[str, Any] = {"data": recordings(16, 0), "valid": recordings(8, 1), "test": recordings(4, 2)}
    if not in_memory:
        splits = {name: write_folder(tmp_path / name, triples) for name, triples in splits.items()}
    return {**splits, "audio": AudioDataConfig(),
            "features": FeatureConfig(kind="mfcc", n_mels=16, n_mfcc=8, window_ms=32.0, hop_ms=16.0),
            "model": ClassifierConfig(cell="gru", hidden_size=12, num_layers=1, bidirectional=False, pooling="mean",
                                      dropout=0.0),
            "train": TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.5, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of an audio run once: predict (files, and the CLI's inputs), evaluate."""
    folder = write_folder(tmp_path / "more", recordings(4, 3))
    files = sorted(folder.glob("*.wav"))
    rows = predictor.predict(files[:2], batch_size=2)
    assert [row["file"] for row in rows] == [str(path) for path in files[:2]]
    assert all(set(row["probabilities"]) == {"high", "low"} and row["label"] in ("high", "low") for row in rows)
    assert len(predictor.predict(predictor.read_inputs(str(folder)))) == 4
    metrics = predictor.evaluate(folder, batch_size=2)
    assert metrics["labels"] == ["high", "low"] and metrics["examples"] == 4
    assert {"accuracy", "macro_f1", "confusion_matrix", "loss", "roc_auc", "pr_auc"} <= set(metrics)
