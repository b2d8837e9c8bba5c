"""TrainConfig checks, config files (TOML, YAML, JSON) and the generic dataclass helpers."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from rnnkit.train import (
    TrainConfig,
    append_jsonl,
    atomic_write_json,
    atomic_write_text,
    config_from_mapping,
    config_to_dict,
    environment_versions,
    load_config_file,
    merge_config,
)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 0}, "epochs: got 0; expected a positive integer"),
        ({"batch_size": -3}, "batch_size: got -3; expected a positive integer"),
        ({"optimizer": "adam"}, "optimizer: got 'adam'; expected one of 'sgd', 'adamw'"),
        ({"lr": 0.0}, "lr: got 0.0; expected a finite number > 0"),
        ({"lr": math.inf}, "lr: got inf; expected a finite number > 0"),
        ({"momentum": 1.0}, "momentum: got 1.0; expected a number in [0, 1)"),
        ({"bptt": 10, "bptt_k1": 11}, "bptt_k1: got 11; expected an integer in [1, bptt] = [1, 10]"),
        ({"schedule": "linear"}, "schedule: got 'linear'; expected one of 'none', 'plateau', 'step', 'cosine'"),
        ({"lr_decay": 1.5}, "lr_decay: got 1.5; expected a factor in (0, 1)"),
        ({"clip_norm": -1.0}, "clip_norm: got -1.0; expected a finite number > 0, or null for off"),
        ({"warmup_steps": -1}, "warmup_steps: got -1; expected an integer >= 0"),
        ({"device": "gpu"}, "device: got 'gpu'; expected 'cpu', 'cuda' or 'cuda:N'"),
        ({"epochs": True}, "epochs: got True (bool); expected an integer"),
        ({"clip_value": "1"}, "clip_value: got '1' (str); expected a number or null"),
        ({"quiet": 1}, "quiet: got 1 (int); expected true or false"),
    ],
)
def test_invalid_values_name_field_value_and_expectation(values, message):
    with pytest.raises(ValueError) as caught:
        TrainConfig(**values)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_defaults_are_valid_and_numbers_become_floats():
    config = TrainConfig(lr=1, bptt=8, bptt_k1=4)
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.truncation_interval == 4 and TrainConfig().truncation_interval == 64
    assert dataclasses.is_dataclass(config) and TrainConfig().optimizer == "adamw"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 2.0


def test_unknown_key_lists_valid_keys_sorted():
    with pytest.raises(ValueError) as caught:
        config_from_mapping(TrainConfig, {"lrate": 0.1}, source="run.toml")
    names = sorted(field.name for field in dataclasses.fields(TrainConfig))
    assert str(caught.value).startswith(f"run.toml: unknown key 'lrate'; valid keys: {', '.join(names)}")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("epochs", 2.5, "an integer"), ("epochs", "3", "an integer"), ("lr", True, "a number"),
     ("bf16", "yes", "true or false"), ("optimizer", 3, "a string"), ("bptt_k1", "none", "an integer or null")],
)
def test_wrong_types_name_key_value_and_type(key, value, expected):
    with pytest.raises(ValueError) as caught:
        config_from_mapping(TrainConfig, {key: value})
    assert str(caught.value) == f"config: {key}: got {value!r} ({type(value).__name__}); expected {expected}"


def test_coercion_from_file_values():
    config = config_from_mapping(TrainConfig, {"epochs": 3.0, "lr": 1, "clip_norm": None, "bptt_k1": None})
    assert config.epochs == 3 and isinstance(config.epochs, int)
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.clip_norm is None


def test_value_errors_from_the_dataclass_carry_the_source():
    with pytest.raises(ValueError, match=r"^a\.json: epochs: got 0; expected a positive integer$"):
        config_from_mapping(TrainConfig, {"epochs": 0}, source="a.json")


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    hidden_sizes: tuple[int, ...] = (8,)
    cell: str = "lstm"
    dropout: float = 0.0


@dataclasses.dataclass(frozen=True)
class Required:
    size: int
    name: str = "x"


def test_missing_required_key_is_a_value_error():
    with pytest.raises(ValueError, match="^f.toml: missing key 'size'; these settings have no default$"):
        config_from_mapping(Required, {"name": "y"}, source="f.toml")
    assert merge_config(Required, {"size": 2}, {"size": 3, "name": None}) == Required(size=3)


def test_generic_helpers_work_on_any_dataclass():
    settings = config_from_mapping(ModelSettings, {"hidden_sizes": [4, 5], "dropout": 0})
    assert settings == ModelSettings(hidden_sizes=(4, 5), dropout=0.0)
    assert config_to_dict(settings) == {"hidden_sizes": [4, 5], "cell": "lstm", "dropout": 0.0}
    with pytest.raises(ValueError, match="hidden_sizes: got \\[4, 'x'\\]"):
        config_from_mapping(ModelSettings, {"hidden_sizes": [4, "x"]})


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_toml_with_sections(tmp_path):
    path = write(tmp_path / "run.toml", "[train]\nlr = 0.01\nepochs = 2\n\n[model]\ncell = \"gru\"\n")
    values = load_config_file(path)
    assert values == {"train": {"lr": 0.01, "epochs": 2}, "model": {"cell": "gru"}}
    config = config_from_mapping(TrainConfig, values["train"], source=str(path))
    assert (config.lr, config.epochs) == (0.01, 2)


def test_load_yaml_and_json_flat(tmp_path):
    pytest.importorskip("yaml")
    yaml_path = write(tmp_path / "run.yaml", "lr: 0.5\nclip_norm: null\noptimizer: sgd\n")
    json_path = write(tmp_path / "run.json", json.dumps({"lr": 0.5, "clip_norm": None, "optimizer": "sgd"}))
    assert load_config_file(yaml_path) == load_config_file(json_path) == {"lr": 0.5, "clip_norm": None,
                                                                          "optimizer": "sgd"}
    assert load_config_file(write(tmp_path / "empty.yml", "")) == {}


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_config_file(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML: .*line 2"):
        load_config_file(write(tmp_path / "bad.toml", "lr = 1\nepochs = = 2\n"))
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON at line 3"):
        load_config_file(write(tmp_path / "bad.json", '{\n"lr": 1,\n}'))
    with pytest.raises(ValueError, match=r"list\.json: the top level must be a mapping"):
        load_config_file(write(tmp_path / "list.json", "[1, 2]"))
    with pytest.raises(ValueError, match=r"expected \.toml, \.yaml, \.yml or \.json"):
        load_config_file(write(tmp_path / "run.ini", "lr=1"))


def test_load_yaml_error_names_line(tmp_path):
    pytest.importorskip("yaml")
    with pytest.raises(ValueError, match=r"bad\.yaml: not valid YAML at line 2"):
        load_config_file(write(tmp_path / "bad.yaml", "lr: 1\n  epochs: [2\n"))


def test_overrides_win_and_none_overrides_are_ignored():
    config = merge_config(TrainConfig, {"lr": 0.1, "epochs": 5, "seed": 3}, {"lr": 0.2, "epochs": None})
    assert (config.lr, config.epochs, config.seed) == (0.2, 5, 3)
    with pytest.raises(ValueError, match="^overrides: unknown key 'bogus'"):
        merge_config(TrainConfig, {}, {"bogus": 1})
    with pytest.raises(ValueError, match="^config file: unknown key 'bogus'"):
        merge_config(TrainConfig, {"bogus": 1}, {})


def test_config_json_round_trip_and_environment(tmp_path):
    config = TrainConfig(lr=0.3, clip_norm=None, bptt_k1=16)
    atomic_write_json(tmp_path / "config.json", {"train": config_to_dict(config), "env": environment_versions()})
    document = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert config_from_mapping(TrainConfig, document["train"]) == config
    assert set(document["env"]) == {"python", "torch", "numpy", "rnnkit", "platform"}


def test_atomic_text_and_jsonl(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "one\n")
    atomic_write_text(tmp_path / "a.txt", "two\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "two\n"
    append_jsonl(tmp_path / "m.jsonl", {"step": 1, "loss": 2.5})
    append_jsonl(tmp_path / "m.jsonl", {"step": 2, "text": "é"})
    lines = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"step": 1, "loss": 2.5}, {"step": 2, "text": "é"}]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt", "m.jsonl"]  # no temporary left
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "no" / "such" / "dir.txt", "x")
