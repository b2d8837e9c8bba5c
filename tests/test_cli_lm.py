"""The language-model CLI end to end: train, evaluate, generate and score on tiny runs, and user mistakes.

Every verb runs in-process through ``rnnkit.cli.main`` (one subprocess test proves the real exit code and that no
traceback reaches stderr). Models are tiny (hidden 16, one layer, one epoch on a few hundred characters) and torch
runs on one thread, so the file stays fast on a busy two-core machine.
"""

from __future__ import annotations

import io
import json
import math
import os
import pathlib
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rnnkit as rk
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--cell", "lstm", "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1", "--epochs", "1",
        "--batch-size", "2", "--bptt", "8", "--quiet"]
RUN_FILES = ("config.json", "vocab.json", "model.safetensors", "metrics.jsonl", "curves.png", "checkpoint/LATEST")
WORDS = "the cat sat on a mat and dog ran to big red hat".split()


def _lines(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(count)) + "\n"


def one_json(out: str) -> dict:
    lines = out.splitlines()
    assert len(lines) == 1, out
    record = json.loads(lines[0])
    assert isinstance(record, dict)
    return record


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("texts")
    (folder / "chars.txt").write_text(_lines(24, seed=0), encoding="utf-8")  # ~430 characters
    (folder / "words.txt").write_text(_lines(40, seed=1), encoding="utf-8")  # 240 word tokens with <eos>
    return folder


@pytest.fixture(scope="module")
def char_run(tmp_path_factory, texts) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("runs") / "char"
    code, out, err = invoke("train", "lm", "--data", texts / "chars.txt", "--out", run, *TINY)
    assert code == 0, err
    return run, one_json(out)


@pytest.fixture(scope="module")
def word_run(tmp_path_factory, texts) -> Path:
    run = tmp_path_factory.mktemp("runs") / "word"
    code, out, err = invoke("train", "lm", "--data", texts / "words.txt", "--level", "word", "--out", run, *TINY)
    assert code == 0, err
    assert "valid_bits_per_token" in one_json(out)
    return run


def check_score_record(record: dict, text: str) -> None:
    assert record["text"] == text
    tokens, logprobs = record["tokens"], record["token_logprobs"]
    assert len(tokens) == len(logprobs) > 0
    assert all(value <= 0 for value in logprobs)
    assert record["logprob"] == pytest.approx(sum(logprobs), rel=1e-9, abs=0)
    assert record["perplexity"] == pytest.approx(math.exp(-record["logprob"] / len(tokens)), rel=1e-9, abs=0)


# --- smoke tests of every verb, char level ---------------------------------------------------------------------


def test_train_prints_one_json_object_and_writes_the_run_dir(char_run):
    run, result = char_run
    assert result["run"] == str(run)
    for key in ("epoch", "step", "train_loss", "valid_loss", "valid_ppl", "valid_bpc"):
        assert math.isfinite(result[key]), key
    assert result["valid_ppl"] == pytest.approx(math.exp(result["valid_loss"]))
    assert result["valid_bpc"] == pytest.approx(result["valid_loss"] / math.log(2))
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "lm" and config["model"]["hidden_size"] == 16 and config["train"]["bptt"] == 8
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(epochs) == 1


def test_evaluate_prints_loss_ppl_and_bpc(cli, char_run, texts):
    run, _ = char_run
    code, out, err = cli("evaluate", run, "--data", texts / "chars.txt")
    assert code == 0, err
    metrics = one_json(out)
    assert metrics["ppl"] == pytest.approx(math.exp(metrics["loss"]))
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / math.log(2))
    assert 0 < metrics["tokens"] <= len((texts / "chars.txt").read_text())


def test_generate_is_reproducible_with_a_seed_and_continues_the_prompt(cli, char_run):
    run, _ = char_run
    first = one_json(cli("generate", run, "--prompt", "ab", "--length", 20, "--seed", 1)[1])
    again = one_json(cli("generate", run, "--prompt", "ab", "--length", 20, "--seed", 1)[1])
    assert first == again
    assert first["prompt"] == "ab"
    assert first["text"].startswith("ab") and len(first["text"]) == 2 + 20


def test_generate_without_a_seed_leaves_the_global_rng_alone(char_run):
    predictor = rk.load(char_run[0])
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    predictor.generate("a", length=5)
    assert torch.equal(torch.rand(3), expected)


