"""The trainer on a task it knows nothing about (least squares): schedules, clipping, early stopping, bf16."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import StepResult, Trainer, detach_state

CONFIG = TrainConfig(epochs=3, lr=0.1, optimizer="sgd", clip_norm=None, quiet=True)


def regression_batches(epoch: int):
    generator = torch.Generator().manual_seed(epoch)
    for _ in range(4):
        x = torch.randn(8, 3, generator=generator)
        yield x, x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3


def squared_error(model, batch, state):
    x, y = batch
    return StepResult(((model(x).squeeze(1) - y) ** 2).sum(), len(y), None, tokens=len(y))


def make(config: TrainConfig, **options) -> Trainer:
    torch.manual_seed(0)
    return Trainer(nn.Linear(3, 1), config, squared_error, regression_batches, steps_per_epoch=4, **options)


def test_the_loss_falls_on_a_task_the_trainer_knows_nothing_about():
    history = make(replace(CONFIG, epochs=20)).fit()
    assert history[-1]["train_loss"] < 0.01 * history[0]["train_loss"]


def test_warmup_and_cosine_schedule():
    trainer = make(replace(CONFIG, schedule="cosine", warmup_steps=4, epochs=2))  # 8 steps in all
    rates = []
    for step in range(8):
        trainer.state.step = step
        rates.append(trainer.learning_rate())
    assert rates[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])  # linear warm-up
    assert rates[4] == pytest.approx(0.1) and rates[6] == pytest.approx(0.05)  # half-way down the cosine
    assert all(a >= b for a, b in zip(rates[4:], rates[5:], strict=False))


def test_step_decay_and_plateau_decay():
    trainer = make(replace(CONFIG, schedule="step", lr_decay=0.5, decay_start=2, epochs=4))
    trainer.fit()
    assert [round(r["lr"], 6) for r in trainer.state.history] == [0.1, 0.1, 0.05, 0.025]
    stuck = make(replace(CONFIG, schedule="plateau", lr_decay=0.5, epochs=3),
                 evaluate=lambda model: {"valid_loss": 1.0})  # never improves after the first epoch
    stuck.fit()
    assert [r["lr"] for r in stuck.state.history] == pytest.approx([0.1, 0.1, 0.05])  # decays after epoch 2


def test_early_stopping():
    trainer = make(replace(CONFIG, epochs=50, early_stopping_patience=2), evaluate=lambda model: {"valid_loss": 1.0})
    assert len(trainer.fit()) == 4  # the first epoch sets the best, then 3 without improvement


def test_clipping_by_norm_and_by_value():
    for config, check in ((replace(CONFIG, clip_norm=1e-3), lambda g: torch.cat(g).norm() <= 1e-3 + 1e-9),
                          (replace(CONFIG, clip_value=1e-4), lambda g: torch.cat(g).abs().max() <= 1e-4)):
        trainer = make(replace(config, epochs=1))
        seen = []
        trainer.optimizer.register_step_pre_hook(
            lambda optimizer, args, kwargs, seen=seen, model=trainer.model: seen.append(
                [p.grad.flatten().clone() for p in model.parameters()]))
        trainer.fit()
        assert seen and all(check(grads) for grads in seen)


def test_bf16_autocast_loss_matches_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 1))
    batch = next(regression_batches(0))
    exact = squared_error(model, batch, None).loss_sum
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = squared_error(model, batch, None).loss_sum
    assert math.isclose(float(low.detach()), float(exact.detach()), rel_tol=2e-2)
    history = make(replace(CONFIG, bf16=True, epochs=10)).fit()
    assert history[-1]["train_loss"] < 0.05 * history[0]["train_loss"]


def test_detach_state_keeps_structure():
    h = torch.ones(2, requires_grad=True) * 2
    state = [(h, h), h]
    detached = detach_state(state)
    assert isinstance(detached, list) and isinstance(detached[0], tuple)
    assert not detached[1].requires_grad and torch.equal(detached[1], h)



@pytest.mark.parametrize(("max_seconds", "expected", "absent"), [(None, "epoch 2/2", "left"),
                                                                 (3600.0, "epoch 2 (3600 s left)", "/2")])
def test_progress_names_the_epochs_or_the_time_left(capsys, max_seconds, expected, absent):
    make(replace(CONFIG, epochs=2, quiet=False, max_seconds=max_seconds, log_every=1)).fit()
    log = capsys.readouterr().err
    assert expected in log and absent not in log


def test_callbacks_see_every_step_validation_and_epoch_and_can_stop_the_run():
    from rnnkit.train.callbacks import EpochRecorder

    recorder, stopper = EpochRecorder(), EpochRecorder(stop_after=2)
    trainer = make(replace(CONFIG, epochs=5), evaluate=lambda model: {"valid_loss": 1.0},
                   callbacks=[recorder, stopper])
    history = trainer.fit()
    assert [record["epoch"] for record in history] == [1, 2]  # stopped by the callback after epoch 2
    assert recorder.records == history and len(recorder.validations) == 2
    assert recorder.steps == trainer.state.step == 8
