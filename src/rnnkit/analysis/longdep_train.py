"""Train one cell on one long-range task at one length, under a budget, and report whether it learned.

Each step draws a fresh batch (seeded by the run's seed and the step number), so the model never sees the same
sequence twice; the test set is one fixed, separately seeded batch. With ``bptt`` set, a sequence is read in
windows of ``bptt`` steps and the state is detached between them (truncated BPTT, k1 = k2 = bptt)::

    x_1 .. x_k | x_k+1 .. x_2k | ...      the gradient of a loss in one window stops at the window's start
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..train.trainer import detach_state
from .longdep import DIGITS_LENGTH, IGNORE, TASKS, LongDepData, check_length, digits_task, make_task
from .sequence_model import SequenceModel, check_cell

# the success metric of each task, and the bar for "solved"
SUCCESS = {
    "adding": ("mse", "below", 0.01),  # always answering 1.0 gives ~0.167
    "copy": ("accuracy", "above", 0.99),
    "recall": ("accuracy", "above", 0.99),
    "tickets": ("accuracy", "above", 0.99),
    "digits": ("accuracy", "above", 0.9),
}
_TEST_SEED_OFFSET = 2**40  # test seeds never collide with training seeds (seed * 1_000_003 + step)


@dataclass(frozen=True)
class LongDepConfig:
    """Settings of one long-range training run (the same for every cell and length of a study).

    Attributes:
        hidden_size: hidden units H.
        batch_size: sequences per step.
        lr: Adam's learning rate.
        clip: clip the gradients' global norm to this (None: no clipping).
        max_steps: the step budget.
        max_seconds: the time budget (None: steps only); whichever comes first ends the run.
        eval_every: steps between two test evaluations.
        test_size: test sequences (generated tasks).
        seed: seeds the weights and the data.
        forget_bias: LSTM forget-gate / GRU update-gate bias at initialisation.
        input_bias: LSTM input-gate bias at initialisation.
        bptt: truncated-BPTT window (None: full backpropagation through the whole sequence).
        stop_when_solved: stop at the first evaluation that clears the task's bar.
    """

    hidden_size: int = 128
    batch_size: int = 64
    lr: float = 1e-3
    clip: float | None = 1.0
    max_steps: int = 3000
    max_seconds: float | None = None
    eval_every: int = 100
    test_size: int = 1000
    seed: int = 0
    forget_bias: float = 1.0
    input_bias: float = 0.0
    bptt: int | None = None
    stop_when_solved: bool = True

    def __post_init__(self) -> None:
        for name in ("hidden_size", "batch_size", "max_steps", "eval_every", "test_size"):
            check_length(getattr(self, name), 1, name)
        if self.bptt is not None:
            check_length(self.bptt, 1, "bptt")
        for name in ("lr", "clip", "max_seconds"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"{name}: got {value!r}; expected a positive number")


def run_forward(model: nn.Module, inputs: Tensor, bptt: int | None = None) -> Tensor:
    """``model``'s outputs ``(B, T, O)``, read in windows of ``bptt`` steps with the state detached between."""
    if bptt is None or bptt >= inputs.shape[1]:
        return model(inputs)[0]
    outputs, state = [], None
    for window in inputs.split(bptt, dim=1):
        output, state = model(window, state)
        state = detach_state(state)  # the truncation: no gradient flows into the previous window
        outputs.append(output)
    return torch.cat(outputs, dim=1)


def task_loss(outputs: Tensor, data: LongDepData) -> Tensor:
    """Mean squared error (regression) or cross-entropy (classes), on the positions the task trains."""
    if data.kind == "regression":
        return F.mse_loss(outputs[:, -1, 0], data.targets)
    if data.kind == "classify":
        return F.cross_entropy(outputs[:, -1], data.targets)
    return F.cross_entropy(outputs.flatten(0, 1), data.targets.flatten(), ignore_index=IGNORE)


def task_metric(outputs: Tensor, data: LongDepData) -> float:
    """Test MSE (regression), or accuracy on the last step (classify) or on the scored positions (sequence)."""
    if data.kind == "regression":
        return float(F.mse_loss(outputs[:, -1, 0], data.targets))
    if data.kind == "classify":
        return float((outputs[:, -1].argmax(-1) == data.targets).float().mean())
    correct = outputs.argmax(-1) == data.targets  # (N, T)
    return float(correct[data.scored].float().mean())


