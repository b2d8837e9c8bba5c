"""Minimal-pair probes against the model's own score; the gradflow, longdep and probe verbs; user mistakes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

import rnnkit as rk
from rnnkit.analysis.probes import continuation_logprob, read_minimal_pairs, run_probes
from rnnkit.cli import main
from tests.cli_helpers import assert_user_error

TINY = ["--cell", "gru", "--hidden-size", "8", "--embedding-size", "4", "--num-layers", "1", "--epochs", "1",
        "--batch-size", "2", "--bptt", "8", "--quiet"]
WORDS = "the cat sat on a mat and dog ran to big red hat is are".split()


def _train(folder: Path, level: str) -> Path:
    rng = random.Random(0)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(30)) + "\n"
    (folder / "train.txt").write_text(text, encoding="utf-8")
    run = folder / "run"
    torch.set_num_threads(1)
    assert main(["train", "lm", "--data", str(folder / "train.txt"), "--level", level, "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def word_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("word"), "word")


@pytest.fixture(scope="module")
def char_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("char"), "char")


def test_sentence_probe_scores_equal_the_models_own_scores(word_run, tmp_path):
    predictor = rk.load(word_run)
    probe = tmp_path / "pairs.tsv"
    probe.write_text("the cat is on a mat\tthe cat are on a mat\tagreement\n"
                     "a dog ran\tdog a ran\torder\n", encoding="utf-8")
    pairs = read_minimal_pairs(probe, format="sentence")  # three columns would otherwise read as continuations
    report = run_probes(predictor, pairs)
    expected = [predictor.score(pair.correct)["logprob"] > predictor.score(pair.wrong)["logprob"] for pair in pairs]
    assert report["pairs"] == report["scored"] == 2 and report["correct"] == sum(expected)
    assert report["groups"]["agreement"]["correct"] == int(expected[0])
    assert report["groups"]["order"]["accuracy"] == float(expected[1])


def test_continuation_logprob_is_the_difference_of_the_models_scores(char_run):
    predictor = rk.load(char_run)
    for prefix, continuation in (("the cat", "is"), ("a dog ran ", "to")):
        joined = prefix + continuation if prefix.endswith(" ") else f"{prefix} {continuation}"
        expected = predictor.score(joined)["logprob"] - predictor.score(prefix)["logprob"]
        assert continuation_logprob(predictor, prefix, continuation) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_word_level_continuation_counts_only_its_own_tokens(word_run):
    predictor = rk.load(word_run)
    record = predictor.score("the cat sat on")  # tokens: the cat sat on <eos>
    assert continuation_logprob(predictor, "the cat", "sat on") == pytest.approx(
        math.fsum(record["token_logprobs"][2:4]), rel=1e-12)


def test_oov_pairs_are_reported_not_counted(word_run, tmp_path):
    probe = tmp_path / "pairs.tsv"
    probe.write_text("the cat\tis\tare\tagree\nthe zebra\tis\tare\tagree\nthe cat\tflies\tis\tother\n",
                     encoding="utf-8")
    report = run_probes(rk.load(word_run), read_minimal_pairs(probe))
    assert report["pairs"] == 3 and report["scored"] == 1 and report["oov_pairs"] == 2
    assert report["oov_words"] == {"zebra": 1, "flies": 1} and report["oov_lines"] == [2, 3]
    assert report["groups"]["other"] == {"pairs": 1, "scored": 0, "correct": 0, "accuracy": None, "oov_pairs": 1}


def test_probe_cli(cli, word_run, tmp_path):
    probe = tmp_path / "pairs.tsv"
    probe.write_text("the cat\tis\tare\n\nthe dog\tran\tsat\n", encoding="utf-8")
    code, out, _ = cli("probe", word_run, "--input", probe)
    assert code == 0
    record = json.loads(out)
    assert record["pairs"] == 2 and 0.0 <= record["accuracy"] <= 1.0 and record["oov_pairs"] == 0


def test_probe_line_without_tabs_names_the_line(cli, word_run, tmp_path):
    probe = tmp_path / "pairs.tsv"
    probe.write_text("the cat\tis\tare\nthe cat is are\n", encoding="utf-8")
    assert_user_error(cli("probe", word_run, "--input", probe), "pairs.tsv line 2", "no tab",
                      "prefix<TAB>correct<TAB>wrong")
    probe.write_text("a\tb\n\tc\n", encoding="utf-8")
    assert_user_error(cli("probe", word_run, "--input", probe), "line 2", "empty", "good<TAB>bad")
    assert_user_error(cli("probe", word_run, "--input", tmp_path / "missing.tsv"), "missing.tsv")


def test_gradflow_cli_fresh_cells(cli, tmp_path):
    code, out, err = cli("gradflow", "--cells", "rnn,lstm", "--length", "12", "--batch-size", "2",
                         "--hidden-size", "4", "--clip", "1", "--out", tmp_path)
    assert code == 0, err
    report = json.loads((tmp_path / "gradflow.json").read_text())
    assert report["length"] == 12 and set(report["cells"]) == {"rnn", "lstm"}
    for values in report["cells"].values():
        assert len(values["grad_norm"]) == len(values["jacobian_norm"]) == len(values["grad_norm_clipped"]) == 12
    assert len(report["cells"]["lstm"]["forget_gate"]) == 12 and "forget_gate" not in report["cells"]["rnn"]
    assert (tmp_path / "gradflow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(out)
    assert set(summary["cells"]) == {"rnn", "lstm"} and "gradient" in err and "lstm" in err


def test_gradflow_cli_language_model_run(cli, word_run, tmp_path):
    (tmp_path / "text.txt").write_text("the cat sat on a mat\n" * 4, encoding="utf-8")
    code, _, err = cli("gradflow", word_run, "--length", "6", "--batch-size", "2", "--data", tmp_path / "text.txt",
                       "--out", tmp_path / "out")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "gradflow.json").read_text())
    (values,) = report["cells"].values()
    assert len(values["grad_norm"]) == 6


def test_longdep_cli(cli, tmp_path):
    code, out, err = cli("longdep", "--task", "recall", "--lengths", "4,6", "--cells", "rnn,gru", "--steps", "3",
                         "--hidden-size", "4", "--batch-size", "4", "--out", tmp_path, "--quiet")
    assert code == 0, err
    runs = [json.loads(line) for line in out.splitlines()]
    assert [(run["cell"], run["length"]) for run in runs] == [("rnn", 4), ("rnn", 6), ("gru", 4), ("gru", 6)]
    saved = json.loads((tmp_path / "longdep.json").read_text())
    assert saved["task"] == "recall" and len(saved["runs"]) == 4
    assert (tmp_path / "longdep.png").stat().st_size > 0


def test_longdep_cli_truncation_study(cli, tmp_path):
    code, out, err = cli("longdep", "--task", "recall", "--lengths", "6", "--cells", "lstm", "--bptt-windows", "2,6",
                         "--steps", "2", "--hidden-size", "4", "--batch-size", "4", "--out", tmp_path, "--quiet")
    assert code == 0, err
    assert [json.loads(line)["bptt"] for line in out.splitlines()] == [2, 6]


@pytest.mark.parametrize("args, needles", [
    (["longdep", "--task", "adding", "--lengths", "1,50"], ["--lengths", "got 1", ">= 2"]),
    (["longdep", "--task", "adding", "--lengths", "ten"], ["--lengths", "'ten'"]),
    (["longdep", "--task", "adding", "--cells", "rnn,transformer"], ["--cells", "'transformer'", "lstm"]),
    (["longdep", "--task", "parity"], ["--task", "parity"]),
    (["longdep", "--task", "digits", "--lengths", "50"], ["--lengths", "64"]),
    (["gradflow", "--length", "1"], ["--length", "got 1", ">= 2"]),
    (["gradflow", "--cells", "lstm,tree"], ["--cells", "'tree'"]),
    (["gradflow", "--clip", "0"], ["--clip", "positive"]),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, needles):
    assert_user_error(cli(*args, "--out", tmp_path / "out"), *needles)


@pytest.mark.parametrize("task, lengths", [("digits", "64"), ("tickets", "6"), ("copy", "3"), ("adding", "5")])
def test_longdep_cli_every_task(cli, tmp_path, task, lengths):
    if task == "digits":
        pytest.importorskip("sklearn")
    code, out, err = cli("longdep", "--task", task, "--lengths", lengths, "--cells", "lstm", "--steps", "2",
                         "--hidden-size", "4", "--batch-size", "4", "--out", tmp_path, "--quiet")
    assert code == 0, err
    (run,) = [json.loads(line) for line in out.splitlines()]
    assert run["task"] == task and run["steps"] == 2 and run["metric"] == ("mse" if task == "adding" else "accuracy")
