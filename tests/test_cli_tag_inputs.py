"""The tagger's stronger inputs end to end: a CoNLL-U treebank (auto-detected, UPOS or XPOS), character features
and a CRF saved and loaded with the run, pretrained vectors, and one-line errors for bad values."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "8", "--hidden-size", "8", "--char-size", "4", "--epochs", "2", "--batch-size", "8",
        "--quiet"]
WORDS = {"DET": ["the", "a"], "NOUN": ["cat", "dog", "house"], "VERB": ["runs", "sleeps"]}


def write_conllu(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = []
    for number in range(count):
        lines += [f"# sent_id = {number}", f"# text = {number}"]
        words = [(rng.choice(WORDS[tag]), tag) for tag in ("DET", "NOUN", "VERB")]
        if rng.random() < 0.3:
            lines.append("\t".join(["1-2", "x", *["_"] * 8]))
        for index, (word, tag) in enumerate(words, 1):
            lines.append("\t".join([str(index), word, word, tag, tag[:2], "_", "0", "dep", "_", "_"]))
            if rng.random() < 0.2:
                lines.append("\t".join([f"{index}.1", word, word, "X", "XX", "_", "_", "_", "_", "_"]))
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def treebank(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ud")
    write_conllu(folder / "train.conllu", 40, 0)
    write_conllu(folder / "test.conllu", 10, 1)
    return folder


def test_a_conllu_treebank_with_char_features_and_a_crf_round_trips(treebank, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "tag", "--data", treebank / "train.conllu", "--test", treebank / "test.conllu",
                               "--char-features", "lstm", "--crf", "--out", out, *TINY)
    assert code == 0, err
    result = json.loads(stdout)
    assert json.loads((out / "tags.json").read_text())["tokens"] == ["DET", "NOUN", "VERB"]  # no X: nodes skipped
    assert "<unk>" in json.loads((out / "chars.json").read_text())["tokens"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["char_features"] == "lstm" and config["model"]["crf"] is True
    predictor = rk.load(out)
    assert predictor.evaluate(treebank / "test.conllu")["accuracy"] == pytest.approx(result["test_accuracy"])
    records = predictor.predict(["the zebra sleeps"])
    assert records[0]["tokens"] == ["the", "zebra", "sleeps"] and len(records[0]["tags"]) == 3


def test_xpos_and_the_cnn(treebank, tmp_path):
    code, stdout, err = invoke("train", "tag", "--data", treebank / "train.conllu", "--tag-column", "xpos",
                               "--char-features", "cnn", "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "tags.json").read_text())["tokens"] == ["DE", "NO", "VE"]


def test_pretrained_vectors_fill_the_embeddings_and_the_share_found_is_reported(treebank, tmp_path):
    vectors = tmp_path / "glove.txt"
    vectors.write_text("the " + " ".join(["0.5"] * 8) + "\nhouse " + " ".join(["1"] * 8) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "tag", "--data", treebank / "train.conllu", "--embeddings", vectors,
                               "--freeze-embeddings", "--out", out, *TINY)
    assert code == 0, err
    result = json.loads(stdout)
    vocab = json.loads((out / "vocab.json").read_text())["tokens"]
    words = len(vocab) - 2
    assert result["embeddings_found"] == pytest.approx(2 / words)  # "the" and "house" of the 7 words
    predictor = rk.load(out)
    row = predictor.model.embedding.weight[vocab.index("the")]
    assert row.tolist() == [0.5] * 8  # frozen: training left it as the file gave it
    assert json.loads((out / "config.json").read_text())["data"]["embeddings"]["found"] == 2


def test_bad_values_are_one_line_errors(treebank, tmp_path):
    data = treebank / "train.conllu"
    assert_user_error(invoke("train", "tag", "--data", data, "--tag-column", "lemma", "--out", tmp_path / "r"),
                      "--tag-column: got 'lemma'")
    assert_user_error(invoke("train", "tag", "--data", data, "--tag-column", "2", "--out", tmp_path / "r"),
                      "a CoNLL-U file with --tag-column 2; expected upos or xpos")
    conll = tmp_path / "a.conll"
    conll.write_text("the DET\ncat NOUN\n", encoding="utf-8")
    assert_user_error(invoke("train", "tag", "--data", conll, "--tag-column", "upos", "--out", tmp_path / "r"),
                      "is not CoNLL-U")
    bad = tmp_path / "bad.conllu"
    bad.write_text(data.read_text(encoding="utf-8").replace("\tthe\tthe\tDET", "\tthe\tDET", 1), encoding="utf-8")
    assert_user_error(invoke("train", "tag", "--data", bad, "--format", "conllu", "--out", tmp_path / "r"),
                      "got 9 tab-separated columns; expected 10")
    vectors = tmp_path / "v.txt"
    vectors.write_text("the 1 2 3\n", encoding="utf-8")
    assert_user_error(invoke("train", "tag", "--data", data, "--embeddings", vectors, "--out", tmp_path / "r",
                             *TINY), f"{vectors} line 1: got 3 values after the word; expected 8")
    assert_user_error(invoke("train", "tag", "--data", data, "--char-features", "gru", "--out", tmp_path / "r"),
                      "--char-features")
