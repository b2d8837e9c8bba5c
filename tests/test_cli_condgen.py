"""The conditional-generation CLI end to end: train condgen, generate --condition, evaluate, and user mistakes.

The toy corpus has one file per class (as rt-polarity): every "pos" line is "x x x", every "neg" line "y y y",
so a tiny generator learns to write exactly the line of the condition it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rnnkit as rk
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--embedding-size", "8", "--hidden-size", "16", "--condition-size", "4", "--epochs", "25", "--batch-size",
        "8", "--lr", "0.03", "--dropout", "0.0", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    (folder / "toy.pos").write_text("x x x\n" * 20, encoding="utf-8")
    (folder / "toy.neg").write_text("y y y\n" * 20, encoding="utf-8")
    (folder / "eval.tsv").write_text("text\tlabel\nx x x\tpos\ny y y\tneg\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, data) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "condgen"
    code, stdout, err = invoke("train", "condgen", "--data", data / "toy.pos", data / "toy.neg", "--format", "files",
                               "--out", out, *TINY)
    assert code == 0, err
    lines = stdout.splitlines()
    assert len(lines) == 1
    return out, json.loads(lines[0])


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_train_condgen_writes_the_run_dir(run):
    out, result = run
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.jsonl", "curves.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "condgen" and config["labels"] == ["neg", "pos"]
    assert config["model"]["condition_input"] is True and config["generation"]["max_length"] == 13
    assert config["data"]["examples"] == {"train": 36, "valid": 4, "test": None}  # 10% of each class held out
    assert json.loads((out / "vocab.json").read_text())["tokens"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert result["valid_ppl"] < 1.1, result


def test_generate_writes_the_text_of_the_condition(run):
    out, _ = run
    for label, text in (("pos", "x x x"), ("neg", "y y y")):
        code, stdout, err = invoke("generate", out, "--condition", label, "--count", 3, "--temperature", 0)
        assert code == 0, err
        assert records(stdout) == [{"condition": label, "text": text}] * 3
    code, stdout, err = invoke("generate", out, "--condition", "neg", "--seed", 4)
    assert code == 0, err
    assert records(stdout) == [{"condition": "neg", "text": "y y y"}]
    code, stdout, err = invoke("generate", out, "--condition", "pos", "--seed", 4, "--guidance", 2)
    assert code == 0, err
    assert records(stdout) == [{"condition": "pos", "text": "x x x"}]


def test_generate_is_reproducible_with_a_seed_and_matches_the_api(run):
    out, _ = run
    arguments = ("generate", out, "--condition", "pos", "--count", 4, "--temperature", 3.0, "--seed", 11,
                 "--length", 5)
    first, again = invoke(*arguments), invoke(*arguments)
    assert first[0] == 0 and first == again
    texts = [record["text"] for record in records(first[1])]
    assert texts == rk.load(out).generate("pos", n=4, temperature=3.0, seed=11, max_length=5)
    assert all(1 <= len(text.split()) <= 5 for text in texts)


def test_evaluate_gives_the_perplexity_conditioned_on_the_label(run, data):
    out, _ = run
    code, stdout, err = invoke("evaluate", out, "--data", data / "eval.tsv")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics["labels"] == ["neg", "pos"] and metrics["examples"] == 2 and metrics["tokens"] == 8
    assert 1.0 <= metrics["ppl"] < 1.1 and set(metrics["ppl_by_label"]) == {"neg", "pos"}
    swapped = data / "swapped.tsv"  # each text under the other label's condition: very unlikely
    swapped.write_text("text\tlabel\nx x x\tneg\ny y y\tpos\n", encoding="utf-8")
    assert rk.load(out).evaluate(swapped)["ppl"] > 10 * metrics["ppl"]


def test_initial_state_only_model_trains_too(tmp_path, data):
    out = tmp_path / "run"
    code, _, err = invoke("train", "condgen", "--data", data / "toy.pos", data / "toy.neg", "--out", out,
                          "--no-condition-input", "--cell", "gru", *TINY)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["model"]["condition_input"] is False
    assert rk.load(out).generate("neg", n=2, temperature=0) == ["y y y", "y y y"]


# --- user mistakes: one line, exit code 2 ------------------------------------------------------------------------


def test_unknown_or_missing_condition(run):
    out, _ = run
    assert_user_error(invoke("generate", out, "--condition", "neutral"), "'neutral'", "'neg', 'pos'")
    assert_user_error(invoke("generate", out), "needs --condition LABEL", "'neg', 'pos'")
    assert_user_error(invoke("generate", out, "--condition", "pos", "--count", 0), "n: got 0")
    assert_user_error(invoke("generate", out, "--condition", "pos", "--prompt", "x"), "--prompt", "'condgen'",
                      "takes no --prompt")
    assert_user_error(invoke("generate", out, "--condition", "pos", "--temperature", -1), "temperature")
    assert_user_error(invoke("generate", out, "--condition", "pos", "--guidance", -1), "guidance")


def test_condition_on_a_language_model_run(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("abcab abcab\n" * 20, encoding="utf-8")
    code, _, err = invoke("train", "lm", "--data", text, "--out", tmp_path / "lm", "--hidden-size", "8",
                          "--embedding-size", "4", "--num-layers", "1", "--epochs", "1", "--batch-size", "2",
                          "--bptt", "8", "--quiet")
    assert code == 0, err
    # the CLI asks the predictor, not the task: the message names the run's task and what its generate lacks
    assert_user_error(invoke("generate", tmp_path / "lm", "--condition", "pos"), "--condition", "'lm'",
                      "takes no --condition")
    assert_user_error(invoke("generate", tmp_path / "lm", "--count", 3), "--count", "'lm'")
    assert_user_error(invoke("generate", tmp_path / "lm", "--guidance", 1), "--guidance", "'lm'")
    code, stdout, _ = invoke("generate", tmp_path / "lm", "--length", 5, "--seed", 0)
    assert code == 0 and len(json.loads(stdout)["text"]) == 5
    code, stdout, _ = invoke("generate", tmp_path / "lm", "--seed", 0)  # a language model's default: 200 tokens
    assert code == 0 and len(json.loads(stdout)["text"]) == 200


def test_bad_training_data(tmp_path, data):
    one_class = tmp_path / "one.tsv"
    one_class.write_text("text\tlabel\nx x\tpos\nx\tpos\n", encoding="utf-8")
    assert_user_error(invoke("train", "condgen", "--data", one_class, "--out", tmp_path / "run", *TINY),
                      "one.tsv", "'pos'", "at least 2 classes")
    assert_user_error(invoke("train", "condgen", "--data", data / "toy.pos", "--format", "files", "--out",
                             tmp_path / "run", *TINY), "toy.pos", "a file for each class")
    unseen = tmp_path / "unseen.tsv"
    unseen.write_text("text\tlabel\nx x\tpos\nz z\tneutral\n", encoding="utf-8")
    assert_user_error(invoke("train", "condgen", "--data", data / "toy.pos", data / "toy.neg", "--test", unseen,
                             "--out", tmp_path / "run", *TINY), "unseen.tsv line 3", "'neutral'")
    assert not (tmp_path / "run").exists()  # checked before training: no half-made run
    assert_user_error(invoke("train", "condgen", "--data", data / "toy.pos", data / "toy.neg", "--cell", "cnn",
                             "--out", tmp_path / "run"), "cell", "'cnn'")


def test_evaluate_with_an_unseen_label(run, tmp_path):
    unseen = tmp_path / "unseen.tsv"
    unseen.write_text("text\tlabel\nx x x\tpos\ny y\tmixed\n", encoding="utf-8")
    assert_user_error(invoke("evaluate", run[0], "--data", unseen), "unseen.tsv line 3", "'mixed'")


def test_resume_continues_a_condgen_run_exactly(data, tmp_path):
    assert_resume_is_exact(tmp_path, "condgen", "--data", data / "toy.pos", data / "toy.neg", "--format", "files",
                           *TINY)
