"""The captioning CLI end to end with tiny images the test writes: train caption, caption (arguments, --input,
--plot), evaluate --images --captions, resume, and user mistakes as one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.caption_helpers import write_images, write_table
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--image-size", "16", "--min-freq", "1", "--encoder-width", "4", "--encoder-blocks", "2", "--feature-size",
        "8", "--embedding-size", "8", "--hidden-size", "12", "--dropout", "0.0", "--batch-size", "4", "--lr", "0.02",
        "--beam-size", "2", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("captions")
    pairs = write_images(folder / "images", 12)
    write_table(folder / "captions.tsv", [(image, text, "train" if i < 8 else "val" if i < 10 else "test")
                                          for i, (image, text) in enumerate(pairs)])
    write_table(folder / "test.tsv", pairs[10:])
    (folder / "images.txt").write_text("".join(f"{folder / 'images' / image}\n" for image, _ in pairs[:3]))
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, data) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "caption"
    code, stdout, err = invoke("train", "caption", "--images", data / "images", "--captions", data / "captions.tsv",
                               "--attention", "--epochs", "2", "--out", out, *TINY)
    assert code == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_train_reports_test_bleu_beside_both_baselines(run):
    out, results = run
    for prefix in ("test_", "test_nearest_", "test_prior_"):
        assert all(0 <= results[f"{prefix}bleu{n}"] <= 100 + 1e-9 for n in (1, 2, 3, 4)), prefix
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "caption" and config["model"]["attention"] is True
    assert config["data"]["examples"]["train"] == {"images": 8, "captions": 8}
    assert config["baseline"]["prior_caption"].startswith("a ")


def test_caption_images_as_arguments_and_from_a_file(run, data, tmp_path):
    out, _ = run
    code, stdout, err = invoke("caption", out, data / "images" / "img0.png", data / "images" / "img1.png",
                               "--beam", "1", "--plot", tmp_path / "plots")
    assert code == 0, err
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [record["image"] for record in records] == [str(data / "images" / f"img{i}.png") for i in (0, 1)]
    assert all(isinstance(record["caption"], str) and isinstance(record["score"], float) for record in records)
    assert (tmp_path / "plots" / "img0.png").stat().st_size > 0
    code, stdout, err = invoke("caption", out, "--input", data / "images.txt")
    assert code == 0, err
    assert len(stdout.splitlines()) == 3


def test_evaluate_with_images_and_captions(run, data):
    out, _ = run
    code, stdout, err = invoke("evaluate", out, "--images", data / "images", "--captions", data / "test.tsv",
                               "--beam", "1")
    assert code == 0, err
    scores = json.loads(stdout)
    assert scores["images"] == 2 and scores["beam"] == 1 and {"bleu1", "bleu4"} <= set(scores)
    code, stdout, err = invoke("evaluate", out, "--images", data / "images", "--captions", data / "captions.tsv")
    assert code == 0, err
    assert json.loads(stdout)["images"] == 2  # a table with a split column: its test rows


def test_user_mistakes_are_one_line_errors(run, data, tmp_path):
    out, _ = run
    assert_user_error(invoke("caption", out, tmp_path / "nope.png"), "nope.png", "IMAGE argument 1")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert_user_error(invoke("caption", out, tmp_path / "broken.png"), "broken.png", "unreadable image")
    assert_user_error(invoke("caption", out), "no image")
    write_table(tmp_path / "bad.tsv", [("img0.png", "fine ."), ("missing.png", "a ghost .")])
    assert_user_error(invoke("evaluate", out, "--images", data / "images", "--captions", tmp_path / "bad.tsv"),
                      "missing.png", "bad.tsv line 3")
    assert_user_error(invoke("train", "caption", "--images", data / "images", "--captions", tmp_path / "bad.tsv",
                             "--valid", tmp_path / "bad.tsv", "--out", tmp_path / "r", *TINY),
                      "missing.png", "bad.tsv line 3")
    assert not (tmp_path / "r").exists()
    assert_user_error(invoke("evaluate", out), "--data")
    assert_user_error(invoke("translate", out, "hello"), "'caption'", "no 'translate'")


def test_skip_bad_counts_captions_of_missing_images(data, tmp_path):
    write_table(tmp_path / "c.tsv", [(f"img{i}.png", f"a caption {i} .") for i in range(6)] + [("gone.png", "x")])
    code, stdout, err = invoke("train", "caption", "--images", data / "images", "--data", tmp_path / "c.tsv",
                               "--skip-bad", "--epochs", "1", "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["skipped_captions"] == 1


def test_resume_ends_with_the_straight_runs_weights(data, tmp_path):
    assert_resume_is_exact(tmp_path, "caption", "--images", data / "images", "--data", data / "captions.tsv",
                           "--flip", "--crop", "2", "--captions-per-image", "1",
                           *[arg for arg in TINY if arg != "--quiet"])
