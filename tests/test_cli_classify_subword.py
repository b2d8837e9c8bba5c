"""The classifier over subword pieces: --tokenizer bpe|unigram learns pieces from the training split only, keeps
them in the run, segments new texts with them (unseen words spelled by pieces); bad values are one line."""

from __future__ import annotations

import json

import pytest

import rnnkit as rk
from rnnkit.text.subword import MARK
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "4", "--hidden-size", "4", "--epochs", "1", "--batch-size", "4", "--quiet",
        "--vocab-size", "30"]


@pytest.fixture()
def data(tmp_path):
    rows = ["text,label"] + [f"a {word} film,{label}" for word, label in
                             [("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg")] * 4]
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    test.write_text("text,label\nzany film,pos\n", encoding="utf-8")
    return train, test


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_a_subword_classifier_round_trips(data, tmp_path, kind):
    train, test = data
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "classify", "--data", train, "--test", test, "--tokenizer", kind, "--out", out,
                               *TINY)
    assert code == 0, err
    assert json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["kind"] == kind
    assert json.loads((out / "config.json").read_text())["subword"] == {"subword": kind, "vocab_size": 30}
    pieces = json.loads((out / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    assert any(piece.startswith(MARK) for piece in pieces) and "zany" not in "".join(pieces)
    predictor = rk.load(out)
    assert predictor.segmenter is not None and predictor.segmenter.kind == kind
    record = predictor.predict(["a goodawful film"])[0]
    assert set(record["probabilities"]) == {"neg", "pos"}
    assert predictor.evaluate(test)["accuracy"] == pytest.approx(json.loads(stdout)["test_accuracy"])


def test_subword_needs_word_level_and_a_known_kind(data, tmp_path):
    train, _ = data
    assert_user_error(invoke("train", "classify", "--data", train, "--tokenizer", "bpe", "--level", "char", "--out",
                             tmp_path / "r", *TINY), "tokenizer: got 'bpe' with level 'char'")
    assert_user_error(invoke("train", "classify", "--data", train, "--tokenizer", "wordpiece", "--out",
                             tmp_path / "r"), "--tokenizer")
    assert not (tmp_path / "r").exists()
