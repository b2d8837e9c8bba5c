"""rnnkit train caption --encoder resnet18 [--pretrained --freeze-encoder]: torchvision-format weights from the
torch hub cache, recorded in config.json, loaded back by the predictor; offline without them: one line."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
import torch

import rnnkit as rk
from rnnkit.models.resnet import ResNet
from tests.caption_helpers import write_images, write_table
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--image-size", "32", "--min-freq", "1", "--feature-size", "8", "--embedding-size", "8", "--hidden-size",
        "12", "--dropout", "0.0", "--batch-size", "4", "--beam-size", "1", "--epochs", "1", "--quiet",
        "--encoder", "resnet18"]


@pytest.fixture()
def data(tmp_path) -> Path:
    pairs = write_images(tmp_path / "images", 6)
    write_table(tmp_path / "captions.tsv", [(image, text, "train" if i < 4 else "val")
                                           for i, (image, text) in enumerate(pairs)])
    return tmp_path


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub" / "checkpoints"


def test_a_pretrained_frozen_resnet_captioner_trains_and_loads_back(data, hub, tmp_path):
    torch.manual_seed(3)
    weights = ResNet("resnet18").state_dict()
    hub.mkdir(parents=True)
    torch.save(weights, hub / "resnet18-f37072fd.pth")
    out = tmp_path / "run"
    code, _, err = invoke("train", "caption", "--images", data / "images", "--captions", data / "captions.tsv",
                          "--pretrained", "--freeze-encoder", "--out", out, *TINY)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["encoder"] == "resnet18" and config["model"]["freeze_encoder"] is True
    assert config["data"]["pretrained_weights"] == str(hub / "resnet18-f37072fd.pth")
    backbone = rk.load(out).model.encoder.backbone
    for key, value in backbone.state_dict().items():  # frozen: the trained run still holds the file's weights
        assert torch.equal(value, weights[key]), key


def test_pretrained_offline_without_cached_weights_is_one_line(data, hub, tmp_path):
    assert_user_error(invoke("train", "caption", "--images", data / "images", "--captions", data / "captions.tsv",
                             "--pretrained", "--out", tmp_path / "run", *TINY),
                      "--pretrained: no resnet18 weights in", "offline, put resnet18-f37072fd.pth")
    assert_user_error(invoke("train", "caption", "--images", data / "images", "--captions", data / "captions.tsv",
                             "--pretrained", "--out", tmp_path / "run2", *TINY[:-2]),
                      "pretrained: got True with encoder 'cnn'")
