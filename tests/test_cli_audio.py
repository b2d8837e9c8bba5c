"""The audio CLI end to end: train audio, evaluate, predict on a tiny two-tone run, and user mistakes (exit 2,
one line)."""

from __future__ import annotations

import io
import json

import pytest

from tests.audio_helpers import tone, write_two_tone_set, write_wav
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--features", "mfcc", "--n-mels", "16", "--n-mfcc", "8", "--window-ms", "32", "--hop-ms", "16",
        "--cell", "gru", "--hidden-size", "8", "--no-bidirectional", "--pooling", "mean", "--dropout", "0",
        "--epochs", "8", "--batch-size", "8", "--lr", "0.03", "--valid-fraction", "0.2", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    write_two_tone_set(folder / "train", per_class=20, seed=0, layout="folders")
    write_two_tone_set(folder / "test", per_class=6, seed=1, layout="folders")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("runs") / "audio"
    code, stdout, err = invoke("train", "audio", "--data", data / "train", "--test", data / "test", "--out", out,
                               *TINY)
    assert code == 0, err
    result = json.loads(stdout.strip())
    assert result["run"] == str(out) and result["test_accuracy"] == 1.0
    return out


def test_train_writes_a_run_with_the_feature_settings(run):
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "audio" and config["audio"]["format"] == "auto"
    assert config["features"]["kind"] == "mfcc" and config["features"]["sample_rate"] == 8000
    assert len(config["normalization"]["mean"]) == 8


def test_evaluate_prints_one_json_object(run, data):
    code, stdout, err = invoke("evaluate", run, "--data", data / "test")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics["accuracy"] == 1.0 and metrics["labels"] == ["high", "low"]


def test_predict_a_file_a_directory_and_stdin(run, data, tmp_path, monkeypatch):
    low = write_wav(tmp_path / "one.wav", tone(300.0, 0.2, 8000, seed=9), 8000)
    code, stdout, err = invoke("predict", run, "--input", low)
    assert code == 0, err
    (record,) = [json.loads(line) for line in stdout.splitlines()]
    assert record["file"] == str(low) and record["label"] == "low"
    code, stdout, _ = invoke("predict", run, "--input", data / "test" / "high")
    assert [json.loads(line)["label"] for line in stdout.splitlines()] == ["high"] * 6
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{low}\n\n{low}\n"))
    code, stdout, _ = invoke("predict", run, "--input", "-")
    assert code == 0 and len(stdout.splitlines()) == 2


def test_bad_wav_in_prediction_is_one_line_exit_2(run, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("just some text\n")
    assert_user_error(invoke("predict", run, "--input", bad), "notes.wav", "not a readable PCM WAV file")
    empty = write_wav(tmp_path / "empty.wav", tone(300.0, 0.0, 8000), 8000)
    assert_user_error(invoke("predict", run, "--input", empty), "empty.wav", "holds no samples")
    assert_user_error(invoke("predict", run, "--input", tmp_path / "absent.wav"), "absent.wav", "no such file")


def test_bad_training_input_is_one_line_exit_2(data, tmp_path):
    broken = tmp_path / "broken"
    write_two_tone_set(broken, per_class=3, layout="folders")
    (broken / "low" / "x.wav").write_bytes(b"")
    assert_user_error(invoke("train", "audio", "--data", broken, "--out", tmp_path / "r1", *TINY), "x.wav",
                      "not a readable PCM WAV file")
    assert_user_error(invoke("train", "audio", "--data", data / "train" / "low", "--format", "folders", "--out",
                             tmp_path / "r2", *TINY), "expected at least 2 classes")
    assert_user_error(invoke("train", "audio", "--data", data / "train", "--format", "names", "--out",
                             tmp_path / "r3", *TINY), "does not match the label pattern")
    assert_user_error(invoke("train", "audio", "--data", data / "train", "--out", tmp_path / "r4", *TINY,
                             "--features", "chroma"), "--features", "'chroma'")
    assert not any((tmp_path / name).exists() for name in ("r1", "r2", "r3", "r4"))


def test_a_config_file_sets_the_feature_sections_and_flags_override_it(data, tmp_path):
    config = tmp_path / "audio.toml"
    config.write_text('[features]\nkind = "logmel"\nn_mels = 12\nhop_ms = 20\n\n[model]\ncell = "rnn"\n'
                      'hidden_size = 4\n\n[train]\nepochs = 1\nmax_steps_per_epoch = 1\nquiet = true\n')
    code, _, err = invoke("train", "audio", "--data", data / "train", "--out", tmp_path / "run", "--config", config,
                          "--n-mels", "10")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["features"]["kind"], saved["features"]["n_mels"], saved["features"]["hop_ms"]) == ("logmel", 10, 20.0)
    assert saved["model"]["cell"] == "rnn" and len(saved["normalization"]["std"]) == 10
    config.write_text('[features]\nn_bands = 12\n')
    assert_user_error(invoke("train", "audio", "--data", data / "train", "--out", tmp_path / "other", "--config",
                             config), "n_bands")


def test_resume_continues_an_audio_run_exactly(data, tmp_path):
    assert_resume_is_exact(tmp_path, "audio", "--data", data / "train", *TINY)