def test_dtype_bfloat16_keeps_the_weights_in_bf16_and_scores_close_to_float32(cli, char_run):
    run, _ = char_run
    predictor = rk.load(run, dtype="bfloat16")
    assert {p.dtype for p in predictor.model.parameters()} == {torch.bfloat16}
    full = one_json(cli("score", run, "some text")[1])
    half = one_json(cli("score", run, "some text", "--dtype", "bfloat16")[1])
    assert half["tokens"] == full["tokens"]
    assert half["perplexity"] == pytest.approx(full["perplexity"], rel=0.05)
    sample = one_json(cli("generate", run, "--prompt", "ab", "--length", 10, "--seed", 1, "--dtype", "bfloat16")[1])
    assert sample["text"].startswith("ab") and len(sample["text"]) == 12
    code, _, err = cli("score", run, "x", "--dtype", "float16")
    assert code == 2 and "--dtype" in err
    with pytest.raises(ValueError, match="dtype"):
        rk.load(run, dtype="float16")


def test_score_texts_gives_one_consistent_jsonl_line_each(cli, char_run):
    run, _ = char_run
    code, out, err = cli("score", run, "some text", "other")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["some text", "other"], strict=True):
        record = json.loads(line)
        check_score_record(record, text)
        assert record["tokens"] == list(text)


