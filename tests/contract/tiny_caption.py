"""Tiny captioning data and settings for the contract tests: coloured shapes (PNG files the tests write), each with
its caption ("a red square .")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.models.captioner import CaptionerConfig
from rnnkit.tasks.caption.images import CaptionDataConfig
from rnnkit.train.config import TrainConfig
from tests.caption_helpers import write_images, write_table

NAME = "caption"


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_caption``: 8 training images (2 batches of 4), 4 validation and 4 test images."""
    folder = tmp_path / "images"
    splits = {"data": write_images(folder, 8), "valid": write_images(folder, 4, 8), "test": write_images(folder, 4, 12)}
    if in_memory:
        data = {name: [(str(folder / image), text) for image, text in pairs] for name, pairs in splits.items()}
    else:
        data = {name: write_table(tmp_path / f"{name}.tsv", pairs) for name, pairs in splits.items()}
        data["images"] = folder
    return {**data, "caption": CaptionDataConfig(image_size=16, min_freq=1, beam_size=2),
            "model": CaptionerConfig(encoder_width=4, encoder_blocks=2, feature_size=8, embedding_size=8,
                                     hidden_size=12, attention=True, dropout=0.0),
            # SGD: Adam would scale the near-zero attention gradients of a fresh model up to their rounding noise, and
            # two data-parallel ranks (summing in another order) would then end apart by more than the 1e-6 tolerance
            "train": TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.3, momentum=0.9, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a caption run once: caption (one image, several), evaluate (a table beside its images)."""
    pairs = write_images(tmp_path / "use", 3, 20)
    paths = [tmp_path / "use" / image for image, _ in pairs]
    one = predictor.caption(paths[0], beam_size=1)
    assert set(one) >= {"image", "caption", "tokens", "score"} and one["caption"] == " ".join(one["tokens"])
    several = predictor.caption(paths, beam_size=2)
    assert [record["image"] for record in several] == [str(path) for path in paths]
    scores = predictor.evaluate(write_table(tmp_path / "use" / "test.tsv", pairs), batch_size=2)
    assert {"bleu1", "bleu2", "bleu3", "bleu4"} <= set(scores) and scores["images"] == 3
