"""Multi-node training as the README runs it: ``torchrun --nnodes 2 --nproc-per-node 1`` with a c10d rendezvous,
here two "nodes" on one host (two launcher processes, gloo, rendezvous on 127.0.0.1), each rank reading its own
rows of a prepared corpus. The two nodes end with the weights of one node running two processes on the same data."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.cli_helpers import invoke

TRAIN = ["--cell", "lstm", "--hidden-size", "16", "--embedding-size", "8", "--epochs", "2", "--batch-size", "4",
         "--bptt", "16", "--quiet", "--seed", "5"]
WORDS = "the cat sat on a mat and dog ran to big red hat".split()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK"):
        env.pop(name, None)
    return env


def _torchrun(*launcher: str, out: Path, data: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "rnnkit", "train", "lm", "--data",
               str(data), "--out", str(out), *TRAIN]
    return subprocess.Popen(command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err[-4000:]
    return out


@pytest.mark.slow  # about 60 s on two busy cores: three launchers, four ranks
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_nodes_end_with_the_weights_of_one_node_with_two_processes(tmp_path):
    rng = random.Random(0)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(200)) + "\n"
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    assert invoke("prepare", "lm", "--data", tmp_path / "train.txt", "--out", tmp_path / "data", "--level", "word",
                  "--quiet")[0] == 0
    _finish(_torchrun("--standalone", "--nproc-per-node", "2", out=tmp_path / "one-node", data=tmp_path / "data"))
    rendezvous = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
                  f"127.0.0.1:{_free_port()}", "--rdzv-id", "rnnkit-test"]
    nodes = [_torchrun(*rendezvous, out=tmp_path / "two-nodes", data=tmp_path / "data") for _ in range(2)]
    printed = [_finish(node) for node in nodes]
    assert sorted(bool(out.strip()) for out in printed) == [False, True]  # one group: its rank 0 alone reports
    expected, actual = load_file(tmp_path / "one-node" / "model.safetensors"), \
        load_file(tmp_path / "two-nodes" / "model.safetensors")
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.allclose(actual[key], expected[key], rtol=0, atol=1e-6), key
