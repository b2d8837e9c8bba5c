"""SIGKILL at random points, resume, and end exactly where an uninterrupted run ends; two writers at once.

Each test runs the real command in subprocesses (``python -m rnnkit``), so a kill lands wherever the process
happens to be: importing, reading, in an epoch, writing metrics, inside a checkpoint save.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.train.checkpoint import latest_checkpoint
from tests.faults.fault_counts import count
from tests.faults.run_helpers import TINY, write_text

pytestmark = pytest.mark.slow
EPOCHS = 4
TIMING = ("tokens_per_second", "train_seconds")
ROOT = Path(__file__).resolve().parents[2]


def command(data: Path, out: Path, resume: bool) -> list[str]:
    base = [sys.executable, "-m", "rnnkit", "train", "lm", "--out", str(out)]
    if resume:
        return base + ["--resume"]
    return base + ["--data", str(data), *TINY, "--epochs", str(EPOCHS)]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{key: value for key, value in json.loads(line).items() if key not in TIMING} for line in lines]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return {**{f"ckpt/{name}": value for name, value in
               load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors").items()},
            **{f"best/{name}": value for name, value in load_file(run / "model.safetensors").items()}}


def test_kill_resume_loop_ends_as_an_uninterrupted_run(tmp_path):
    data = write_text(tmp_path / "text.txt", lines=120)
    straight = tmp_path / "straight"
    started = time.monotonic()
    subprocess.run(command(data, straight, False), env=environment(), check=True, capture_output=True)
    duration = time.monotonic() - started
    rng = random.Random(int(os.environ.get("RNNKIT_KILL_SEED", "16")))
    wanted = int(os.environ.get("RNNKIT_KILLS", "12"))
    kills = attempts = sequences = 0
    while kills < wanted:  # a sequence: start, kill at random points, resume, until a run completes
        sequences += 1
        run = tmp_path / f"killed-{sequences}"
        while True:
            attempts += 1
            resume = (run / "config.json").exists()
            process = subprocess.Popen(command(data, run, resume), env=environment(), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            if kills < wanted:
                try:
                    process.wait(timeout=rng.uniform(0.1, 0.7) * duration)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            stdout, stderr = process.communicate(timeout=600)
            assert "Traceback" not in stderr, stderr
            assert process.returncode == 0, stderr
            break
        assert records(run) == records(straight)  # every epoch once, the same numbers
        expected, actual = weights(straight), weights(run)
        assert expected.keys() == actual.keys()
        assert all(torch.equal(expected[name], actual[name]) for name in expected)
        assert not [path for path in run.rglob("*") if ".tmp-" in path.name]
    count("kills survived", kills)
    count("kill-loop runs (kill sequences compared)", sequences)
    count("kill-loop processes started", attempts)


def test_two_writers_one_is_refused_naming_the_other(tmp_path):
    data = write_text(tmp_path / "text.txt", lines=200)
    run = tmp_path / "run"
    subprocess.run(command(data, run, False)[:-1] + ["1"], env=environment(), check=True, capture_output=True)
    first = subprocess.Popen(command(data, run, True) + ["--epochs", "3"], env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = run / ".rnnkit.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and lock.read_text().strip() != str(first.pid):
        time.sleep(0.05)
    assert lock.read_text().strip() == str(first.pid), "the first writer never took the lock"
    second = subprocess.run(command(data, run, True) + ["--epochs", "3"], env=environment(), capture_output=True,
                            text=True)
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.strip() == second.stderr.strip().splitlines()[0]
    assert f"in use by another rnnkit process (PID {first.pid}" in second.stderr
    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    assert [record["epoch"] for record in records(run)] == [1, 2, 3]
    count("concurrent writers refused")


def test_a_writer_killed_holding_the_lock_leaves_no_stale_lock(tmp_path):
    data = write_text(tmp_path / "text.txt", lines=200)
    run = tmp_path / "run"
    subprocess.run(command(data, run, False)[:-1] + ["1"], env=environment(), check=True, capture_output=True)
    holder = subprocess.Popen(command(data, run, True) + ["--epochs", "50"], env=environment(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (run / ".rnnkit.lock").read_text().strip() != str(holder.pid):
        time.sleep(0.05)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    resumed = subprocess.run(command(data, run, True) + ["--epochs", "2"], env=environment(), capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    count("stale locks taken over")
