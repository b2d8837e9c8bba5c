"""The divergence guard: a finite blow-up (loss 1e7) stops the run with exit 1 and keeps the last good checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.divergence import DivergenceGuard, guards_for
from rnnkit.train.trainer import StepResult, Trainer, TrainingDiverged
from tests.cli_helpers import invoke
from tests.faults.run_helpers import metrics_epochs, train_args, write_text

STEPS = 20


def scheduled_trainer(run_dir: Path, losses, **settings) -> Trainer:
    """A trainer whose step n (1-based, over the run) has loss ``losses(n)``; the weights move every step."""
    model = nn.Linear(2, 1)
    counter = {"step": 0}

    def loss_fn(network, batch, state):
        counter["step"] += 1
        value = losses(counter["step"])
        loss = network.weight.sum() * 0 + network(torch.ones(1, 2)).sum() * 1e-3 + value
        return StepResult(loss, 1)

    config = TrainConfig(epochs=3, lr=0.01, quiet=True, divergence_warmup=5, **settings)
    return Trainer(model, config, loss_fn, lambda epoch: range(STEPS), run_dir=run_dir, steps_per_epoch=STEPS)


def test_a_finite_blow_up_stops_and_keeps_the_last_good_epoch(tmp_path):
    trainer = scheduled_trainer(tmp_path, lambda step: 1.0 if step <= STEPS else 1e7)  # epoch 2 diverges
    with pytest.raises(TrainingDiverged, match=r"the loss diverged: .* over 10 x its starting (1|0\.99)"):
        trainer.fit()
    assert metrics_epochs(tmp_path) == [1]
    good = latest_checkpoint(tmp_path / "checkpoint")
    assert good.name == f"step-{STEPS:09d}"
    saved = load_file(good / "model.safetensors")
    assert not torch.equal(saved["weight"], trainer.model.weight.detach())  # epoch 2's steps are not in it
    assert torch.equal(load_file(tmp_path / "model.safetensors")["weight"], saved["weight"])


def test_no_better_than_uniform_after_the_warm_up_stops_when_asked(tmp_path):
    trainer = scheduled_trainer(tmp_path, lambda step: 2.0 + 0.01 * step, stall_steps=30)  # not learning
    with pytest.raises(TrainingDiverged, match="no better than at the start after 30 steps"):
        trainer.fit()
    assert metrics_epochs(tmp_path) == [1]


def test_a_learning_run_and_switched_off_guards_go_on(tmp_path):
    trainer = scheduled_trainer(tmp_path / "a", lambda step: 2.0 / step, stall_steps=10)
    assert len(trainer.fit()) == 3
    trainer = scheduled_trainer(tmp_path / "b", lambda step: 1e7 if step > 3 else 1.0, divergence_factor=None)
    assert len(trainer.fit()) == 3
    assert guards_for(TrainConfig(divergence_factor=None)) == []


def test_one_bad_batch_is_no_verdict():
    guard = DivergenceGuard(factor=10, warmup_steps=0)
    losses = [1.0] * 5 + [50.0] + [1.0] * 20  # one spike: smoothed 5.9, under 10
    assert not any(guard.on_step_end(None, step, loss) for step, loss in enumerate(losses, 1))


@pytest.mark.parametrize(("setting", "value"), [("divergence_factor", 0.5), ("divergence_warmup", -1),
                                                ("stall_steps", 0)])
def test_settings_are_checked(setting, value):
    with pytest.raises(ValueError, match=setting):
        TrainConfig(**{setting: value})


def test_the_cli_exits_1_with_one_line_on_a_diverging_run(tmp_path):
    data = write_text(tmp_path / "text.txt", lines=60)
    code, out, err = invoke(*train_args(data, tmp_path / "run", 2), "--optimizer", "sgd", "--lr", "300",
                            "--clip-value", "1000", "--divergence-warmup", "5")
    assert code == 1 and out == "", (code, err)
    assert len(err.splitlines()) == 1 and "the loss diverged" in err and "Traceback" not in err


def test_a_divergence_seen_on_another_rank_stops_this_one_too(tmp_path, monkeypatch):
    """Under torchrun the guard sees its own rank's loss: the stop is agreed (one rank raising alone would leave the
    others waiting in the next all-reduce), so a rank whose own loss is fine raises as well."""
    import rnnkit.train.trainer as trainer_module

    def all_reduce_as_if_the_other_rank_diverged(values, device):
        values = [float(v) for v in values]
        if len(values) == 4:  # the stop flags: interrupted, out of time, asked, diverged
            values[3] += 1.0
        return values

    monkeypatch.setattr(trainer_module, "all_reduce_sum", all_reduce_as_if_the_other_rank_diverged)
    trainer = scheduled_trainer(tmp_path, lambda step: 1.0)  # this rank's own loss never moves
    monkeypatch.setattr(trainer, "distributed", dataclasses.replace(trainer.distributed, world_size=2))
    with pytest.raises(TrainingDiverged, match="diverged on another process"):
        trainer.fit()
    assert trainer.state.step == 1  # stopped after the first step's agreement


def test_the_guard_marks_the_trainer_rather_than_raising_inside_a_step():
    class Marked:
        diverged = None

    guard, trainer = DivergenceGuard(factor=2.0, warmup_steps=0), Marked()
    assert guard.on_step_end(trainer, 1, 1.0) is None
    assert guard.on_step_end(trainer, 2, 1e6) is True
    assert trainer.diverged.startswith("the loss diverged")
