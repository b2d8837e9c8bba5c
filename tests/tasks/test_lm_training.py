"""Language-model training runs: resume equals an uninterrupted run bit for bit, Ctrl-C and SIGKILL lose
nothing already saved, a diverging loss stops the run and keeps the last good checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit as rk
from rnnkit.data.corpus import CorpusConfig
from rnnkit.data.streams import batchify, bptt_windows
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.tasks.lm import demo_settings, train_language_model
from rnnkit.tasks.lm.data import window_loss
from rnnkit.train.checkpoint import has_checkpoint, latest_checkpoint, load_training_state
from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import Trainer, TrainingDiverged, TrainingInterrupted

TEXT = "the quick brown fox jumps over the lazy dog.\nthe lazy dog sleeps in the sun.\n" * 12
MODEL = LanguageModelConfig(cell="lstm", embedding_size=8, hidden_size=16, num_layers=2, dropout=0.3,
                            hidden_dropout=0.2, weight_dropout=0.2)
TRAIN = TrainConfig(epochs=3, batch_size=4, bptt=10, lr=3e-3, seed=3, quiet=True, schedule="plateau")


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors")


def metric_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_after_an_epoch_equals_an_uninterrupted_run(tmp_path, corpus_file):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_language_model(straight, data=corpus_file, model=MODEL, train=TRAIN)
    train_language_model(resumed, data=corpus_file, model=MODEL, train=replace(TRAIN, epochs=1))
    train_language_model(resumed, resume=True, epochs=3)
    expected, actual = final_weights(straight), final_weights(resumed)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    drop_timing = [{k: v for k, v in r.items() if k != "tokens_per_second"} for r in metric_lines(straight)]
    assert drop_timing == [{k: v for k, v in r.items() if k != "tokens_per_second"} for r in metric_lines(resumed)]


def make_trainer(run_dir: Path, interrupt_at: int | None = None) -> Trainer:
    """A trainer over a tiny LM whose loss function sends itself SIGINT (Ctrl-C) at one global step."""
    torch.manual_seed(0)
    vocab = rk.Vocab.build([list(TEXT)])
    ids = torch.tensor(vocab.encode(list(TEXT)))
    windows = list(bptt_windows(batchify(ids, 4), 10))
    model = LanguageModel(len(vocab), MODEL)
    calls = {"count": 0}

    def loss_fn(net, window, state):
        calls["count"] += 1
        if calls["count"] == interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        return window_loss(net, window, state)

    return Trainer(model, TRAIN, loss_fn, lambda epoch: windows, run_dir=run_dir, steps_per_epoch=len(windows))


def test_ctrl_c_mid_epoch_saves_and_resume_is_exact(tmp_path):
    reference = make_trainer(tmp_path / "reference")
    reference.fit()
    interrupted = make_trainer(tmp_path / "interrupted", interrupt_at=len(make_windows()) + 5)  # epoch 2
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job
    with pytest.raises(TrainingInterrupted, match="epoch 2 after 5 batches"):
        interrupted.fit()
    assert signal.getsignal(signal.SIGINT) is before  # our handler is gone again
    torch.manual_seed(12345)  # anything between stop and resume must not matter
    resumed = make_trainer(tmp_path / "interrupted")
    resumed.resume()
    assert (resumed.state.epoch, resumed.state.batch) == (1, 5) and resumed.carried is not None
    resumed.fit()
    for (name, expected), actual in zip(reference.model.state_dict().items(), resumed.model.state_dict().values(),
                                        strict=True):
        assert torch.equal(expected, actual), name


def make_windows():
    vocab = rk.Vocab.build([list(TEXT)])
    return list(bptt_windows(batchify(torch.tensor(vocab.encode(list(TEXT))), 4), 10))


def test_a_diverging_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path / "run")
    trainer.config = replace(TRAIN, epochs=2)
    trainer.fit()
    saved = latest_checkpoint(tmp_path / "run" / "checkpoint")
    before = load_file(saved / "model.safetensors")
    original = trainer.loss_fn
    trainer.loss_fn = lambda net, window, state: replace(original(net, window, state),
                                                         loss_sum=torch.tensor(float("nan")))
    trainer.config = replace(TRAIN, epochs=3)
    with pytest.raises(TrainingDiverged, match="the loss became nan at step"):
        trainer.fit()
    assert latest_checkpoint(tmp_path / "run" / "checkpoint") == saved
    after = load_file(saved / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_sigkill_between_epochs_loses_nothing_checkpointed(tmp_path, corpus_file):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "rnnkit.cli", "train", "lm", "--data", str(corpus_file), "--out", str(run),
               "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1", "--epochs", "500",
               "--batch-size", "4", "--bptt", "10", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            metrics = run / "metrics.jsonl"
            if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run wrote no two epochs in 60 s")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert has_checkpoint(run / "checkpoint")
    model = LanguageModel(len(rk.Vocab.load(run / "vocab.json")), LanguageModelConfig(**json.loads(
        (run / "config.json").read_text())["model"]))
    state = load_training_state(run / "checkpoint", model=model, restore_rng=False)
    assert state["epoch"] >= 1  # the epoch-2 checkpoint may be in flight when the kill lands
    for line in (run / "metrics.jsonl").read_text().splitlines():
        json.loads(line)  # every line complete
    assert rk.load(run).score("the lazy dog")["perplexity"] > 0


def test_corpus_levels_and_the_word_level_eos_convention():
    from rnnkit.data.corpus import build_vocab, tokens_of

    word = CorpusConfig(level="word")
    assert tokens_of(" the cat \n\n a dog \n", word) == ["the", "cat", "<eos>", "a", "dog", "<eos>"]
    vocab = build_vocab("a b <unk> b\n", word)
    assert vocab.itos[:3] == ["<pad>", "<unk>", "<eos>"] and vocab.encode(["<unk>"]) == [vocab.unk_id]
    assert tokens_of("ab\n", CorpusConfig(level="char")) == ["a", "b", "\n"]


def test_in_memory_texts_train_like_the_same_text_in_a_file(tmp_path, corpus_file):
    lines = TEXT.rstrip("\n").split("\n")  # documents joined with newlines give the file's text back, less its end
    corpus_file.write_text("\n".join(lines), encoding="utf-8")
    train = replace(TRAIN, epochs=1)
    from_file = train_language_model(tmp_path / "file", data=corpus_file, model=MODEL, train=train)
    in_memory = train_language_model(tmp_path / "memory", data=lines, model=MODEL, train=train)
    assert in_memory["valid_loss"] == from_file["valid_loss"]
    data = json.loads((tmp_path / "memory" / "config.json").read_text())["data"]
    assert data["train"] == IN_MEMORY and data["valid"] is None
    assert data["source"] == "data (in memory) (last 10% held out for validation)"
    with pytest.raises(ValueError, match="pass the same data again"):
        train_language_model(tmp_path / "memory", resume=True, epochs=2)
    train_language_model(tmp_path / "memory", data=lines, resume=True, epochs=2)
    assert [record["epoch"] for record in metric_lines(tmp_path / "memory")] == [1, 2]


@pytest.mark.parametrize(("data", "message"), [
    (["a text", 3], r"data item 2: expected a text \(str\); got int 3"),
    ([], "data: an empty list; expected at least one text"),
    (b"bytes", "data: got bytes; expected a path or a list of texts"),
])
def test_in_memory_texts_of_the_wrong_form(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        train_language_model(tmp_path / "run", data=data, model=MODEL, train=TRAIN)
    assert not (tmp_path / "run").exists()


def test_demo_settings_and_a_resumed_demo_stays_a_demo(tmp_path, corpus_file):
    settings = demo_settings(seconds=5.0, quiet=True)
    assert settings["corpus"].level == "char" and settings["model"].hidden_size == 256
    assert settings["train"].max_seconds == 5.0 and settings["train"].quiet and settings["train"].batch_size == 64
    train_language_model(tmp_path / "demo", data=corpus_file, model=MODEL, train=replace(TRAIN, epochs=1), demo=True)
    train_language_model(tmp_path / "demo", resume=True, epochs=2)
    assert json.loads((tmp_path / "demo" / "config.json").read_text())["demo"] is True
