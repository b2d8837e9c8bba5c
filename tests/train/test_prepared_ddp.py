"""``train classify|tag|dna --data DIR`` (a prepared directory) under ``torchrun --nproc-per-node 2``: each rank
reads its own part of the records and both take the same number of steps (an odd number of records included), so
the run ends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import invoke
from tests.tasks.test_classify_prepared import _write_csv
from tests.tasks.test_dna import write_test_tsv
from tests.test_cli_tag import write_conll
from tests.train.test_multinode import _environment, _finish


def _files(kind: str, folder: Path) -> tuple[Path, Path, list[str]]:
    """101 training records, 20 validation records, and the task's tiny model flags."""
    if kind == "classify":
        return _write_csv(folder / "train.csv", 101, 0), _write_csv(folder / "valid.csv", 20, 1), \
            ["--embedding-size", "4"]
    if kind == "tag":
        return write_conll(folder / "train.txt", 101, 0), write_conll(folder / "valid.txt", 20, 1), \
            ["--embedding-size", "4"]
    return write_test_tsv(folder / "train.seq", 101, 0), write_test_tsv(folder / "valid.seq", 20, 1), []


@pytest.mark.slow  # about 30 s each on two busy cores: a launcher and two ranks
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
@pytest.mark.parametrize("kind", ["classify", "tag", "dna"])
def test_two_ranks_train_from_a_prepared_directory(tmp_path, kind):
    train, valid, model = _files(kind, tmp_path)
    assert invoke("prepare", kind, "--data", train, "--out", tmp_path / "prep")[0] == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnnkit",
               "train", kind, "--data", str(tmp_path / "prep"), "--valid", str(valid), "--out", str(tmp_path / "run"),
               "--cell", "gru", "--hidden-size", "8", *model, "--epochs", "2", "--batch-size", "8", "--quiet"]
    out = _finish(subprocess.Popen(command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["epoch"] == 2 and result["step"] == 2 * 13  # ceil(101 / 2) = 51 records a rank, batches of 4
    assert result["valid_sentences" if kind == "tag" else "valid_examples"] == 20
