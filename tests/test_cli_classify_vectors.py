"""Pretrained vectors for the classifier (--embeddings, --freeze-embeddings): the rows of the vocabulary's words
copied in (every ensemble member), the share found reported, frozen rows unchanged by training, bad files one line."""

from __future__ import annotations

import json

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "4", "--hidden-size", "4", "--epochs", "1", "--batch-size", "4", "--quiet"]


@pytest.fixture()
def data(tmp_path):
    rows = ["text,label"] + [f"{word} film,{label}" for word, label in
                             [("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg")] * 4]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("ensemble", ["1", "2"])
def test_vectors_fill_the_embeddings_and_stay_frozen(data, tmp_path, ensemble):
    vectors = tmp_path / "vectors.vec"
    vectors.write_text("2 4\ngood 1 1 1 1\nFILM 0 0.5 0 0.5\n", encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "classify", "--data", data, "--embeddings", vectors, "--freeze-embeddings",
                               "--ensemble", ensemble, "--out", out, *TINY)
    assert code == 0, err
    tokens = json.loads((out / "vocab.json").read_text())["tokens"]
    assert json.loads(stdout)["embeddings_found"] == pytest.approx(1 / (len(tokens) - 2))  # "good" only: exact case
    model = rk.load(out).model
    tables = [module.embedding for module in model.modules() if hasattr(module, "embedding")
              and module.embedding is not None]
    assert len(tables) == int(ensemble)
    for table in tables:
        assert table.weight[tokens.index("good")].tolist() == [1, 1, 1, 1]
    assert json.loads((out / "config.json").read_text())["vectors"]["freeze_embeddings"] is True


def test_a_vectors_file_of_the_wrong_dimension_is_one_line(data, tmp_path):
    vectors = tmp_path / "glove.txt"
    vectors.write_text("good 1 2 3\n", encoding="utf-8")
    assert_user_error(invoke("train", "classify", "--data", data, "--embeddings", vectors, "--out", tmp_path / "r",
                             *TINY), f"{vectors} line 1: got 3 values after the word; expected 4")
    assert not (tmp_path / "r").exists()
