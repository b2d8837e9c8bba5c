"""A tiny set of images is overfitted: after training, the captioner reproduces every training caption exactly
(greedy and beam), without attention (Show and Tell: the image only sets the initial state) and with it."""

from __future__ import annotations

import pytest

import rnnkit as rk
from rnnkit.models.captioner import CaptionerConfig
from rnnkit.tasks.caption import train_caption
from rnnkit.tasks.caption.images import CaptionDataConfig
from rnnkit.train.config import TrainConfig
from tests.caption_helpers import write_images, write_table


@pytest.mark.parametrize("attention", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_tiny_set_of_images_is_overfitted(tmp_path, attention):
    pairs = write_images(tmp_path / "images", 8)  # four colours, squares and stripes
    table = write_table(tmp_path / "train.tsv", pairs)
    results = train_caption(
        tmp_path / "run", data=table, valid=table, test=table, images=tmp_path / "images",
        caption=CaptionDataConfig(image_size=16, min_freq=1, beam_size=2),
        model=CaptionerConfig(encoder_width=16, encoder_blocks=2, feature_size=32, embedding_size=16, hidden_size=64,
                              attention=attention, dropout=0.0),
        train=TrainConfig(epochs=50, batch_size=2, lr=0.003, clip_norm=5.0, seed=0, quiet=True))
    assert results["test_bleu1"] == pytest.approx(100.0) and results["test_bleu3"] == pytest.approx(100.0)
    predictor = rk.load(tmp_path / "run")
    paths = [tmp_path / "images" / image for image, _ in pairs]
    for beam in (1, 3):
        captions = [record["caption"] for record in predictor.caption(paths, beam_size=beam)]
        assert captions == [text for _, text in pairs], beam
