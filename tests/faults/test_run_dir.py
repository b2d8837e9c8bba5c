"""Run-directory safety: nothing of the user's is replaced, one writer at a time, a log that never repeats an epoch,
no stuck runs, and every file-system error a one-line error that keeps the last good checkpoint."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rnnkit.train import checkpoint as checkpoint_module
from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.run_lock import LOCK_NAME, RunLock
from tests.cli_helpers import assert_user_error, invoke
from tests.faults.run_helpers import metrics_epochs, train_args, write_text


@pytest.fixture()
def data(tmp_path) -> Path:
    return write_text(tmp_path / "text.txt")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_out_holding_a_users_files_is_refused_and_left_alone(tmp_path, data):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"my own weights")
    (out / "metrics.jsonl").write_text('{"mine": 1}\n')
    before = snapshot(out)
    assert_user_error(invoke(*train_args(data, out)), str(out), "not an rnnkit run directory")
    assert snapshot(out) == before


def test_empty_out_directory_is_used(tmp_path, data):
    out = tmp_path / "empty"
    out.mkdir()
    code, _, err = invoke(*train_args(data, out))
    assert code == 0, err
    assert (out / "config.json").is_file() and (out / LOCK_NAME).is_file()


@pytest.fixture()
def run(tmp_path, data) -> Path:
    out = tmp_path / "run"
    code, _, err = invoke(*train_args(data, out))
    assert code == 0, err
    return out


def test_a_second_writer_is_refused_naming_the_holders_pid(run, data):
    with RunLock(run):  # another writer (flock locks differ per open file, so this process counts as another)
        before = snapshot(run)
        assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "in use",
                          f"PID {os.getpid()}")
        assert snapshot(run) == before
    code, _, err = invoke("train", "lm", "--out", run, "--resume", "--epochs", 2)  # released: goes on
    assert code == 0, err


def test_a_second_new_run_into_a_locked_directory_is_refused(tmp_path, data):
    out = tmp_path / "starting"
    out.mkdir()
    with RunLock(out):
        assert_user_error(invoke(*train_args(data, out)), "in use", f"PID {os.getpid()}")


def test_a_stale_lock_of_a_dead_process_is_taken_over(run):
    (run / LOCK_NAME).write_text("999999999\n")  # no process holds it: the kernel dropped the flock at its death
    code, _, err = invoke("train", "lm", "--out", run, "--resume", "--epochs", 2)
    assert code == 0, err
    assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert metrics_epochs(run) == [1, 2]


def test_an_epoch_logged_before_its_checkpoint_is_not_logged_twice(run):
    # a kill between the metrics line of epoch 2 and its checkpoint: the line is there, the checkpoint is epoch 1's
    with open(run / "metrics.jsonl", "a") as log:
        log.write(json.dumps({"epoch": 2, "step": 999, "train_loss": 1.0}) + "\n")
    code, _, err = invoke("train", "lm", "--out", run, "--resume", "--epochs", 2)
    assert code == 0, err
    assert metrics_epochs(run) == [1, 2]
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[1])["step"] != 999


def test_a_torn_last_metrics_line_is_replaced_on_resume(run):
    with open(run / "metrics.jsonl", "a") as log:
        log.write('{"epoch": 2, "st')  # a write cut off by a kill
    code, _, err = invoke("train", "lm", "--out", run, "--resume", "--epochs", 2)
    assert code == 0, err
    assert metrics_epochs(run) == [1, 2]


def test_a_run_without_a_checkpoint_resumes_from_scratch(run, tmp_path, data):
    import shutil

    shutil.rmtree(run / "checkpoint")  # killed before its first checkpoint
    assert_user_error(invoke(*train_args(data, run)), "already holds a run", "--resume")
    code, _, err = invoke("train", "lm", "--out", run, "--resume")
    assert code == 0, err
    assert "from scratch" in err
    assert metrics_epochs(run) == [1]
    straight = tmp_path / "straight"
    assert invoke(*train_args(data, straight))[0] == 0
    assert_same_weights(run, straight)


def assert_same_weights(first: Path, second: Path) -> None:
    import torch

    expected, actual = (load_file(latest_checkpoint(path / "checkpoint") / "model.safetensors")
                        for path in (first, second))
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[name], actual[name]) for name in expected)


def test_out_under_a_file(tmp_path, data):
    (tmp_path / "afile").write_text("x")
    assert_user_error(invoke(*train_args(data, tmp_path / "afile" / "run")), "afile", "not a directory")


def test_out_is_a_file(tmp_path, data):
    (tmp_path / "afile").write_text("x")
    assert_user_error(invoke(*train_args(data, tmp_path / "afile")), "not a directory")
    assert (tmp_path / "afile").read_text() == "x"


def test_out_under_proc(data):
    line = assert_user_error(invoke(*train_args(data, Path("/proc/self/rnnkit-run"))), "/proc/self/rnnkit-run")
    assert "cannot create the run directory" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_out_on_a_read_only_directory(tmp_path, data):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert_user_error(invoke(*train_args(data, parent / "run")), str(parent / "run"))
    finally:
        parent.chmod(0o755)


def test_read_only_file_system_is_one_line(monkeypatch, tmp_path, data):
    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert_user_error(invoke(*train_args(data, tmp_path / "run")), "Read-only file system")


def test_disk_full_during_training_keeps_the_last_good_checkpoint(monkeypatch, run, data):
    good = latest_checkpoint(run / "checkpoint")
    before = snapshot(good)
    real = checkpoint_module.save_file

    def full(tensors, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint_module, "save_file", full)
    line = assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "No space left")
    assert "Traceback" not in line
    assert latest_checkpoint(run / "checkpoint") == good and snapshot(good) == before
    assert not [path for path in run.rglob("*") if ".tmp-" in path.name]  # no staging left behind
    monkeypatch.setattr(checkpoint_module, "save_file", real)
    code, _, err = invoke("train", "lm", "--out", run, "--resume", "--epochs", 2)  # space again: goes on
    assert code == 0, err
    assert metrics_epochs(run) == [1, 2]


def _edit_json(path: Path, edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def _trainer_state(document: dict) -> dict:
    return document["state"]


CONFIG_DAMAGE = {
    "missing section": lambda config: config.pop("train"),
    "unknown key": lambda config: config["model"].update(colour="red"),
    "wrong type": lambda config: config["model"].update(hidden_size="big"),
    "section null": lambda config: config.update(model=None),
    "data null": lambda config: config.update(data=None),
}
TRAINER_DAMAGE = {
    "missing key": lambda document: _trainer_state(document).pop("epoch"),
    "unknown key": lambda document: _trainer_state(document).update(colour="red"),
    "wrong type": lambda document: _trainer_state(document).update(step="many"),
    "history null": lambda document: _trainer_state(document).update(history=None),
    "history short": lambda document: _trainer_state(document).update(history=[]),
    "negative": lambda document: _trainer_state(document).update(batch=-3),
}


@pytest.mark.parametrize("damage", CONFIG_DAMAGE)
def test_resume_with_a_damaged_config_is_one_line_before_training(run, damage):
    _edit_json(run / "config.json", CONFIG_DAMAGE[damage])
    log = (run / "metrics.jsonl").read_bytes()
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "config.json")
    assert (run / "metrics.jsonl").read_bytes() == log


@pytest.mark.parametrize("damage", TRAINER_DAMAGE)
def test_resume_with_a_damaged_trainer_json_is_one_line_before_training(run, damage):
    _edit_json(latest_checkpoint(run / "checkpoint") / "trainer.json", TRAINER_DAMAGE[damage])
    log = (run / "metrics.jsonl").read_bytes()
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "trainer.json")
    assert (run / "metrics.jsonl").read_bytes() == log


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage\n{}\n", b'{"epoch": 1}\nnot json\n{"epoch": 2}\n', b"[1]\n"])
def test_resume_with_an_undecodable_metrics_log_is_one_line_before_training(run, content):
    (run / "metrics.jsonl").write_bytes(content)
    checkpoint = snapshot(run / "checkpoint")
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "metrics.jsonl")
    assert (run / "metrics.jsonl").read_bytes() == content
    assert snapshot(run / "checkpoint") == checkpoint


def test_a_damaged_checkpoint_pointer_is_not_taken_for_no_checkpoint(run):
    import shutil

    (run / "checkpoint" / "LATEST").unlink()  # the checkpoints are there, their pointer is not: never start over
    before = snapshot(run)
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "LATEST", "damaged")
    assert snapshot(run) == before
    (run / "checkpoint" / "LATEST").mkdir()
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 2), "LATEST", "not a file")
    shutil.rmtree(run / "checkpoint" / "LATEST")


def test_a_resume_that_fails_on_its_checkpoint_leaves_config_json_alone(run):
    config = (run / "config.json").read_bytes()
    (latest_checkpoint(run / "checkpoint") / "optimizer.json").write_text("{broken")
    assert_user_error(invoke("train", "lm", "--out", run, "--resume", "--epochs", 3), "optimizer.json")
    assert (run / "config.json").read_bytes() == config  # epochs 3 is not recorded for a run that did not go on
