"""Run-directory settings: one dataclass per config section, and a one-line error for a broken config.json."""

from dataclasses import dataclass

import pytest

from rnnkit.tasks.run_dir import run_settings


@dataclass
class Model:
    hidden_size: int = 4


@dataclass
class Corpus:
    level: str = "char"


def test_run_settings_builds_each_section():
    config = {"task": "lm", "model": {"hidden_size": 8}, "corpus": {}}
    settings = run_settings("run", config, {"model": Model, "corpus": Corpus})
    assert settings == {"model": Model(hidden_size=8), "corpus": Corpus()}


@pytest.mark.parametrize("config, detail", [
    ({"task": "lm", "corpus": {}}, "KeyError"),  # a section missing
    ({"task": "lm", "model": {"hidden": 8}, "corpus": {}}, "TypeError"),  # an unknown field
    ({"task": "lm", "model": None, "corpus": {}}, "TypeError"),  # a section that is not a table
])
def test_run_settings_names_the_file_for_a_broken_config(config, detail):
    with pytest.raises(ValueError, match=rf"run/config\.json: not a valid 'lm' run config \({detail}"):
        run_settings("run", config, {"model": Model, "corpus": Corpus})
