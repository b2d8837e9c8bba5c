"""Data-parallel training for every task: two CPU ranks under torchrun (gloo) end with the weights of one process
on the same global batch (within 1e-6), with the same per-epoch metrics, and rank 0 alone writes the run; a stop
asked for on one rank stops all of them at the same batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.tasks import TASKS
from rnnkit.train.checkpoint import latest_checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")
NAMES = sorted(TASKS)


def _run(command: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ddp")
    single, parallel = base / "single", base / "parallel"
    _run([sys.executable, str(WORKER), str(single), *NAMES], base)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
          str(parallel), *NAMES, "stop:classify"], base)
    return single, parallel


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
@pytest.mark.parametrize("name", NAMES)
def test_two_ranks_end_with_the_weights_of_one_process(name, runs):
    single, parallel = (run / name for run in runs)
    for weights in (lambda run: load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors"),
                    lambda run: load_file(run / "model.safetensors")):
        expected, actual = weights(single), weights(parallel)
        assert expected.keys() == actual.keys()
        for key in expected:
            assert torch.allclose(actual[key], expected[key], rtol=0, atol=1e-6), (name, key)
    expected, actual = _metrics(single), _metrics(parallel)  # rank 0 alone appended: one line per epoch
    assert [(r["epoch"], r["step"]) for r in actual] == [(r["epoch"], r["step"]) for r in expected]
    for one, two in zip(expected, actual, strict=True):
        for key, value in one.items():  # training metrics are summed over the ranks, validation runs whole
            if isinstance(value, float) and "second" not in key:
                assert two[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (name, key)
    assert sorted(p.name for p in (runs[1] / name).iterdir()) == sorted(p.name for p in (runs[0] / name).iterdir())


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_a_stop_asked_for_on_one_rank_stops_every_rank_at_the_same_step(runs):
    run = runs[1] / "stop-classify"  # the last rank's callback asked to stop after step 2; rank 0's did not
    assert [(record["epoch"], record["step"]) for record in _metrics(run)] == [(1, 2)]
    assert (run / "model.safetensors").is_file() and latest_checkpoint(run / "checkpoint").is_dir()
