"""The tagging task end to end: train tag, rk.load, evaluate, predict on tiny runs, and user mistakes.

The data are synthetic CoNLL files (token, POS, NER columns) where "Jordan" is a person after "Mr" and a
location after "in": a tagger must read the context to get it right, which a tiny BiLSTM learns in a few epochs.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--embedding-size", "16", "--hidden-size", "16", "--epochs", "8", "--batch-size", "8", "--lr", "0.02",
        "--dropout", "0.0", "--quiet"]
FILLER = "the a met saw visited said that we they today and".split()


def sentence(rng: random.Random) -> list[tuple[str, str, str]]:
    """(token, POS, NER) triples of one synthetic sentence."""
    words: list[tuple[str, str, str]] = []
    for _ in range(rng.randint(2, 5)):
        draw = rng.random()
        if draw < 0.25:
            words += [(rng.choice(["John", "Mary"]), "NNP", "B-PER"), (rng.choice(["Smith", "Jones"]), "NNP", "I-PER")]
        elif draw < 0.4:
            words += [("in", "IN", "O"), (rng.choice(["Paris", "Rome"]), "NNP", "B-LOC")]
        elif draw < 0.55:
            words += [("in", "IN", "O"), ("Jordan", "NNP", "B-LOC")] if rng.random() < 0.5 else \
                [("Mr", "NNP", "O"), ("Jordan", "NNP", "B-PER")]
        else:
            words.append((rng.choice(FILLER), "DT" if rng.random() < 0.5 else "VB", "O"))
    return words


def write_conll(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = ["-DOCSTART- -X- O", ""]
    for _ in range(count):
        lines += [" ".join(word) for word in sentence(rng)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("conll")
    write_conll(folder / "train.txt", 80, seed=0)
    write_conll(folder / "test.txt", 30, seed=1)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, data) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "tagger"
    code, stdout, err = invoke("train", "tag", "--data", data / "train.txt", "--test", data / "test.txt",
                               "--out", out, *TINY)
    assert code == 0, err
    lines = stdout.splitlines()
    assert len(lines) == 1
    return out, json.loads(lines[0])


def test_train_tag_learns_and_writes_the_run_dir(run):
    out, result = run
    for name in ("config.json", "vocab.json", "tags.json", "model.safetensors", "metrics.jsonl", "curves.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "tag" and config["data"]["sentences"] == {"train": 72, "valid": 8, "test": 30}
    assert json.loads((out / "tags.json").read_text())["tokens"] == ["B-LOC", "B-PER", "I-PER", "O"]
    assert result["test_f1"] >= 0.95 and result["test_accuracy"] >= 0.95, result
    assert set(result["test_per_type"]) == {"LOC", "PER"}
    assert 1 <= result["best_epoch"] <= 8


def test_loaded_run_reads_the_context(run):
    predictor = rk.load(run[0])
    assert predictor.task == "tag"
    records = predictor.predict(["we met Mr Jordan in Paris", ["they", "said", "in", "Jordan"]])
    assert records[0] == {"tokens": ["we", "met", "Mr", "Jordan", "in", "Paris"],
                          "tags": ["O", "O", "O", "B-PER", "O", "B-LOC"]}
    assert records[1]["tags"] == ["O", "O", "O", "B-LOC"]
    assert predictor.predict([]) == []
    with pytest.raises(ValueError, match="sentence 2: got ''"):
        predictor.predict(["John", ""])


def test_evaluate_dispatches_to_the_tagger(run, data):
    out, result = run
    code, stdout, err = invoke("evaluate", out, "--data", data / "test.txt")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics["tags"] == ["B-LOC", "B-PER", "I-PER", "O"]
    for key in ("accuracy", "precision", "recall", "f1", "loss"):
        assert metrics[key] == pytest.approx(result[f"test_{key}"], abs=1e-6), key
    assert metrics["sentences"] == 30 and metrics["per_type"]["PER"]["support"] > 0


def test_predict_lines_stdin_and_conll(run, data, tmp_path, monkeypatch):
    out, _ = run
    text = tmp_path / "input.txt"
    text.write_text("Mary Jones visited Rome\n\nin Jordan\n", encoding="utf-8")
    code, stdout, err = invoke("predict", out, "--input", text)
    assert code == 0, err
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["tags"] for r in records] == [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC"]]
    monkeypatch.setattr("sys.stdin", io.StringIO("Mr Jordan\n"))
    code, stdout, err = invoke("predict", out, "--input", "-")
    assert code == 0 and json.loads(stdout) == {"tokens": ["Mr", "Jordan"], "tags": ["O", "B-PER"]}, err
    code, stdout, err = invoke("predict", out, "--input", data / "test.txt", "--conll")
    assert code == 0, err
    assert len(stdout.splitlines()) == 30


def test_a_tag_set_without_chunks_reports_token_accuracy_only(data, tmp_path):
    code, stdout, err = invoke("train", "tag", "--data", data / "train.txt", "--tag-column", "1", "--epochs", "1",
                               "--embedding-size", "8", "--hidden-size", "8", "--quiet", "--out", tmp_path / "pos")
    assert code == 0, err
    result = json.loads(stdout)
    assert 0 <= result["valid_accuracy"] <= 1 and "valid_f1" not in result
    code, stdout, err = invoke("evaluate", tmp_path / "pos", "--data", data / "test.txt")
    assert code == 0 and set(json.loads(stdout)["tags"]) == {"DT", "IN", "NNP", "VB"}


def test_an_unseen_tag_in_evaluation_data_names_file_and_line(run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("John NNP B-PER\n\nin IN O\nLondon NNP B-GPE\n", encoding="utf-8")
    assert_user_error(invoke("evaluate", run[0], "--data", bad), f"{bad} line 4", "'B-GPE'", "not seen")


def test_an_unseen_tag_in_valid_or_test_data_stops_training_before_it_starts(data, tmp_path):
    bad = tmp_path / "valid.txt"
    bad.write_text("Acme NNP B-ORG\n", encoding="utf-8")
    out = tmp_path / "never"
    assert_user_error(invoke("train", "tag", "--data", data / "train.txt", "--valid", bad, "--out", out, *TINY),
                      f"{bad} line 1", "'B-ORG'")
    assert not out.exists()


@pytest.mark.parametrize(("text", "needle"), [
    ("John NNP B-PER\nSmith NNP\n", "line 2: got 2 columns; expected 3"),
    ("John B-PER\nSmith\n", "line 2: got a token 'Smith' but no tag"),
    ("a O\nb O\n", "every token has the tag 'O'"),
    ("-DOCSTART- O\n\n", "holds no sentences"),
])
def test_malformed_training_data_is_one_line_exit_2(tmp_path, text, needle):
    path = tmp_path / "train.txt"
    path.write_text(text, encoding="utf-8")
    assert_user_error(invoke("train", "tag", "--data", path, "--out", tmp_path / "run", *TINY), needle)


def test_bad_flags_and_inputs(run, data, tmp_path):
    train = data / "train.txt"
    assert_user_error(invoke("train", "tag", "--data", train, "--token-column", "2", "--tag-column", "2",
                             "--out", tmp_path / "r"), "token_column and tag_column")
    assert_user_error(invoke("train", "tag", "--data", train, "--separator", "comma", "--out", tmp_path / "r"),
                      "separator")
    assert_user_error(invoke("train", "tag", "--data", tmp_path / "none.txt", "--out", tmp_path / "r"),
                      "none.txt")
    assert_user_error(invoke("predict", run[0], "--input", "-", "--conll"), "--conll")
    assert_user_error(invoke("predict", run[0], "--input", tmp_path / "none.txt"), "none.txt")
    assert_user_error(invoke("evaluate", run[0], "--data", tmp_path / "none.txt"), "none.txt")
    config = tmp_path / "settings.toml"
    config.write_text("[model]\npooling = 'max'\n", encoding="utf-8")
    assert_user_error(invoke("train", "tag", "--data", train, "--config", config, "--out", tmp_path / "r"),
                      "pooling")


def test_resume_continues_a_tagging_run_exactly(data, tmp_path):
    assert_resume_is_exact(tmp_path, "tag", "--data", data / "train.txt", *TINY)