def test_score_input_file_and_stdin(cli, char_run, tmp_path, monkeypatch):
    run, _ = char_run
    (tmp_path / "in.txt").write_text("the cat\nsat on\n", encoding="utf-8")
    code, out, err = cli("score", run, "--input", tmp_path / "in.txt")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["the cat", "sat on"]
    for record in records:
        check_score_record(record, record["text"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("the cat\nsat on\n"))
    assert cli("score", run, "--input", "-")[1] == out


def test_score_blank_input_line_names_the_line_and_prints_nothing(cli, char_run, tmp_path):
    run, _ = char_run
    (tmp_path / "in.txt").write_text("the cat\n\nsat on\n", encoding="utf-8")
    assert_user_error(cli("score", run, "--input", tmp_path / "in.txt"), "in.txt line 2")


def test_python_api_gives_the_same_numbers_as_the_cli(cli, char_run, texts):
    run, _ = char_run
    predictor = rk.load(run)
    assert predictor.task == "lm"
    assert predictor.score("some text") == one_json(cli("score", run, "some text")[1])
    assert predictor.evaluate(texts / "chars.txt") == one_json(cli("evaluate", run, "--data", texts / "chars.txt")[1])
    sample = one_json(cli("generate", run, "--prompt", "ab", "--length", 15, "--seed", 7, "--temperature", 0.8)[1])
    assert predictor.generate("ab", length=15, seed=7, temperature=0.8) == sample["text"]


# --- word level -------------------------------------------------------------------------------------------------


def test_word_level_vocab_has_eos_and_score_closes_lines_with_it(cli, word_run):
    assert "<eos>" in json.loads((word_run / "vocab.json").read_text())["tokens"]
    code, out, err = cli("score", word_run, "the cat sat\non a mat", "the zebra")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["tokens"] == ["the", "cat", "sat", "<eos>", "on", "a", "mat", "<eos>"]
    assert second["tokens"] == ["the", "zebra", "<eos>"]  # an unknown word is scored as <unk>, shown as written
    check_score_record(first, "the cat sat\non a mat")
    check_score_record(second, "the zebra")


def test_word_level_generate_continues_the_prompt_and_writes_eos_as_newlines(cli, word_run):
    texts = []
    for seed in range(4):
        code, out, err = cli("generate", word_run, "--prompt", "the cat", "--length", 30, "--seed", seed)
        assert code == 0, err
        text = one_json(out)["text"]
        assert text.startswith("the cat ")
        assert "<eos>" not in text and "<unk>" not in text and "<pad>" not in text
        words = text.split()
        assert set(words) <= set(WORDS)
        assert len(words) + text.count("\n") >= 2 + 30 - 1  # every token is a word or a line break
        texts.append(text)
    assert any("\n" in text for text in texts)  # <eos> is among 14 tokens: in 120 draws, one shows


def test_word_level_newlines_carry_no_stray_spaces():
    from rnnkit.data.corpus import CorpusConfig, join_tokens

    config = CorpusConfig(level="word")
    assert join_tokens(["<eos>", "a"], config) == "\na"
    assert join_tokens(["a", "<eos>", "<eos>", "b"], config) == "a\n\nb"


def test_word_level_evaluate_reports_bits_per_token(cli, word_run, texts):
    metrics = one_json(cli("evaluate", word_run, "--data", texts / "words.txt")[1])
    assert set(metrics) == {"loss", "ppl", "bits_per_token", "tokens"}


# --- config files and the built-in corpus ----------------------------------------------------------------------


def test_toml_config_flat_keys_and_model_table_with_flags_overriding(cli, texts, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('epochs = 1\nbatch_size = 3\nbptt = 12\nseed = 5\nquiet = true\nlevel = "char"\n\n'
                      '[model]\ncell = "gru"\nhidden_size = 12\nembedding_size = 8\nnum_layers = 1\n',
                      encoding="utf-8")
    run = tmp_path / "run"
    code, out, err = cli("train", "lm", "--data", texts / "chars.txt", "--out", run, "--config", config,
                         "--hidden-size", 16, "--bptt", 8)
    assert code == 0, err
    assert one_json(out)["epoch"] == 1
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["cell"] == "gru" and saved["model"]["embedding_size"] == 8
    assert saved["model"]["hidden_size"] == 16  # flag over [model] table
    assert saved["train"]["bptt"] == 8  # flag over flat key
    assert (saved["train"]["batch_size"], saved["train"]["seed"], saved["train"]["epochs"]) == (3, 5, 1)
    assert saved["corpus"]["level"] == "char"


def test_train_without_data_uses_the_builtin_corpus(cli, tmp_path):
    run = tmp_path / "run"
    code, out, err = cli("train", "lm", "--out", run, "--cell", "gru", "--hidden-size", 16, "--embedding-size", 8,
                         "--num-layers", 1, "--epochs", 1, "--batch-size", 4, "--bptt", 16,
                         "--max-steps-per-epoch", 2, "--quiet")
    assert code == 0, err
    result = one_json(out)
    assert result["step"] == 2
    assert {"valid_loss", "valid_bpc", "test_loss", "test_bpc"} <= set(result)
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"]["train"] is None and saved["data"]["source"].startswith("built-in")


# --- user mistakes: one line on stderr, exit code 2, nothing written -------------------------------------------


def test_missing_data_file(cli, tmp_path):
    out = tmp_path / "run"
    assert_user_error(cli("train", "lm", "--data", tmp_path / "nope.txt", "--out", out, *TINY), "nope.txt")
    assert not out.exists()


@pytest.mark.parametrize(("content", "needles"), [
    (b"", ["empty"]),
    (b"abc\x00def" * 20, ["binary", "NUL"]),
    (b"hello caf\xe9 ok\nmore text here\n" * 8, ["invalid utf-8", "byte offset 9", "--encoding"]),
])
def test_data_files_that_are_not_text(cli, tmp_path, content, needles):
    data, out = tmp_path / "data.txt", tmp_path / "run"
    data.write_bytes(content)
    assert_user_error(cli("train", "lm", "--data", data, "--out", out, *TINY), "data.txt", *needles)
    assert not out.exists()


def test_encoding_latin1_reads_what_utf8_refuses(cli, tmp_path):
    data = tmp_path / "data.txt"
    data.write_bytes("café au lait, crème brûlée\nle chat noir\n".encode("latin-1") * 10)
    assert_user_error(cli("train", "lm", "--data", data, "--out", tmp_path / "run", *TINY), "byte offset 3")
    code, out, err = cli("train", "lm", "--data", data, "--out", tmp_path / "run", "--encoding", "latin-1", *TINY)
    assert code == 0, err
    assert "é" in json.loads((tmp_path / "run" / "vocab.json").read_text())["tokens"]


def test_evaluate_a_directory_that_is_not_a_run(cli, tmp_path, texts):
    (tmp_path / "plain").mkdir()
    assert_user_error(cli("evaluate", tmp_path / "plain", "--data", texts / "chars.txt"), "plain", "config.json")
    assert_user_error(cli("evaluate", tmp_path / "absent", "--data", texts / "chars.txt"), "absent")


def test_evaluate_takes_one_file_for_a_language_model(cli, char_run, texts):
    assert_user_error(cli("evaluate", char_run[0], "--data", texts / "chars.txt", texts / "chars.txt"),
                      "--data: got 2 paths", "'lm' run evaluates one file")


def test_run_of_another_task(cli, tmp_path, texts):
    run = tmp_path / "classifier"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"format": "rnnkit.run", "task": "classify"}), encoding="utf-8")
    assert_user_error(cli("evaluate", run, "--data", texts / "chars.txt"), "classifier", "'classify'")
    assert_user_error(cli("score", run, "abc"), "'classify'")


