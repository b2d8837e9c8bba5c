"""The rnnkit command: --version and --help work, no command is a usage error (exit code 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {rnnkit.__version__}"


def test_help_names_the_tool(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "Recurrent neural networks" in capsys.readouterr().out


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: rnnkit" in capsys.readouterr().err


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("rnnkit ")
