"""Data-parallel training: two gloo processes under torchrun end with the weights of one process over the same
global batch; sharding splits the batch and refuses one that does not divide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.distributed import (
    DistributedContext,
    check_batch_size,
    setup_distributed,
    shard_rows,
    teardown_distributed,
    wrap_model,
)

# two different halves, so that rank 0's rows (the first half) are not a sample of the whole
TEXT = "the quick brown fox jumps over the lazy dog.\n" * 10 + "A LAZY CAT NAPS; 12 BIRDS SING AT DAWN!\n" * 10
FLAGS = ["--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1", "--dropout", "0", "--epochs", "2",
         "--batch-size", "4", "--bptt", "8", "--seed", "0", "--quiet"]


def test_shard_rows_splits_the_global_batch_in_order():
    streams = torch.arange(24).reshape(6, 4)  # (B, L)
    shards = [shard_rows(streams, DistributedContext(rank=rank, world_size=3)) for rank in range(3)]
    assert [shard.shape for shard in shards] == [(2, 4)] * 3
    assert torch.equal(torch.cat(shards), streams)
    assert torch.equal(shards[1], streams[2:4])
    assert torch.equal(shard_rows(streams, DistributedContext()), streams)


def test_shard_rows_refuses_a_batch_that_does_not_divide():
    with pytest.raises(ValueError, match=r"^batch_size: got 6 for 4 processes; expected a multiple of the number "
                                         r"of processes$"):
        shard_rows(torch.zeros(6, 5), DistributedContext(rank=1, world_size=4))
    assert check_batch_size(8, DistributedContext(rank=0, world_size=4)) == 2


def test_a_single_process_is_left_alone(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = setup_distributed("cpu")
    assert ctx == DistributedContext() and ctx.is_main and not ctx.enabled
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert setup_distributed("cpu") == DistributedContext()
    model = nn.Linear(2, 2)
    assert wrap_model(model, ctx) is model
    teardown_distributed(ctx)  # nothing to do, no error
    assert not DistributedContext(rank=1, world_size=2).is_main and DistributedContext(world_size=2).enabled


def test_bad_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE: got 'two'; expected an integer"):
        setup_distributed("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK: got 2; expected 0 <= RANK < WORLD_SIZE = 2"):
        setup_distributed("cpu")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _best_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def _last_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors")


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_processes_equal_one_process_over_the_same_global_batch(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    train = ["-m", "rnnkit.cli", "train", "lm", "--data", str(corpus), *FLAGS]
    single, parallel = tmp_path / "single", tmp_path / "parallel"
    _run([sys.executable, *train, "--out", str(single)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *train,
          "--out", str(parallel)], tmp_path)

    for weights in (_best_weights, _last_weights):
        expected, actual = weights(single), weights(parallel)
        assert expected.keys() == actual.keys()
        for name in expected:
            assert torch.allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6), (weights.__name__, name)

    expected, actual = _metrics(single), _metrics(parallel)  # rank 0 alone appended: one line per epoch
    assert [(r["epoch"], r["step"]) for r in actual] == [(r["epoch"], r["step"]) for r in expected]
    assert len(actual) == 2
    for one, two in zip(expected, actual, strict=True):
        assert abs(one["valid_loss"] - two["valid_loss"]) < 1e-5
        # the trainer sums the loss and its count over the ranks: rank 0 reports the global batch's mean (that each
        # rank trains on its own rows is test_shard_rows_splits_the_global_batch_in_order's to show)
        assert abs(one["train_loss"] - two["train_loss"]) < 1e-5
    assert sorted(p.name for p in parallel.iterdir()) == sorted(p.name for p in single.iterdir())
    assert json.loads((parallel / "config.json").read_text())["train"]["batch_size"] == 4  # the global batch


def test_shard_batch_splits_every_row_tensor_in_order_and_keeps_the_rest():
    from collections import namedtuple

    from rnnkit.train.distributed import shard_batch

    Batch = namedtuple("Batch", "ids lengths labels")
    batch = Batch(torch.arange(20).reshape(5, 4), torch.tensor([4, 3, 3, 2, 1]), torch.tensor([0, 1, 0, 1, 1]))
    shards = [shard_batch(batch, rank, 2) for rank in range(2)]
    assert [len(shard.ids) for shard in shards] == [3, 2]  # the first B % W ranks take one row more
    assert isinstance(shards[0], Batch)
    for field in Batch._fields:
        assert torch.equal(torch.cat([getattr(shard, field) for shard in shards]), getattr(batch, field))
    window = (torch.zeros(4, 6), torch.ones(4, 6), 2, 3)  # ints and tensors of the batch's rows
    assert shard_batch(window, 1, 2)[2:] == (2, 3) and shard_batch(window, 1, 2)[0].shape == (2, 6)
    assert torch.equal(shard_batch({"x": torch.arange(4), "scale": torch.tensor(2.0)}, 1, 2)["x"], torch.tensor([2, 3]))
    assert shard_batch(torch.arange(1), 0, 2) is None  # fewer rows than ranks: no rank trains on it
    assert shard_batch(batch, 0, 1) is batch
