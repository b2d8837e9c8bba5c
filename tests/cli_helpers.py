"""Running the ``rnnkit`` command in-process from tests, and the check every bad-input test makes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from rnnkit.cli import main
from rnnkit.train.checkpoint import latest_checkpoint


def invoke(*args: object) -> tuple[int, str, str]:
    """``rnnkit ARGS`` in-process: (exit code, stdout, stderr); argparse's SystemExit becomes its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def assert_user_error(result: tuple[int, str, str], *needles: str) -> str:
    """Exit code 2, nothing on stdout, exactly one stderr line ``rnnkit: error: ...`` holding every needle."""
    code, out, err = result
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_resume_is_exact(tmp_path: Path, task: str, *training_args: object, epochs: int = 2) -> None:
    """``rnnkit train TASK ARGS --epochs 1`` and then ``--resume --epochs N`` end with the weights of a straight
    ``--epochs N`` run, bit for bit (the checkpoints' model.safetensors)."""
    runs = {"straight": epochs, "resumed": 1}
    for name, count in runs.items():
        code, _, err = invoke("train", task, *training_args, "--out", tmp_path / name, "--epochs", count, "--quiet")
        assert code == 0, err
    code, stdout, err = invoke("train", task, "--out", tmp_path / "resumed", "--resume", "--epochs", epochs)
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["epoch"] == epochs
    history = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == list(range(1, epochs + 1))  # continued, not restarted
    expected, actual = (load_file(latest_checkpoint(tmp_path / name / "checkpoint") / "model.safetensors")
                        for name in runs)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
