"""Run directories: settings per config section, a one-line error for a broken config.json, recorded data paths
and the kept epoch."""

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rnnkit.tasks.run_dir import (
    absolute_paths,
    best_epoch,
    describe_paths,
    fit_keeping_best,
    resumed_run,
    run_settings,
    write_run_config,
)
from rnnkit.train.checkpoint import save_model_weights, save_training_state
from rnnkit.train.config import TrainConfig


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


def test_absolute_paths_keep_the_shape_they_were_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_paths(None) is None
    assert absolute_paths("a.csv") == str(tmp_path / "a.csv")
    assert absolute_paths([Path("a.csv"), "sub/b.csv"]) == [str(tmp_path / "a.csv"), str(tmp_path / "sub" / "b.csv")]


def test_best_epoch_is_the_first_with_the_lowest_monitored_error():
    history = [{"epoch": 1, "valid_error": 0.3}, {"epoch": 2, "valid_error": 0.2}, {"epoch": 3, "valid_error": 0.2},
               {"epoch": 4, "valid_error": 0.25, "span_error": 0.1}]
    assert best_epoch(history) == 2
    assert best_epoch(history, "span_error") == 4
    assert best_epoch([]) is None


def test_describe_paths_joins_several_with_spaces():
    assert describe_paths("a.csv") == "a.csv"
    assert describe_paths([Path("a.csv"), "b.csv"]) == "a.csv b.csv"


def test_fit_keeping_best_reloads_the_kept_weights_and_reports_their_epoch(tmp_path):
    network = torch.nn.Linear(3, 2)

    class Trainer:  # stands in for rnnkit's: fit() saves the best epoch, then trains on past it
        monitor = "valid_loss"
        state = SimpleNamespace(history=[{"epoch": 1, "valid_loss": 0.9}, {"epoch": 2, "valid_loss": 0.4},
                                         {"epoch": 3, "valid_loss": 0.6}], seconds=12.5)

        def fit(self):
            save_model_weights(tmp_path / "model.safetensors", network)
            with torch.no_grad():
                network.weight.add_(1.0)

    kept = network.weight.detach().clone()
    results = fit_keeping_best(Trainer(), network, tmp_path)
    assert results == {"epoch": 3, "valid_loss": 0.6, "best_epoch": 2, "train_seconds": 12.5}
    assert torch.equal(network.weight, kept)


@pytest.mark.parametrize("name", ["train_classifier", "train_tagger", "train_dna", "train_audio_classifier",
                                  "train_condgen", "train_forecaster", "train_seq2seq"])
def test_a_new_run_without_data_is_a_clear_error_and_makes_no_directory(tmp_path, name):
    import rnnkit.tasks as tasks

    with pytest.raises(ValueError, match=r"data: missing; expected the training data \(or resume=True"):
        getattr(tasks, name)(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_resumed_run_without_a_checkpoint_starts_again_and_replaces_the_epochs(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    write_run_config(run, "demo", {"train": {"epochs": 3}, "data": {"train": "a.txt", "valid": None, "test": None}})
    sections = {"train": TrainConfig}
    assert resumed_run(run, "demo", sections)[0]["train"].epochs == 3
    assert "no checkpoint yet" in capsys.readouterr().err
    (run / "alt").mkdir()
    model = torch.nn.Linear(1, 1)
    save_training_state(run / "alt", model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                        trainer_state={"step": 1})
    settings, data = resumed_run(run, "demo", sections, epochs=7, checkpoints=("checkpoint", "alt"))
    assert settings["train"].epochs == 7 and data["train"] == "a.txt"
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        resumed_run(tmp_path / "none", "demo", sections)


def test_run_start_takes_the_tasks_own_record_of_its_data_and_never_resolves_it_as_a_path(tmp_path):
    from rnnkit.tasks.base import IN_MEMORY, prepare_run
    from rnnkit.train.config import TrainConfig

    texts = ["a text with a NUL \x00 byte", "another"]  # a list of str looks like paths to the generic record
    run = prepare_run("demo", tmp_path / "run", {"train": TrainConfig}, data=texts, valid=[str(tmp_path / "v.txt")])
    run.start({"train": run.train}, data_extra={"train": IN_MEMORY, "source": "memory"})
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data == {"train": IN_MEMORY, "valid": [str((tmp_path / "v.txt").resolve())], "test": None,
                    "source": "memory"}


def test_only_rank_zero_refuses_an_out_that_holds_a_run(tmp_path, monkeypatch):
    """Under torchrun rank 0 makes the run directory; a rank that starts later finds it there and must go on."""
    from rnnkit.tasks.base import prepare_run

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"format": "rnnkit.run", "task": "demo"}')
    monkeypatch.setenv("RANK", "1")
    run = prepare_run("demo", out, {"train": TrainConfig}, data=["a text"])
    assert run.lock is None  # a rank other than 0 takes no lock and writes nothing
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run("demo", out, {"train": TrainConfig}, data=["a text"])
