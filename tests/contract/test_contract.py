"""The task contract, for every task in ``TASKS``: tiny training -> ``rk.load`` -> each declared verb; a callback
that sees every epoch and can stop the run; ``--resume`` ending with the weights of a straight run, bit for bit;
in-memory data with bf16 autocast (the loss falls); the ``rnnkit train TASK`` sub-command with every flag's
default shown; and (``test_contract_ddp.py``) two torchrun ranks equal to one process.

Each task's tiny data and settings come from ``tests/contract/tiny_<task>.py`` (``tiny(tmp_path, in_memory)``
and ``use(predictor, tmp_path)``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import rnnkit as rk
from rnnkit.cli import build_parser
from rnnkit.tasks import PREDICTORS, TASKS
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.train.callbacks import EpochRecorder
from rnnkit.train.checkpoint import latest_checkpoint

NAMES = sorted(TASKS)


def tiny_module(name: str) -> Any:
    return importlib.import_module(f"tests.contract.tiny_{name}")


def last_weights(run: Path) -> dict[str, torch.Tensor]:
    """The weights of the run's latest checkpoint (the end of its last epoch, not the best one)."""
    return load_file(latest_checkpoint(run / "checkpoint") / "model.safetensors")


def epochs_of(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


_STRAIGHT: dict[str, tuple[Path, EpochRecorder, dict[str, Any]]] = {}


def straight_run(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EpochRecorder, dict]:
    """The task's tiny run trained straight through its epochs (once per test session), with a recording callback."""
    if name not in _STRAIGHT:
        base = tmp_path_factory.mktemp(f"contract-{name}")
        recorder = EpochRecorder()
        results = TASKS[name].train(base / "run", **tiny_module(name).tiny(base / "data"), callbacks=[recorder])
        _STRAIGHT[name] = (base / "run", recorder, results)
    return _STRAIGHT[name]


def test_the_registry_names_every_task_once():
    assert NAMES == sorted(["lm", "classify", "tag", "dna", "audio", "condgen", "forecast", "seq2seq", "caption"])
    assert PREDICTORS == {name: task.predictor for name, task in TASKS.items()}
    for name, task in TASKS.items():
        assert task.name == name and task.verbs and "train" in task.settings
        for verb in task.verbs:
            assert callable(getattr(task.predictor, verb, None)), (name, verb)


@pytest.mark.parametrize("name", NAMES)
def test_train_load_and_use_every_verb(name, tmp_path_factory, tmp_path):
    run, recorder, results = straight_run(name, tmp_path_factory)
    epochs = tiny_module(name).tiny(tmp_path)["train"].epochs
    assert [record["epoch"] for record in recorder.records] == list(range(1, epochs + 1))  # the callback saw each
    assert recorder.steps == results["step"] > 0
    assert epochs_of(run) == list(range(1, epochs + 1))
    predictor = rk.load(run)
    assert isinstance(predictor, TASKS[name].predictor) and predictor.task == name
    tiny_module(name).use(predictor, tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_a_callback_stops_the_run_and_resume_ends_with_the_straight_runs_weights(name, tmp_path_factory, tmp_path):
    straight, _, _ = straight_run(name, tmp_path_factory)
    keywords = tiny_module(name).tiny(tmp_path / "data")
    epochs = keywords["train"].epochs
    stopper = EpochRecorder(stop_after=1)  # returns True at the end of epoch 1: the run ends there
    TASKS[name].train(tmp_path / "run", **keywords, callbacks=[stopper])
    assert epochs_of(tmp_path / "run") == [1]
    resumed = EpochRecorder()
    TASKS[name].train(tmp_path / "run", resume=True, epochs=epochs, callbacks=[resumed])
    assert [record["epoch"] for record in resumed.records] == list(range(2, epochs + 1))
    assert epochs_of(tmp_path / "run") == list(range(1, epochs + 1))  # continued, not restarted
    expected, actual = last_weights(straight), last_weights(tmp_path / "run")
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


@pytest.mark.parametrize("name", NAMES)
def test_in_memory_data_trains_under_bf16_and_the_loss_falls(name, tmp_path):
    keywords = tiny_module(name).tiny(tmp_path / "data", in_memory=True)
    keywords["train"] = dataclasses.replace(keywords["train"], bf16=True)
    recorder = EpochRecorder()
    TASKS[name].train(tmp_path / "run", **keywords, callbacks=[recorder])
    losses = [record["train_loss"] for record in recorder.records]
    assert losses[-1] < losses[0], losses
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["train"] == IN_MEMORY and config["train"]["bf16"] is True
    with pytest.raises(ValueError, match="in-memory data"):  # resuming needs the data handed over again
        TASKS[name].train(tmp_path / "run", resume=True, epochs=keywords["train"].epochs + 1)
    rk.load(tmp_path / "run")


def _train_parser(name: str):
    commands = next(action for action in build_parser()._actions if action.dest == "command")
    tasks = next(action for action in commands.choices["train"]._actions if action.dest == "task")
    return tasks.choices[name]


@pytest.mark.parametrize("name", NAMES)
def test_the_train_subcommand_shows_every_flags_default(name):
    parser = _train_parser(name)
    assert parser.description == TASKS[name].description
    settings_flags = [action for action in parser._actions if "." in action.dest]
    assert {"--epochs", "--batch-size", "--lr", "--seed", "--bf16", "--device"} <= {
        option for action in settings_flags for option in action.option_strings}
    for action in settings_flags:
        if action.const is None:  # a switch such as --keep-case repeats another flag
            assert "(default: " in action.help, (name, action.option_strings)
        if action.choices:
            section, field = action.dest.split(".")
            default = getattr(TASKS[name].settings[section](), field)
            assert default in action.choices, (name, action.dest)
