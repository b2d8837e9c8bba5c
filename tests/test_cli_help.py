"""Every command's --help: each argument has help text, and each option with a default says it."""

from __future__ import annotations

import argparse

import pytest

from rnnkit.cli.main import build_parser
from tests.cli_helpers import invoke


def arguments(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("rnnkit",)):
    """(command path, action) for every argument of every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from arguments(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, action


ALL = list(arguments(build_parser()))


def test_every_argument_has_help_and_shows_its_default():
    missing, no_default = [], []
    for path, action in ALL:
        where = f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        text = action.help or ""
        if not text.strip():
            missing.append(where)
        elif (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
              and "default" not in text):
            no_default.append(where)
    assert not missing, missing
    assert not no_default, no_default
    assert len({path for path, _ in ALL}) >= 19  # every task's train command, the verbs, data, analysis


def test_forecast_batch_size_speaks_of_windows():
    (action,) = [a for path, a in ALL if path[-2:] == ("train", "forecast") and "--batch-size" in a.option_strings]
    assert "sentence" not in action.help and "window" in action.help


@pytest.mark.parametrize("command", [("train", "lm"), ("train", "forecast"), ("data", "get"), ("longdep",)])
def test_help_prints_defaults_and_choices(command):
    code, out, _ = invoke(*command, "--help")
    assert code == 0 and "default" in out
    if command == ("train", "lm"):
        assert "{rnn,gru,lstm,lnlstm}" in out and "(default: lstm)" in out
