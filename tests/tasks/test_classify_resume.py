"""Resuming a classifier run: after an epoch, after Ctrl-C in the pretraining, and the CLI's --resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.cli.train import run_training
from rnnkit.models import ClassifierConfig
from rnnkit.tasks import train_classifier
from rnnkit.tasks.classify import pretrain as classify_pretrain
from rnnkit.tasks.classify.pretrain import PretrainConfig
from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import TrainingInterrupted

from ..cli_helpers import assert_user_error, invoke

MODEL = ClassifierConfig(embedding_size=6, hidden_size=5, input_dropout=0.2, word_dropout=0.1)
TRAIN = TrainConfig(epochs=3, batch_size=4, lr=0.01, seed=2, quiet=True)
PRETRAIN = PretrainConfig(pretrain_epochs=2, pretrain_words=6)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows = [{"text": f"{word} {filler} film", "label": label} for filler in ("plot", "story", "music", "cast")
            for word, label in (("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg"))]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows * 2), encoding="utf-8")
    return path


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors")


def assert_same_weights(first: Path, second: Path) -> None:
    expected, actual = final_weights(first), final_weights(second)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


def test_resume_after_an_epoch_equals_an_uninterrupted_run(tmp_path, data):
    torch.set_num_threads(1)
    straight = train_classifier(tmp_path / "straight", data=data, model=MODEL, train=TRAIN, pretrain=PRETRAIN)
    train_classifier(tmp_path / "resumed", data=data, model=MODEL, train=replace(TRAIN, epochs=1), pretrain=PRETRAIN)
    resumed = train_classifier(tmp_path / "resumed", resume=True, epochs=3)
    assert_same_weights(tmp_path / "straight", tmp_path / "resumed")
    assert resumed["valid_accuracy"] == straight["valid_accuracy"] and resumed["best_epoch"] == straight["best_epoch"]
    assert json.loads((tmp_path / "resumed" / "config.json").read_text())["train"]["epochs"] == 3
    for run in ("resumed", "resumed/pretrain"):  # continued, not restarted; the pretraining not run again
        epochs = [json.loads(line)["epoch"] for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        assert epochs == ([1, 2] if run.endswith("pretrain") else [1, 2, 3]), run


def test_ctrl_c_in_the_pretraining_saves_and_resume_is_exact(tmp_path, data, monkeypatch):
    torch.set_num_threads(1)
    train_classifier(tmp_path / "straight", data=data, model=MODEL, train=TRAIN, pretrain=PRETRAIN)
    calls = {"count": 0}
    original = classify_pretrain._lm_loss

    def interrupting(model, batch, state):
        calls["count"] += 1
        if calls["count"] == 11:  # epoch 2 of the pretraining (7 batches per epoch), its 4th batch
            os.kill(os.getpid(), signal.SIGINT)
        return original(model, batch, state)

    monkeypatch.setattr(classify_pretrain, "_lm_loss", interrupting)
    with pytest.raises(TrainingInterrupted, match="epoch 2 after 4 batches; saved in .*stopped.pretrain.checkpoint"):
        train_classifier(tmp_path / "stopped", data=data, model=MODEL, train=TRAIN, pretrain=PRETRAIN)
    monkeypatch.setattr(classify_pretrain, "_lm_loss", original)
    torch.manual_seed(999)  # nothing between the stop and the resume may matter
    train_classifier(tmp_path / "stopped", resume=True)
    assert_same_weights(tmp_path / "straight", tmp_path / "stopped")
    assert_same_weights(tmp_path / "straight" / "pretrain", tmp_path / "stopped" / "pretrain")


def test_the_cli_resumes_and_refuses_new_settings_beside_resume(tmp_path, data):
    run = tmp_path / "run"
    code, stdout, err = invoke("train", "classify", "--data", data, "--out", run, "--embedding-size", "4",
                               "--hidden-size", "4", "--epochs", "1", "--batch-size", "8", "--quiet")
    assert code == 0, err
    code, stdout, err = invoke("train", "classify", "--out", run, "--resume", "--epochs", "2")
    assert code == 0, err
    assert json.loads(stdout)["epoch"] == 2 and len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert_user_error(invoke("train", "classify", "--out", run, "--resume", "--lr", "0.1"), "--resume", "--lr")
    assert_user_error(invoke("train", "classify", "--out", run, "--resume", "--data", data), "--data")
    assert_user_error(invoke("train", "classify", "--out", tmp_path / "none", "--resume"), "no such run directory")
    original = data.read_text(encoding="utf-8")
    with data.open("a", encoding="utf-8") as handle:  # the data changed since the run began
        handle.write(json.dumps({"text": "brand new words", "label": "pos"}) + "\n")
    assert_user_error(invoke("train", "classify", "--out", run, "--resume"), "no longer gives the run's vocab.json")
    shutil.rmtree(run / "checkpoint")  # stopped before its first checkpoint: --resume starts it again, saying so
    with data.open("w", encoding="utf-8") as handle:
        handle.write(original)
    code, _, err = invoke("train", "classify", "--out", run, "--resume")
    assert code == 0 and "no checkpoint yet" in err and "from scratch" in err, err
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert_user_error(invoke("train", "classify", "--out", tmp_path / "other"), "--data: missing")


def test_a_ctrl_c_message_names_the_command_that_continues(capsys):
    def stopped() -> dict:
        raise TrainingInterrupted("interrupted in epoch 2 after 5 batches; saved in runs/x/checkpoint")

    assert run_training(stopped, "runs/x", resume_with="rnnkit train classify") == 130
    assert capsys.readouterr().err.strip() == ("rnnkit: interrupted in epoch 2 after 5 batches; saved in "
                                               "runs/x/checkpoint; continue with: rnnkit train classify --out "
                                               "runs/x --resume")
    assert run_training(stopped, "runs/x") == 130
    assert "continue" not in capsys.readouterr().err  # a task without --resume promises nothing


def test_a_run_from_before_pretraining_existed_resumes(tmp_path, data):
    torch.set_num_threads(1)
    run = tmp_path / "old"
    train_classifier(run, data=data, model=MODEL, train=replace(TRAIN, epochs=1))
    config = json.loads((run / "config.json").read_text())
    del config["pretrain"]
    (run / "config.json").write_text(json.dumps(config))
    assert train_classifier(run, resume=True, epochs=2)["epoch"] == 2
