"""The classification CLI end to end: train classify, evaluate, predict on tiny runs, and user mistakes.

The data are synthetic reviews whose label a word decides ("good"/"great" vs "bad"/"awful"), so a tiny BiLSTM
learns them in a few epochs; torch runs on one thread so the file stays fast on a busy two-core machine.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "12", "--hidden-size", "12", "--epochs", "12", "--batch-size", "8", "--lr", "0.02",
        "--dropout", "0.0", "--quiet"]
FILLER = "the film plot actors story was and a it scenes music with".split()
WORDS = {"pos": ["good", "great"], "neg": ["bad", "awful"], "neutral": ["okay"]}


def review(label: str, rng: random.Random) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
    words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS[label]))
    return " ".join(words)


def write_csv(path: Path, count: int, seed: int, labels=("pos", "neg")) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "sentiment"])
        for index in range(count):
            label = labels[index % len(labels)]
            writer.writerow([index, review(label, rng), label])
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reviews")
    write_csv(folder / "train.csv", 120, seed=0)
    write_csv(folder / "test.csv", 40, seed=1)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, data) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "clf"
    code, stdout, err = invoke("train", "classify", "--data", data / "train.csv", "--test", data / "test.csv",
                                "--text-column", "review", "--label-column", "sentiment", "--out", out, *TINY)
    assert code == 0, err
    lines = stdout.splitlines()
    assert len(lines) == 1
    return out, json.loads(lines[0])


def test_train_classify_learns_and_writes_the_run_dir(run):
    out, result = run
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.jsonl", "curves.png",
                 "confusion_valid.png", "confusion_test.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "classify" and config["labels"] == ["neg", "pos"]
    assert config["data"]["examples"] == {"train": 108, "valid": 12, "test": 40}  # 10% of each class held out
    assert result["test_accuracy"] >= 0.9, result
    assert sum(map(sum, result["test_confusion_matrix"])) == 40
    assert 0.9 <= result["test_roc_auc"] <= 1.0 and 0.9 <= result["test_pr_auc"] <= 1.0
    assert 1 <= result["best_epoch"] <= 12


def test_evaluate_dispatches_to_the_classifier(run, data):
    out, result = run
    code, stdout, err = invoke("evaluate", out, "--data", data / "test.csv")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics["labels"] == ["neg", "pos"] and metrics["examples"] == 40
    assert metrics["accuracy"] == pytest.approx(result["test_accuracy"])
    assert metrics["confusion_matrix"] == result["test_confusion_matrix"]
    assert rk.load(out).evaluate(data / "test.csv", batch_size=3)["accuracy"] == pytest.approx(metrics["accuracy"])


def test_predict_from_a_file_and_from_stdin(run, tmp_path, monkeypatch):
    out, _ = run
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("the film was great\n\nawful story and music\n", encoding="utf-8")
    code, stdout, err = invoke("predict", out, "--input", inputs)
    assert code == 0, err
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [record["label"] for record in records] == ["pos", "neg"]
    for record in records:
        assert set(record["probabilities"]) == {"neg", "pos"}
        assert sum(record["probabilities"].values()) == pytest.approx(1.0)
        assert record["probabilities"][record["label"]] > 0.5
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("a good film\n"))
    code, stdout, err = invoke("predict", out, "--input", "-")
    assert code == 0, err
    assert json.loads(stdout)["label"] == "pos"
    assert rk.load(out).predict(["a good film"])[0]["probabilities"] == pytest.approx(
        json.loads(stdout)["probabilities"])


def test_predict_reads_the_text_column_of_a_table(run, data):
    out, _ = run
    code, stdout, err = invoke("predict", out, "--input", data / "test.csv", "--text-column", "review")
    assert code == 0, err
    assert len(stdout.splitlines()) == 40


def test_predict_writes_a_csv_table_with_one_probability_column_per_class(run, tmp_path):
    out, _ = run
    inputs = tmp_path / "inputs.txt"
    inputs.write_text('the film was great, "really"\nawful story and music\n', encoding="utf-8")
    code, stdout, err = invoke("predict", out, "--input", inputs, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(__import__("io").StringIO(stdout)))
    assert list(rows[0]) == ["text", "label", "p_neg", "p_pos"]
    assert [row["text"] for row in rows] == ['the film was great, "really"', "awful story and music"]
    assert [row["label"] for row in rows] == ["pos", "neg"]
    as_json = rk.load(out).predict(['the film was great, "really"', "awful story and music"])
    for row, record in zip(rows, as_json, strict=True):
        assert float(row["p_pos"]) + float(row["p_neg"]) == pytest.approx(1.0, abs=1e-5)
        assert float(row["p_pos"]) == pytest.approx(record["probabilities"]["pos"], rel=1e-5)
    assert_user_error(invoke("predict", out, "--input", inputs, "--format", "xml"), "--format")


def test_train_on_a_zip_of_class_folders(tmp_path):
    rng = random.Random(3)
    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("corpus/README.TXT", "not an example")
        for index in range(30):
            label = ("pos", "neg")[index % 2]
            handle.writestr(f"corpus/{label}/{index:03d}.txt", review(label, rng) + "\n")
    code, stdout, err = invoke("train", "classify", "--data", archive, "--out", tmp_path / "run", "--valid-fraction",
                                "0.2", "--pooling", "attention", "--no-bidirectional", *TINY[:-3], "--epochs", "1",
                                "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["examples"]["valid"] == 6


def test_one_file_per_class(tmp_path):
    rng = random.Random(4)
    for label in ("pos", "neg"):
        (tmp_path / f"reviews.{label}").write_text("\n".join(review(label, rng) for _ in range(10)) + "\n")
    code, stdout, err = invoke("train", "classify", "--data", tmp_path / "reviews.pos", tmp_path / "reviews.neg",
                                "--out", tmp_path / "run", "--pooling", "last", *TINY[:-3], "--epochs", "1", "--quiet")
    assert code == 0, err
    assert json.loads(stdout)["valid_examples"] == 2
    for label in ("pos", "neg"):  # evaluation data in the training layout: one file per class
        (tmp_path / f"held.{label}").write_text("\n".join(review(label, rng) for _ in range(3)) + "\n")
    code, stdout, err = invoke("evaluate", tmp_path / "run", "--data", tmp_path / "held.pos", tmp_path / "held.neg")
    assert code == 0, err
    assert sum(map(sum, json.loads(stdout)["confusion_matrix"])) == 6


# --- user mistakes: one line, naming file and line, exit code 2 -----------------------------------------------


def test_missing_label_column(tmp_path, data):
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--text-column", "review",
                              "--out", tmp_path / "run", *TINY),
                      "train.csv line 1", "no label column 'label'", "'sentiment'")
    assert not (tmp_path / "run").exists()


def test_one_class_only(tmp_path):
    path = write_csv(tmp_path / "one.csv", 10, seed=0, labels=("pos",))
    assert_user_error(invoke("train", "classify", "--data", path, "--text-column", "review", "--label-column",
                              "sentiment", "--out", tmp_path / "run", *TINY),
                      "one.csv", "'pos'", "at least 2 classes")


def test_label_unseen_in_training_in_test_and_evaluate_data(tmp_path, data, run):
    unseen = write_csv(tmp_path / "unseen.csv", 6, seed=2, labels=("pos", "neg", "neutral"))
    columns = ["--text-column", "review", "--label-column", "sentiment"]
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--test", unseen, *columns,
                              "--out", tmp_path / "run", *TINY),
                      "unseen.csv line 4", "'neutral'", "'neg', 'pos'")
    assert not (tmp_path / "run").exists()  # checked before training, no half-made run
    assert_user_error(invoke("evaluate", run[0], "--data", unseen), "unseen.csv line 4", "'neutral'")


def test_malformed_record_in_evaluation_data(tmp_path, run):
    broken = tmp_path / "broken.csv"
    broken.write_text("id,review,sentiment\n1,good film,pos\n2,bad,neg,extra\n", encoding="utf-8")
    assert_user_error(invoke("evaluate", run[0], "--data", broken), "broken.csv line 3", "4 fields; expected 3")


def test_verbs_of_other_tasks_are_refused(run, tmp_path):
    assert_user_error(invoke("score", run[0], "some text"), "'classify'", "'score'")
    assert_user_error(invoke("generate", run[0]), "'classify'", "'generate'")
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n", encoding="utf-8")
    assert_user_error(invoke("predict", run[0], "--input", empty), "empty.txt", "holds no inputs")  # not exit 0


def test_bad_settings_name_the_flag(tmp_path, data):
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--pooling", "sum",
                              "--out", tmp_path / "run"), "pooling", "'sum'")


def test_real_exit_code_and_no_traceback(tmp_path, data):
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli", "train", "classify", "--data",
                             str(data / "train.csv"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no text column 'text'" in result.stderr


def test_config_file_sections_and_flags_on_top(tmp_path, data):
    config = tmp_path / "clf.toml"
    config.write_text('[text]\ntext_column = "review"\nlabel_column = "sentiment"\n[model]\npooling = "mean"\n'
                      'hidden_size = 6\n[train]\nepochs = 1\n', encoding="utf-8")
    code, _, err = invoke("train", "classify", "--data", data / "train.csv", "--config", config, "--hidden-size", "5",
                           "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["pooling"] == "mean" and saved["model"]["hidden_size"] == 5
    assert saved["text"]["text_column"] == "review" and saved["train"]["epochs"] == 1
    config.write_text("[model]\npoling = 'mean'\n", encoding="utf-8")
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--config", config,
                              "--out", tmp_path / "run2"), "poling", "pooling")


def test_html_stripping_and_head_tail_cut_are_kept_in_the_run_and_used_to_predict(tmp_path):
    rng = random.Random(2)
    rows = ["id\tlabel\ttext"]
    for index in range(60):
        label = ("pos", "neg")[index % 2]
        rows.append(f"{index}\t{label}\t{review(label, rng)}.<br /><br />{' '.join(rng.choices(FILLER, k=20))}")
    data = tmp_path / "reviews.tsv.gz"
    data.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    out = tmp_path / "run"
    code, _, err = invoke("train", "classify", "--data", data, "--out", out, "--strip-html", "--max-length", "9",
                          "--truncate", "head+tail", "--embedding-size", "8", "--hidden-size", "8", "--epochs", "1",
                          "--batch-size", "16", "--quiet")
    assert code == 0, err
    text = json.loads((out / "config.json").read_text(encoding="utf-8"))["text"]
    assert text["strip_html"] is True and text["truncate"] == "head+tail" and text["max_length"] == 9
    assert "<" not in json.loads((out / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    predictor = rk.load(out)
    with_tags, without = predictor.predict(["a good film<br /><br />the plot", "a good film the plot"])
    assert with_tags["probabilities"] == without["probabilities"]
    long_text = "bad " + " ".join(["the"] * 50) + " and the end"  # 54 tokens: the first 5 and the last 4 kept
    cut = predictor.predict(["bad the the the the the and the end"])[0]
    assert predictor.predict([long_text])[0]["probabilities"] == cut["probabilities"]


@pytest.mark.parametrize(("flags", "needles"), [(["--truncate", "middle"], ("truncate", "'middle'", "'head+tail'")),
                                                (["--max-length", "0", "--truncate", "tail"], ("max_length", "0"))])
def test_bad_truncation_settings_are_one_line_errors(tmp_path, data, flags, needles):
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--text-column", "review",
                              "--label-column", "sentiment", *flags, "--out", tmp_path / "run"), *needles)
    assert not (tmp_path / "run").exists()


def test_ensemble_and_word_dropout_flags_train_save_and_load_back(tmp_path, data):
    out = tmp_path / "ensemble"
    code, stdout, err = invoke("train", "classify", "--data", data / "train.csv", "--test", data / "test.csv",
                               "--text-column", "review", "--label-column", "sentiment", "--out", out, *TINY,
                               "--ensemble", "2", "--word-dropout", "0.1")
    assert code == 0, err
    result = json.loads(stdout)
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["ensemble"] == 2 and config["model"]["word_dropout"] == 0.1
    assert result["test_accuracy"] >= 0.9, result
    predictor = rk.load(out)
    assert len(predictor.model.members) == 2
    assert predictor.evaluate(data / "test.csv")["accuracy"] == pytest.approx(result["test_accuracy"])
    assert_user_error(invoke("train", "classify", "--data", data / "train.csv", "--ensemble", "0",
                             "--out", tmp_path / "bad"), "ensemble", "0")
