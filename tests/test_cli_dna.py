"""``rnnkit train dna``, evaluate and predict on a tiny run, and user mistakes (one line, exit code 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke
from tests.tasks.test_dna import write_positives_fasta, write_test_tsv

TINY = ["--negatives", "shuffle", "--conv-channels", "4", "--conv-width", "5", "--pool-size", "2", "--cell", "gru",
        "--hidden-size", "4", "--epochs", "1", "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dna-cli")
    write_positives_fasta(folder / "peaks.fa", 30, seed=0)
    write_test_tsv(folder / "test.seq", 20, seed=1)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, files) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "dna"
    code, stdout, err = invoke("train", "dna", "--data", files / "peaks.fa", "--test", files / "test.seq",
                                "--out", out, *TINY)
    assert code == 0, err
    return out, json.loads(stdout)


def test_train_dna_writes_a_run_with_test_auc(run):
    out, result = run
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "curves.png"):
        assert (out / name).is_file(), name
    assert result["run"] == str(out) and 0.0 <= result["test_roc_auc"] <= 1.0 and "test_pr_auc" in result
    assert result["test_examples"] == 20


def test_evaluate_prints_roc_auc_and_pr_auc(run, files):
    out, result = run
    code, stdout, err = invoke("evaluate", out, "--data", files / "test.seq")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics["roc_auc"] == pytest.approx(result["test_roc_auc"]) and "pr_auc" in metrics


def test_predict_reads_fasta_and_stdin(run, files, monkeypatch):
    out, _ = run
    code, stdout, err = invoke("predict", out, "--input", files / "peaks.fa")
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert len(rows) == 30 and rows[0]["name"] == "peak0" and set(rows[0]["probabilities"]) == {"0", "1"}
    monkeypatch.setattr("sys.stdin", io.StringIO("ACGTACGTACGT\n\nTTTTGACTCAAA\n"))
    code, stdout, err = invoke("predict", out, "--input", "-")
    assert code == 0, err
    assert [json.loads(line)["name"] for line in stdout.splitlines()] == ["stdin line 1", "stdin line 3"]


def test_a_character_outside_acgtn_is_one_line_naming_file_line_and_character(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGTACGT\n>b\nACGTZCGT\n")
    result = invoke("train", "dna", "--data", bad, "--out", tmp_path / "run", *TINY)
    assert_user_error(result, f"{bad} line 4 column 5: character 'Z' is not a DNA letter", "A, C, G, T, N")
    assert not (tmp_path / "run").exists()


def test_other_user_mistakes_are_one_line(tmp_path, files, run):
    out, _ = run
    assert_user_error(invoke("train", "dna", "--data", tmp_path / "none.fa", "--out", tmp_path / "r", *TINY),
                      "none.fa: no such file")
    assert_user_error(invoke("train", "dna", "--data", files / "peaks.fa", "--out", tmp_path / "r",
                             "--negatives", "reverse"), "--negatives", "'reverse'")
    assert_user_error(invoke("train", "dna", "--data", files / "peaks.fa", "--out", tmp_path / "r", "--epochs", "1"),
                      "record has no label", "--negatives shuffle")
    unseen = tmp_path / "unseen.tsv"
    unseen.write_text("seq\tBound\nACGTACGTACGT\tmaybe\n")
    assert_user_error(invoke("evaluate", out, "--data", unseen), "unseen.tsv line 2: label 'maybe' was not seen")


def test_a_config_file_fills_the_four_sections_and_flags_override_it(tmp_path):
    from rnnkit.cli import build_parser
    from rnnkit.cli.flags import settings_from
    from rnnkit.tasks import TASKS

    config = tmp_path / "dna.toml"
    config.write_text('negatives = "shuffle"\n[frontend]\nconv_channels = 32\npool_size = 8\n'
                      '[model]\nhidden_size = 16\n')
    args = build_parser().parse_args(["train", "dna", "--data", "x.fa", "--out", "r", "--config", str(config),
                                      "--pool-size", "2", "--inputs", "kmer"])
    settings = settings_from(args, TASKS["dna"])
    assert settings["sequence"].negatives == "shuffle" and settings["sequence"].inputs == "kmer"
    assert (settings["frontend"].conv_channels, settings["frontend"].pool_size) == (32, 2)
    assert settings["model"].hidden_size == 16
    config.write_text("[frontend]\nchannels = 3\n")
    with pytest.raises(ValueError, match="channels"):
        settings_from(args, TASKS["dna"])


def test_resume_continues_a_dna_run_exactly(files, tmp_path):
    assert_resume_is_exact(tmp_path, "dna", "--data", files / "peaks.fa", *TINY)
    assert_user_error(invoke("train", "dna", "--out", tmp_path / "resumed", "--resume", "--labels", files / "x"),
                      "--labels")
