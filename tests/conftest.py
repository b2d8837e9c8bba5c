"""Test-wide settings: one torch thread, so timings and results do not depend on a busy machine's scheduler."""

import pytest
import torch

from rnnkit.cli import main

torch.set_num_threads(1)


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` -> (exit code, stdout, stderr) of ``rnnkit ARGS`` run in-process, captured with capsys."""

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as stop:
            code = stop.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
