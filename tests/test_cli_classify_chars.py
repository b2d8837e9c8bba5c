"""The classifier with character features: --char-features lstm|cnn --char-size N train, save chars.json, load
back and predict; a word never seen in training is classified by its spelling; bad values are one line."""

from __future__ import annotations

import json

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "4", "--hidden-size", "8", "--epochs", "25", "--batch-size", "8", "--lr", "0.03",
        "--dropout", "0.0", "--min-freq", "2", "--quiet", "--char-size", "8"]
STEMS = "hope joy care cheer grace power help use thank truth".split()


@pytest.fixture()
def data(tmp_path):
    """The label is the suffix of a word (-ful: pos, -less: neg); every word is seen once, so each is <unk> to the
    word vocabulary (min_freq 2) and only its spelling tells; the test words never occur in training."""
    rows = ["text,label"]
    for stem in STEMS:
        rows += [f"a {stem}ful day,pos", f"a {stem}less day,neg"]
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    test.write_text("text,label\na playful day,pos\na pointless day,neg\na skillful day,pos\na tactless day,neg\n",
                    encoding="utf-8")
    return train, test


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_a_char_feature_classifier_tags_unseen_words_by_their_spelling(data, tmp_path, kind):
    train, test = data
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "classify", "--data", train, "--valid", train, "--test", test,
                               "--char-features", kind, "--out", out, *TINY)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["chars"] == {"char_features": kind, "char_size": 8}
    chars = json.loads((out / "chars.json").read_text(encoding="utf-8"))["tokens"]
    assert "f" in chars and "z" not in chars
    assert json.loads(stdout)["test_accuracy"] == 1.0
    predictor = rk.load(out)
    assert predictor.char_vocab is not None
    assert [record["label"] for record in predictor.predict(["a wonderful day", "a hopeless day"])] == ["pos", "neg"]
    assert predictor.evaluate(test)["accuracy"] == 1.0
    for verb, call in [("stream", predictor.stream), ("export", lambda: predictor.export(tmp_path / "m.onnx"))]:
        with pytest.raises(ValueError, match=f"^{verb}: this classifier reads character features"):
            call()


def test_without_char_features_the_unseen_words_are_all_alike(data, tmp_path):
    train, test = data
    out = tmp_path / "words"
    code, stdout, err = invoke("train", "classify", "--data", train, "--valid", train, "--test", test, "--out", out,
                               *TINY[:-2])
    assert code == 0, err
    assert json.loads(stdout)["test_accuracy"] == 0.5  # every test text is "a <unk> day"
    assert not (out / "chars.json").exists() and rk.load(out).char_vocab is None


def test_char_features_bad_values_are_one_line_errors(data, tmp_path):
    train, _ = data
    out = tmp_path / "r"
    assert_user_error(invoke("train", "classify", "--data", train, "--char-features", "gru", "--out", out),
                      "--char-features")
    assert_user_error(invoke("train", "classify", "--data", train, "--char-features", "cnn", "--char-size", "0",
                             "--out", out), "char_size: got 0; expected a positive integer")
    assert_user_error(invoke("train", "classify", "--data", train, "--char-features", "cnn", "--level", "char",
                             "--out", out), "char_features: got 'cnn' with level 'char'")
    assert_user_error(invoke("train", "classify", "--data", train, "--char-features", "lstm", "--pretrain-epochs",
                             "1", "--out", out), "pretrain_epochs: got 1 with char_features 'lstm'")
    assert not out.exists()
