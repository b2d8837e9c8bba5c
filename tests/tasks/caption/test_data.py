"""Caption files, image lists, splits and images: every format, and every bad input a one-line error naming the
file and line (or, with skip_bad, counted and skipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from rnnkit.tasks.caption.data import group_by_image, read_caption_file, split_rows
from rnnkit.tasks.caption.images import CaptionDataConfig, augment, normalise, read_image
from rnnkit.tasks.caption.metrics import bleu_scores, consensus, nearest_captions, prior_caption
from tests.caption_helpers import write_images, write_table

CONFIG = CaptionDataConfig(image_size=16, min_freq=1)


def _one_line(error: pytest.ExceptionInfo, *needles: str) -> None:
    text = str(error.value)
    assert "\n" not in text, text
    for needle in needles:
        assert needle in text, (needle, text)


def test_a_tsv_with_a_split_column_gives_the_three_splits(tmp_path):
    pairs = write_images(tmp_path, 6)
    rows = [(image, text, split) for (image, text), split in zip(pairs, ["train"] * 4 + ["val", "test"], strict=True)]
    train, valid, test = split_rows(write_table(tmp_path / "c.tsv", rows), None, None, 0.5, 0)
    assert [row.image for row in train] == ["img0.png", "img1.png", "img2.png", "img3.png"]
    assert [row.image for row in valid] == ["img4.png"] and [row.image for row in test] == ["img5.png"]
    assert train[0].where == f"{tmp_path / 'c.tsv'} line 2"


def test_the_flickr8k_token_file_and_split_lists_gzipped(tmp_path):
    lines = [f"img{i}.png#{k}\tcaption {i} number {k} ." for i in range(5) for k in range(2)]
    with gzip.open(tmp_path / "tokens.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    (tmp_path / "train.txt").write_text("img0.png\nimg1.png\nimg2.png\n")
    (tmp_path / "dev.txt").write_text("img3.png\n")
    (tmp_path / "test.txt").write_text("img4.png\n")
    train, valid, test = split_rows([tmp_path / "tokens.txt.gz", tmp_path / "train.txt"], tmp_path / "dev.txt",
                                    tmp_path / "test.txt", 0.1, 0)
    assert len(train) == 6 and {row.image for row in train} == {"img0.png", "img1.png", "img2.png"}
    assert [row.caption for row in valid] == ["caption 3 number 0 .", "caption 3 number 1 ."]
    assert {row.image for row in test} == {"img4.png"}


def test_without_a_validation_split_whole_images_are_held_out(tmp_path):
    rows = [(f"img{i}.png", f"caption {k}") for i in range(10) for k in range(3)]
    train, valid, test = split_rows(write_table(tmp_path / "c.jsonl", rows), None, None, 0.2, 0)
    assert test is None and len(valid) == 6 and len(train) == 24
    assert not {row.image for row in train} & {row.image for row in valid}


def test_images_are_read_once_per_image_resized_and_normalised(tmp_path):
    pairs = write_images(tmp_path, 2, size=20)
    rows = split_rows(write_table(tmp_path / "c.tsv", pairs + [(pairs[0][0], "again")]), tmp_path / "c.tsv", None,
                      0.1, 0)[0]
    names, images, captions, skipped = group_by_image(rows, tmp_path, CONFIG, "--data")
    assert names == ["img0.png", "img1.png"] and captions[0] == ["a red square .", "again"] and skipped == 0
    assert images.shape == (2, 3, 16, 16) and images.dtype == torch.uint8
    pixels = normalise(images, CaptionDataConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    assert torch.allclose(pixels, images.float() / 127.5 - 1.0)
    flipped = augment(images, CaptionDataConfig(flip=True), torch.Generator().manual_seed(0))
    assert all(torch.equal(out, image) or torch.equal(out, image.flip(2)) for out, image in zip(flipped, images,
                                                                                                strict=True))
    shifted = augment(images, CaptionDataConfig(crop=2), torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape


def test_a_caption_of_a_missing_image_names_the_file_and_line(tmp_path):
    pairs = write_images(tmp_path, 2)
    table = write_table(tmp_path / "c.tsv", pairs + [("gone.jpg", "a ghost .")])
    rows = split_rows(table, table, None, 0.1, 0)[0]
    with pytest.raises(FileNotFoundError) as error:
        group_by_image(rows, tmp_path, CONFIG, "--data")
    _one_line(error, "gone.jpg", f"{table} line 4", "no such image")
    names, _, _, skipped = group_by_image(rows, tmp_path, CaptionDataConfig(image_size=16, skip_bad=True), "--data")
    assert names == ["img0.png", "img1.png"] and skipped == 1


def test_a_truncated_or_foreign_image_is_a_one_line_error(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("cut.jpg", "text.jpg"):
        with pytest.raises(ValueError) as error:
            read_image(tmp_path / name, 16, "c.tsv line 9")
        _one_line(error, name, "c.tsv line 9", "unreadable image")
    assert read_image(tmp_path / "full.jpg", 16).shape == (3, 16, 16)


@pytest.mark.parametrize(("name", "text", "needles"), [
    ("c.tsv", "image\ttext\na.png\thello\n", ["line 1", "'image' and 'caption'"]),
    ("c.tsv", "image\tcaption\na.png\thello\nb.png\t \n", ["line 3", "'b.png' has no caption"]),
    ("c.csv", "image,caption\n,hello\n", ["line 2", "no image name"]),
    ("c.jsonl", '{"image": "a.png", "caption": "x"}\n[1, 2]\n', ["line 2", "JSON object"]),
    ("c.jsonl", '{"image": "a.png", "caption": "x"}\n{oops\n', ["line 2", "not JSON"]),
    ("t.txt", "a.png#0\thello\na.png\tworld\n", ["line 2", "IMAGE#N<TAB>CAPTION"]),
])
def test_malformed_caption_files_are_one_line_errors(tmp_path, name, text, needles):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as error:
        read_caption_file(tmp_path / name)
    _one_line(error, str(tmp_path / name), *needles)


def test_a_listed_image_without_captions_names_the_list_and_line(tmp_path):
    write_table(tmp_path / "c.tsv", [("a.png", "one"), ("b.png", "two")])
    (tmp_path / "list.txt").write_text("a.png\nzzz.png\n")
    with pytest.raises(ValueError) as error:
        split_rows([tmp_path / "c.tsv", tmp_path / "list.txt"], None, None, 0.1, 0)
    _one_line(error, f"{tmp_path / 'list.txt'} line 2", "'zzz.png' has no caption")


def test_a_missing_caption_file_and_in_memory_items(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        read_caption_file(tmp_path / "nope.tsv")
    _one_line(error, "nope.tsv")
    with pytest.raises(ValueError) as error:
        split_rows([("a.png", "fine"), ("b.png",)], None, None, 0.5, 0)
    _one_line(error, "data item 2", "(image, caption)")


def test_bleu_uses_every_reference_and_ignores_punctuation():
    references = [["a dog runs on grass .", "the brown dog is running"], ["two kids play ball", "children play ."]]
    perfect = bleu_scores(["the brown dog is running", "two kids play ball ."], references)
    assert perfect["bleu4"] == pytest.approx(100.0) and perfect["bleu1"] == pytest.approx(100.0)
    partial = bleu_scores(["a dog is running", "kids play"], references)
    assert 0 < partial["bleu1"] < 100 and partial["bleu1"] >= partial["bleu2"] >= partial["bleu3"]


def test_the_baselines_pick_training_captions():
    train = [["a dog runs .", "a dog runs fast .", "a cat sleeps ."], ["a man rides a bike ."]]
    assert consensus(train[0]) in ("a dog runs .", "a dog runs fast .")
    assert prior_caption(train) in {text for texts in train for text in texts}
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nearest_captions(features, train, torch.tensor([[0.1, 2.0], [3.0, 0.2]])) == [
        "a man rides a bike .", consensus(train[0])]


def test_image_settings_out_of_range_are_errors():
    for keywords, needle in (({"image_size": 4}, "image_size"), ({"std": (1.0, 0.0, 1.0)}, "std"),
                             ({"valid_fraction": 1.0}, "valid_fraction"), ({"crop": -1}, "crop")):
        with pytest.raises(ValueError, match=needle):
            CaptionDataConfig(**keywords)


def test_a_path_that_is_a_folder_is_not_an_image(tmp_path: Path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "dir.png", 16)


def test_training_batches_draw_captions_per_image_the_same_for_the_same_epoch(tmp_path):
    from rnnkit.tasks.caption.data import build_vocab, encode_split, training_batches

    pairs = write_images(tmp_path, 4)
    captions = [[f"caption {k} of {i}" for k in range(5)] for i in range(4)]
    images = torch.zeros(4, 3, 16, 16, dtype=torch.uint8)
    config = CaptionDataConfig(image_size=16, min_freq=1, captions_per_image=2)
    vocab = build_vocab(captions, config)
    split = encode_split([image for image, _ in pairs], images, captions, vocab, config)
    batches, steps = training_batches(split, 2, 0, vocab, config)
    first = [batch[1] for batch in batches(0)]
    assert steps == 2 and all(inputs.shape[1] == 2 for inputs in first)  # (B, K=2, T)
    assert all(torch.equal(a, b) for a, b in zip(first, [batch[1] for batch in batches(0)], strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, [batch[1] for batch in batches(1)], strict=True))