def test_hand_broken_run_config(cli, char_run, tmp_path):
    run = tmp_path / "broken"
    run.mkdir()
    config = json.loads((char_run[0] / "config.json").read_text())
    del config["corpus"]
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert_user_error(cli("score", run, "abc"), "config.json", "corpus")


def test_evaluate_on_a_file_too_short(cli, char_run, tmp_path):
    (tmp_path / "one.txt").write_text("x", encoding="utf-8")
    assert_user_error(cli("evaluate", char_run[0], "--data", tmp_path / "one.txt"), "one.txt")


def test_generate_prompt_of_unknown_characters(cli, char_run):
    assert_user_error(cli("generate", char_run[0], "--prompt", "@@#"), "prompt", "@@#")


@pytest.mark.parametrize(("toml", "needles"), [
    ("hiden_size = 3\n", ["'hiden_size'", "valid keys:", "hidden_size", "batch_size"]),
    ("[model]\nhiden_size = 3\n", ["[model]", "'hiden_size'", "valid keys:", "hidden_size"]),
    ("model = 3\n", ["'model'", "table"]),
])
def test_bad_keys_in_a_config_file(cli, texts, tmp_path, toml, needles):
    (tmp_path / "run.toml").write_text(toml, encoding="utf-8")
    result = cli("train", "lm", "--data", texts / "chars.txt", "--out", tmp_path / "run",
                 "--config", tmp_path / "run.toml", *TINY)
    assert_user_error(result, "run.toml", *needles)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("size", ["0", "-3"])
def test_hidden_size_must_be_positive(cli, texts, tmp_path, size):
    result = cli("train", "lm", "--data", texts / "chars.txt", "--out", tmp_path / "run", *TINY, "--hidden-size", size)
    assert_user_error(result, "hidden_size", size)
    assert not (tmp_path / "run").exists()


def test_flag_of_the_wrong_type_is_one_line(cli, texts, tmp_path):
    assert_user_error(cli("train", "lm", "--data", texts / "chars.txt", "--out", tmp_path / "run",
                          "--hidden-size", "abc"), "--hidden-size", "'abc'")
    assert_user_error(cli("train"), "TASK")


def test_out_of_an_existing_run_is_refused_and_left_unchanged(cli, char_run, texts):
    run, _ = char_run
    before = {name: (run / name).read_bytes() for name in RUN_FILES}
    assert_user_error(cli("train", "lm", "--data", texts / "chars.txt", "--out", run, *TINY), str(run), "--resume")
    assert {name: (run / name).read_bytes() for name in RUN_FILES} == before


def test_score_without_text(cli, char_run):
    assert_user_error(cli("score", char_run[0]), "score", "--input")
    assert_user_error(cli("score", char_run[0], ""), "TEXT argument 1")


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the message for a torch without CUDA")
def test_device_cuda_without_cuda(cli, texts, tmp_path):
    result = cli("train", "lm", "--data", texts / "chars.txt", "--out", tmp_path / "run", *TINY, "--device", "cuda")
    assert_user_error(result, "--device cuda", "CUDA")
    assert not (tmp_path / "run").exists()


def test_unwritable_out_is_one_line(cli, texts, tmp_path, monkeypatch):
    real_mkdir = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    assert_user_error(cli("train", "lm", "--data", texts / "chars.txt", "--out", tmp_path / "locked", *TINY),
                      "Permission denied", "locked")


def test_failed_training_leaves_no_half_made_run(cli, texts, tmp_path):
    (tmp_path / "valid.txt").write_text("x", encoding="utf-8")  # one token: nothing to predict
    result = cli("train", "lm", "--data", texts / "chars.txt", "--valid", tmp_path / "valid.txt",
                 "--out", tmp_path / "run", *TINY)
    assert_user_error(result, "valid.txt")
    assert not (tmp_path / "run" / "config.json").exists()


def test_console_script_exit_code_and_no_traceback(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli", "train", "lm", "--data", str(tmp_path / "nope.txt"),
                             "--out", str(tmp_path / "run"), *TINY],
                            capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"rnnkit: error: {tmp_path / 'nope.txt'}: no such file"]
    assert not (tmp_path / "run").exists()