def is_solved(task: str, value: float) -> bool:
    """Whether ``value`` of the task's metric clears its bar (see :data:`SUCCESS`)."""
    _, direction, bar = SUCCESS[task]
    return value < bar if direction == "below" else value >= bar


class _Batches:
    """Training batches and the test set of a task: fresh generated batches, or shuffled digits."""

    def __init__(self, task: str, length: int, config: LongDepConfig) -> None:
        self.task, self.length, self.config = task, length, config
        if task == "digits":
            self.train = digits_task("train", config.seed)
            self.test = digits_task("test", config.seed)
            self.order = torch.empty(0, dtype=torch.long)
            self.generator = torch.Generator().manual_seed(config.seed)
        else:
            self.test = make_task(task, config.test_size, length, _TEST_SEED_OFFSET + config.seed)

    def batch(self, step: int) -> LongDepData:
        size = self.config.batch_size
        if self.task != "digits":
            return make_task(self.task, size, self.length, self.config.seed * 1_000_003 + step)
        if len(self.order) < size:  # a new epoch over the training images
            self.order = torch.randperm(len(self.train), generator=self.generator)
        rows, self.order = self.order[:size], self.order[size:]
        return self.train.take(rows)


@torch.no_grad()
def evaluate(model: nn.Module, data: LongDepData, batch_size: int = 500) -> float:
    """The task's metric on ``data``, in chunks of ``batch_size`` sequences (weighted by chunk size)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        part = data.take(torch.arange(start, min(start + batch_size, len(data))))
        weight = len(part) if part.kind != "sequence" else int(part.scored.sum())
        total += task_metric(model(part.inputs)[0], part) * weight
        count += weight
    model.train()
    return total / max(count, 1)


def train_long_dependency(task: str, cell: str, length: int, config: LongDepConfig | None = None,
                          on_evaluation: Callable[[int, float], None] | None = None) -> dict:
    """Train a fresh ``cell`` model on ``task`` at ``length`` within ``config``'s budget.

    Returns a JSON-ready dict: ``task, cell, length, metric, value`` (the best test value seen), ``solved``,
    ``solved_at_step`` (None if never), ``steps``, ``seconds``, ``curve`` ([step, value] pairs) and the config.
    ``on_evaluation(step, value)`` is called after each test evaluation (progress).
    """
    config = config or LongDepConfig()
    if task not in TASKS:
        raise ValueError(f"task: got {task!r}; expected one of {', '.join(TASKS)}")
    check_cell(cell)
    check_length(length, 2)
    if task == "digits" and length != DIGITS_LENGTH:
        raise ValueError(f"length: got {length} for task 'digits'; expected {DIGITS_LENGTH} (8x8 pixels)")
    torch.manual_seed(config.seed)
    batches = _Batches(task, length, config)
    data = batches.test
    model = SequenceModel(data.input_size, data.output_size, cell, config.hidden_size,
                          token_inputs=not data.inputs.is_floating_point(), forget_bias=config.forget_bias,
                          input_bias=config.input_bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    metric, direction, _ = SUCCESS[task]
    best = math.inf if direction == "below" else -math.inf
    curve, solved_at, step, started = [], None, 0, time.perf_counter()
    while step < config.max_steps:
        batch = batches.batch(step)
        loss = task_loss(run_forward(model, batch.inputs, config.bptt), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        step += 1
        out_of_time = config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
        if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
            value = evaluate(model, data)
            curve.append([step, value])
            if on_evaluation is not None:
                on_evaluation(step, value)
            best = min(best, value) if direction == "below" else max(best, value)
            if solved_at is None and is_solved(task, value):
                solved_at = step
                if config.stop_when_solved:
                    break
        if out_of_time:
            break
    return {"task": task, "cell": cell, "length": length, "metric": metric, "value": best,
            "solved": solved_at is not None, "solved_at_step": solved_at, "steps": step,
            "seconds": round(time.perf_counter() - started, 2), "curve": curve, "config": asdict(config)}
