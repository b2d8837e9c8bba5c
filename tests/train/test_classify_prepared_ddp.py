"""``train classify --data DIR`` (a prepared directory) under ``torchrun --nproc-per-node 2``: each rank reads its
own part of the texts and both take the same number of steps (an odd number of texts included), so the run ends."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.cli_helpers import invoke
from tests.tasks.test_classify_prepared import _write_csv
from tests.train.test_multinode import _environment, _finish


@pytest.mark.slow  # about 30 s on two busy cores: a launcher and two ranks
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_ranks_train_a_classifier_from_a_prepared_directory(tmp_path):
    _write_csv(tmp_path / "train.csv", 101, 0)
    _write_csv(tmp_path / "valid.csv", 20, 1)
    assert invoke("prepare", "classify", "--data", tmp_path / "train.csv", "--out", tmp_path / "prep")[0] == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnnkit",
               "train", "classify", "--data", str(tmp_path / "prep"), "--valid", str(tmp_path / "valid.csv"),
               "--out", str(tmp_path / "run"), "--cell", "gru", "--hidden-size", "8", "--embedding-size", "4",
               "--epochs", "2", "--batch-size", "8", "--quiet"]
    out = _finish(subprocess.Popen(command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["epoch"] == 2 and result["step"] == 2 * 13  # ceil(101 / 2) = 51 texts a rank, batches of 4
    assert result["valid_examples"] == 20
