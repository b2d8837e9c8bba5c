"""Language models trained from a prepared directory: the weights of the in-memory run on the same text, a run
stopped mid-epoch resumes at the exact window (reading none of the windows already done), and the bad inputs of
``rnnkit prepare`` and of a prepared ``--data`` are one-line errors naming the file."""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.data.shard_streams import ShardStreams
from rnnkit.tasks.lm import CorpusConfig, LanguageModelConfig, TrainConfig, train_language_model
from rnnkit.train import Callback
from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.trainer import TrainingInterrupted
from tests.cli_helpers import assert_user_error, invoke

WORDS = "the cat sat on a mat and dog ran to big red hat".split()
TINY = ["--cell", "lstm", "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1", "--epochs", "2",
        "--batch-size", "4", "--bptt", "8", "--quiet"]


def _lines(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(count)) + "\n"


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("texts")
    (folder / "train.txt").write_text(_lines(120, 0), encoding="utf-8")
    (folder / "valid.txt").write_text(_lines(12, 1), encoding="utf-8")
    return folder


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


@pytest.mark.parametrize("level", ["char", "word"])
def test_training_from_shards_gives_the_in_memory_weights(texts, tmp_path, level):
    code, out, err = invoke("prepare", "lm", "--data", texts / "train.txt", "--out", tmp_path / "prep", "--level",
                            level, "--quiet")
    assert code == 0, err
    assert json.loads(out)["shards"] == 1
    code, _, err = invoke("prepare", "lm", "--data", texts / "valid.txt", "--out", tmp_path / "prep-valid",
                          "--vocab-from", tmp_path / "prep", "--quiet")
    assert code == 0, err
    memory = invoke("train", "lm", "--data", texts / "train.txt", "--valid", texts / "valid.txt", "--test",
                    texts / "valid.txt", "--level", level, "--out", tmp_path / "memory", *TINY, "--bptt", "24")
    disk = invoke("train", "lm", "--data", tmp_path / "prep", "--valid", tmp_path / "prep-valid", "--test",
                  texts / "valid.txt", "--out", tmp_path / "disk", *TINY, "--bptt", "24")
    assert memory[0] == 0 and disk[0] == 0, (memory[2], disk[2])
    expected, actual = _weights(tmp_path / "memory"), _weights(tmp_path / "disk")
    assert all(torch.equal(expected[key], actual[key]) for key in expected)
    one, two = json.loads(memory[1]), json.loads(disk[1])
    for key in ("train_loss", "valid_loss", "test_loss"):
        assert one[key] == pytest.approx(two[key], rel=1e-6), key
    config = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert config["corpus"]["level"] == level and "prepared" in config["data"]["source"]
    code, out, err = invoke("evaluate", tmp_path / "disk", "--data", texts / "valid.txt")
    assert code == 0 and json.loads(out)["loss"] == pytest.approx(two["test_loss"], rel=1e-5)
    code, _, err = invoke("prepare", "lm", "--data", texts / "valid.txt", "--out", tmp_path / "from-run",
                          "--vocab-from", tmp_path / "memory", "--quiet")  # a run's vocabulary and level
    assert code == 0, err
    assert (tmp_path / "from-run" / "vocab.json").read_text() == (tmp_path / "prep-valid" / "vocab.json").read_text()
    assert json.loads((tmp_path / "from-run" / "index.json").read_text())["settings"]["level"] == level


class _CtrlC(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        if step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_run_stopped_mid_epoch_resumes_at_the_exact_window(texts, tmp_path, monkeypatch):
    assert invoke("prepare", "lm", "--data", texts / "train.txt", "--out", tmp_path / "prep", "--level", "char",
                  "--quiet")[0] == 0
    settings = {"corpus": CorpusConfig(), "valid": texts / "valid.txt",
                "model": LanguageModelConfig(cell="gru", embedding_size=8, hidden_size=16),
                "train": TrainConfig(epochs=2, batch_size=4, bptt=24, bptt_k1=16, quiet=True, seed=3)}
    train_language_model(tmp_path / "straight", data=tmp_path / "prep", **settings)
    steps = json.loads((tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()[0])["step"]  # per epoch
    with pytest.raises(TrainingInterrupted, match="epoch 2 after 5 batches"):
        train_language_model(tmp_path / "stopped", data=tmp_path / "prep", callbacks=[_CtrlC(steps + 5)], **settings)
    reads = []
    window = ShardStreams.window
    monkeypatch.setattr(ShardStreams, "window", lambda self, span, device="cpu": reads.append(span) or
                        window(self, span, device))
    train_language_model(tmp_path / "stopped", resume=True)
    assert reads[0].start == 5 * 16 - 8 and len(reads) == steps - 5  # from window 5 on, none read twice
    expected, actual = (load_file(latest_checkpoint(tmp_path / name / "checkpoint") / "model.safetensors")
                        for name in ("straight", "stopped"))
    assert all(torch.equal(expected[key], actual[key]) for key in expected)


def test_bad_inputs_are_one_line_errors_naming_the_file(texts, tmp_path):
    prepare = ("prepare", "lm", "--level", "word", "--quiet", "--out")
    assert_user_error(invoke(*prepare, tmp_path / "a", "--data", tmp_path / "missing.txt"), "missing.txt",
                      "no such file")
    assert_user_error(invoke(*prepare, tmp_path / "a", "--data", str(tmp_path / "nothing-*.txt")), "nothing-*.txt",
                      "matches no file")
    (tmp_path / "empty.txt").write_text("  \n")
    assert_user_error(invoke(*prepare, tmp_path / "a", "--data", tmp_path / "empty.txt"), "empty.txt", "empty")
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe\n")
    assert_user_error(invoke(*prepare, tmp_path / "b", "--data", tmp_path / "bad.txt"), "bad.txt",
                      "byte offset 5 (line 2)")
    assert_user_error(invoke("prepare", "lm", "--out", tmp_path / "c", "--data", texts / "train.txt"), "--level")
    good = tmp_path / "good"
    assert invoke(*prepare, good, "--data", texts / "train.txt")[0] == 0
    assert_user_error(invoke(*prepare, good, "--data", texts / "valid.txt"), str(good), "other files or settings")
    train = ("train", "lm", *TINY, "--out")
    assert_user_error(invoke(*train, tmp_path / "r0", "--data", good, "--lower"), "--lower True", str(good))
    (texts / "valid-prep").exists() or invoke(*prepare, texts / "valid-prep", "--data", texts / "valid.txt")
    assert_user_error(invoke(*train, tmp_path / "r1", "--data", good, "--valid", texts / "valid-prep"),
                      "valid-prep", "another vocabulary")
    shard = good / "shard-00000-00000.bin"
    data = shard.read_bytes()
    shard.write_bytes(data[:-2])  # truncated
    assert_user_error(invoke(*train, tmp_path / "r2", "--data", good), str(shard), "truncated or corrupted")
    shard.write_bytes(bytes([data[0] ^ 1]) + data[1:])  # same size, other bytes
    assert_user_error(invoke(*train, tmp_path / "r3", "--data", good), str(shard), "SHA-256")
    shard.unlink()
    assert_user_error(invoke(*train, tmp_path / "r4", "--data", good), str(shard), "missing")
    (good / "index.json").write_text("{not json")
    assert_user_error(invoke(*train, tmp_path / "r5", "--data", good), "index.json", "not JSON")
    (good / "index.json").unlink()
    assert_user_error(invoke(*train, tmp_path / "r6", "--data", good), "index.json", "missing", "not a finished")
