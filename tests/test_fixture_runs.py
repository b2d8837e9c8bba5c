"""The behaviour frozen before the cli/ refactor still holds: fixture runs give their recorded outputs, and every
command-line flag of that time still exists.

tests/fixtures/runs/TASK/ holds a tiny run of each task trained by rnnkit at commit 64c7f27 (see
tests/fixtures/make_runs.py) and expected.json, what its verbs answered then; tests/fixtures/flags_before.json
holds the option strings of every subcommand then (tests/fixtures/make_flags.py).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

import rnnkit as rk
from rnnkit.cli import build_parser
from tests.fixtures.make_runs import call, plain  # what recorded the expected outputs, applied again

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TASKS = ("lm", "classify", "tag", "dna", "audio", "condgen", "forecast", "seq2seq")


def assert_same(actual: Any, expected: Any, where: str) -> None:
    """Equal, floats to rel 1e-5 / abs 1e-6; everything else (strings, ints, bools, tokens, keys) exactly."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), (where, actual)
        assert sorted(actual) == sorted(expected), (where, sorted(actual), sorted(expected))
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual, expected)
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_same(got, want, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert isinstance(actual, int | float), (where, actual, expected)
        if math.isnan(expected):
            assert math.isnan(actual), (where, actual)
        else:
            assert actual == pytest.approx(expected, rel=1e-5, abs=1e-6), where
    else:
        assert type(actual) is type(expected) and actual == expected, (where, actual, expected)


@pytest.mark.parametrize("task", TASKS)
def test_fixture_run_gives_the_recorded_outputs(task: str, monkeypatch: pytest.MonkeyPatch):
    run = FIXTURES / "runs" / task
    expected = json.loads((run / "expected.json").read_text(encoding="utf-8"))
    assert expected["task"] == task
    monkeypatch.chdir(FIXTURES)  # the recorded inputs (and outputs naming files) are relative to this folder
    predictor = rk.load(run)
    assert predictor.task == task
    for number, record in enumerate(expected["calls"]):
        result = plain(call(predictor, record["verb"], record["args"], record["kwargs"]))
        assert_same(result, record["result"], f"{task} call {number} {record['verb']}{record['kwargs']}")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {name: sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()}


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_flag_of_before_the_refactor_still_exists():
    before = json.loads((FIXTURES / "flags_before.json").read_text(encoding="utf-8"))
    parser = build_parser()
    commands = subcommands(parser)
    tasks = subcommands(commands["train"])
    missing = []
    for task in TASKS:
        assert task in tasks, f"rnnkit train {task}: gone"
        have = option_strings(tasks[task])
        missing += [f"train {task} {flag}" for flag in before[task]["options"] if flag not in have]
    for verb, flags in before["verbs"].items():
        assert verb in commands, f"rnnkit {verb}: gone"
        have = option_strings(commands[verb])
        missing += [f"{verb} {flag}" for flag in flags if flag not in have]
    missing += [flag for flag in before["top"] if flag not in option_strings(parser)]
    assert not missing, missing
