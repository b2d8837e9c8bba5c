"""The training loop every task shares: backpropagation through time, clipping, schedules, checkpoints.

The trainer knows nothing of tasks. It takes a model, a function that yields the batches of an epoch, a loss
function and a :class:`~rnnkit.train.config.TrainConfig`::

    step = loss_fn(model, batch, state)        # StepResult(loss_sum, count, state, tokens)
    loss = step.loss_sum / step.count           # mean over the valid (non-pad) positions of the batch
    loss.backward()                             # backpropagation through time over the batch's window
    clip, optimizer step, state = detach(step.state)

A stateful task (a language model reading long streams) returns the final hidden state of each window; the
trainer detaches it (the truncation of truncated BPTT) and hands it to the next window, and resets it to None
at each epoch. Batches of an epoch must depend only on (seed, epoch), so a resumed run sees the same data.

Under ``torchrun`` (a ``distributed`` context with several ranks) every rank iterates over the same global
batches and trains on its own rows of each (``shard``); the loss is normalised by the count summed over the
ranks, so the averaged gradients are those of one process on the whole batch::

    loss_r = W * loss_sum_r / sum_r count_r     # DDP averages over the W ranks: sum_r grad(loss_sum_r) / count

Epoch metrics are summed over the ranks, and a stop (Ctrl-C, the time budget, a callback) on any rank stops
them all at the same batch. Callbacks (:mod:`rnnkit.train.callbacks`) see every step, evaluation and epoch.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .atomic import append_jsonl
from .callbacks import run_callbacks
from .checkpoint import (
    has_checkpoint,
    latest_checkpoint,
    load_training_state,
    save_model_weights,
    save_training_state,
)
from .config import TrainConfig
from .distributed import DistributedContext, all_reduce_sum, shard_batch
from .divergence import TrainingDiverged, guards_for
from .events import EventWriter
from .progress import Progress, epoch_line
from .resume_state import checked_trainer_state


@dataclass
class StepResult:
    """What a task's loss function returns for one batch."""

    loss_sum: Tensor  # summed over the counted positions
    count: int  # positions counted (tokens, sequences)
    state: Any = None  # the state to carry into the next batch (stateful tasks), else None
    tokens: int = 0  # input tokens processed, for tokens/s
    padded_tokens: int = 0  # the batch's slots with padding (rows x longest), for the padding share; 0: not said


class TrainingInterrupted(RuntimeError):
    """Ctrl-C: the state was saved and the run can be resumed with --resume."""


@dataclass
class TrainerState:
    """Counters that a checkpoint carries so that a resumed run continues exactly."""

    epoch: int = 0  # the epoch in progress (0-based)
    batch: int = 0  # batches of that epoch already done
    step: int = 0  # optimizer steps in total
    plateau_factor: float = 1.0  # learning-rate factor from the epoch-level decays (plateau, step)
    best: float | None = None  # best monitored metric so far
    bad_epochs: int = 0  # epochs without improvement (plateau / early stopping)
    seconds: float = 0.0  # time spent training, for the max_seconds budget
    history: list = field(default_factory=list)


LossFn = Callable[[nn.Module, Any, Any], StepResult]
EvaluateFn = Callable[[nn.Module], dict[str, float]]
ShardFn = Callable[[Any, int, int], Any]


def detach_state(state: Any) -> Any:
    """Detach every tensor of a (nested) state: the truncation of truncated BPTT."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(part) for part in state)
    return state


def make_optimizer(parameters: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (with momentum) or AdamW, as the config says."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)


class Trainer:
    """Train ``model`` with ``loss_fn`` over the batches of each epoch; see the module docstring.

    Args:
        model: the model (wrapped in DDP by the caller when distributed).
        config: training settings.
        loss_fn: ``loss_fn(model, batch, state) -> StepResult``.
        batches: ``batches(epoch) -> iterable of batches``, the same for the same (seed, epoch).
        evaluate: ``evaluate(model) -> metrics`` on validation data, run after each epoch (model in eval mode).
        monitor: the metric of ``evaluate`` to select the best model and drive plateau decay and early stopping
            (lower is better); without ``evaluate``, the epoch's training loss.
        run_dir: where ``model.safetensors``, ``metrics.jsonl`` and ``checkpoint/`` go; None keeps nothing.
        steps_per_epoch: batches per epoch, for the progress bar and the cosine schedule.
        is_main: False on DDP ranks other than 0, which write nothing (taken from ``distributed`` when given).
        show_perplexity: show exp(loss) in the progress (language models).
        callbacks: objects with ``on_step_end`` / ``on_validation_end`` / ``on_epoch_end`` (any of them).
        distributed: who this process is under ``torchrun``; None or one rank: a single process.
        shard: ``shard(batch, rank, world_size)`` -> this rank's part of a global batch; None when the batches
            are already this rank's own (a language model's streams are split before windowing).
    """

    def __init__(self, model: nn.Module, config: TrainConfig, loss_fn: LossFn,
                 batches: Callable[[int], Iterable[Any]], *, evaluate: EvaluateFn | None = None,
                 monitor: str = "valid_loss", run_dir: Path | None = None, steps_per_epoch: int | None = None,
                 is_main: bool = True, show_perplexity: bool = True, callbacks: Sequence[Any] = (),
                 distributed: DistributedContext | None = None, shard: ShardFn | None = shard_batch) -> None:
        self.distributed = distributed or DistributedContext()
        if distributed is not None:
            is_main = distributed.is_main
        self.shard = shard if self.distributed.enabled else None
        self.callbacks = [*callbacks, *guards_for(config)]  # the divergence guard last: user callbacks see the step
        self.model, self.config, self.loss_fn, self.batches = model, config, loss_fn, batches
        self.evaluate, self.monitor = evaluate, monitor if evaluate is not None else "train_loss"
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None and is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        # TensorBoard scalars in RUN/events when the tensorboard package is installed; otherwise nothing
        self.events = EventWriter(Path(self.run_dir or ".") / "events", enabled=self.run_dir is not None and is_main)
        self.steps_per_epoch = steps_per_epoch
        if config.max_steps_per_epoch is not None and steps_per_epoch is not None:
            self.steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
        self.is_main, self.show_perplexity = is_main, show_perplexity
        self.optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
        self.state = TrainerState()
        self.carried: Any = None  # the hidden state carried between windows (stateful tasks)
        self._interrupted = False
        self._out_of_time = False
        self._stop_asked = False  # by a callback
        self.diverged: str | None = None  # why the divergence guard stopped this rank, if it did

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoint"

    def resume(self) -> None:
        """Continue from the run directory's last checkpoint: weights, optimizer, counters, RNG, carried state."""
        if self.checkpoint_dir is None or not has_checkpoint(self.checkpoint_dir):
            raise FileNotFoundError(f"{self.run_dir}: no checkpoint to resume from")
        saved = load_training_state(self.checkpoint_dir, model=_unwrap(self.model), optimizer=self.optimizer)
        self.carried = saved.pop("carried", None)
        self.state = checked_trainer_state(TrainerState, saved, latest_checkpoint(self.checkpoint_dir) / "trainer.json")

    def learning_rate(self) -> float:
        """Base rate x linear warm-up x cosine decay (per step) x plateau decays (per epoch)."""
        config, step = self.config, self.state.step
        rate = config.lr * self.state.plateau_factor
        if config.warmup_steps and step < config.warmup_steps:
            rate *= (step + 1) / config.warmup_steps
        if config.schedule == "cosine" and self.steps_per_epoch:
            total = max(1, config.epochs * self.steps_per_epoch - config.warmup_steps)
            progress = min(1.0, max(0, step - config.warmup_steps) / total)
            rate *= 0.5 * (1 + math.cos(math.pi * progress))
        return rate

    def fit(self) -> list[dict[str, float]]:
        """Run the remaining epochs; return the per-epoch metrics.

        Ctrl-C (SIGINT) is taken between two batches: the state is saved and TrainingInterrupted raised.
        """
        self._interrupted = self._stop_asked = False
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, self._request_stop)
        try:
            return self._fit()
        finally:
            self.events.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self._interrupted:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._interrupted = True

    def _fit(self) -> list[dict[str, float]]:
        config = self.config
        while self.state.epoch < config.epochs:
            train_metrics = self._train_epoch()
            if self._interrupted:
                self._checkpoint()
                raise TrainingInterrupted(
                    f"interrupted in epoch {self.state.epoch + 1} after {self.state.batch} batches; saved in "
                    f"{self.checkpoint_dir}"
                )
            record = {"epoch": self.state.epoch + 1, "step": self.state.step, **train_metrics}
            if self.evaluate is not None:
                self.model.eval()
                with torch.no_grad():  # every rank evaluates the whole validation data: the same numbers
                    metrics = self.evaluate(_unwrap(self.model))
                record.update(metrics)
                self._stop_asked |= run_callbacks(self.callbacks, "on_validation_end", self, metrics)
            record["lr"] = self.learning_rate()
            stop = self._end_of_epoch(record)
            self._stop_asked |= run_callbacks(self.callbacks, "on_epoch_end", self, record)
            if stop or self._out_of_time or self._agreed(self._stop_asked):
                break
        return self.state.history

    def _agreed(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank (``flag`` itself for a single process)."""
        if not self.distributed.enabled:
            return flag
        return all_reduce_sum([float(flag)], self._reduce_device())[0] > 0

    def _reduce_device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _train_epoch(self) -> dict[str, float]:
        config, state = self.config, self.state
        self.model.train()
        mode = "quiet" if not self.is_main else Progress.choose_mode(config.quiet, sys.stderr)
        description = f"epoch {state.epoch + 1}/{config.epochs}"
        if config.max_seconds is not None:  # a time budget ends the run, most likely before the last epoch
            description = f"epoch {state.epoch + 1} ({max(0.0, config.max_seconds - state.seconds):.0f} s left)"
        progress = Progress(self.steps_per_epoch, description, mode,
                            log_every=config.log_every, show_perplexity=self.show_perplexity,
                            summary_follows=self.evaluate is not None)
        total_loss, total_count, tokens, started = 0.0, 0, 0, time.perf_counter()
        carried = self.carried if state.batch else None
        with progress:
            for index, batch in enumerate(self.batches(state.epoch)):
                if index < state.batch:
                    continue  # resumed mid-epoch: these batches were trained on before the stop
                if config.max_steps_per_epoch is not None and index >= config.max_steps_per_epoch:
                    break
                if self.shard is not None:
                    batch = self.shard(batch, self.distributed.rank, self.distributed.world_size)
                    if batch is None:  # fewer rows than ranks (a last, short batch): no rank trains on it
                        state.batch = index + 1
                        continue
                self.carried = carried
                result = self._train_step(batch, carried)
                carried = detach_state(result.state)
                state.batch = index + 1
                self.carried = carried
                loss_sum = float(result.loss_sum.detach())
                batch_loss = loss_sum / max(result.count, 1)
                total_loss += loss_sum
                total_count += result.count
                tokens += result.tokens
                progress.update(1, tokens=result.tokens, loss=batch_loss, lr=self.learning_rate(),
                                padded_tokens=result.padded_tokens)
                self._stop_asked |= run_callbacks(self.callbacks, "on_step_end", self, state.step, batch_loss)
                budget = config.max_seconds
                out_of_time = budget is not None and state.seconds + time.perf_counter() - started >= budget
                if self._stop_now(out_of_time):
                    break
        elapsed = time.perf_counter() - started
        state.seconds += elapsed
        if self.distributed.enabled:  # the epoch's figures over all ranks' rows
            total_loss, total_count, tokens = all_reduce_sum([total_loss, total_count, tokens], self._reduce_device())
        mean = total_loss / max(total_count, 1)
        metrics = {"train_loss": mean, "tokens_per_second": tokens / elapsed if elapsed else 0.0}
        if self.show_perplexity:
            metrics["train_ppl"] = math.exp(min(mean, 700.0))
        return metrics

    def _stop_now(self, out_of_time: bool) -> bool:
        """Whether to end the epoch after this batch: Ctrl-C, the time budget or a callback, on any rank."""
        flags = [float(self._interrupted), float(out_of_time), float(self._stop_asked),
                 float(self.diverged is not None)]
        if self.distributed.enabled:
            flags = all_reduce_sum(flags, self._reduce_device())
        if flags[3] > 0:  # the divergence guard stopped a rank: every rank raises, none waits for the others
            raise TrainingDiverged(self.diverged or "the loss diverged on another process; stopped, the last good "
                                   "checkpoint is kept: lower --lr or set --clip")
        self._interrupted = self._interrupted or flags[0] > 0
        self._out_of_time = self._out_of_time or flags[1] > 0
        self._stop_asked = self._stop_asked or flags[2] > 0
        return any(flag > 0 for flag in flags)

    def _train_step(self, batch: Any, carried: Any) -> StepResult:
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        with torch.autocast("cpu" if config.device == "cpu" else "cuda", dtype=torch.bfloat16, enabled=config.bf16):
            result = self.loss_fn(self.model, batch, carried)
        loss_sum = result.loss_sum.float()
        count = max(result.count, 1)
        if self.distributed.enabled:  # every rank's count, and whether any rank's loss is not finite
            total, bad = all_reduce_sum([result.count, float(not torch.isfinite(loss_sum))], loss_sum.device)
            count = max(total, 1.0) / self.distributed.world_size
            if bad > 0:
                loss_sum = loss_sum + float("nan")
        loss = loss_sum / count
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {float(loss)} at step {self.state.step + 1} (epoch {self.state.epoch + 1}); "
                "the last good checkpoint is kept: lower --lr or set --clip"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_norm)
        if config.clip_value is not None:
            nn.utils.clip_grad_value_(self.model.parameters(), config.clip_value)
        self.optimizer.step()
        self.state.step += 1
        return result

    def _end_of_epoch(self, record: dict[str, float]) -> bool:
        """Best model, plateau decay, early stopping, metrics and checkpoint; return True to stop."""
        config, state = self.config, self.state
        value = record.get(self.monitor)
        improved = value is not None and (state.best is None or value < state.best)
        if improved:
            state.best, state.bad_epochs = value, 0
        else:
            state.bad_epochs += 1
            if config.schedule == "plateau" and state.bad_epochs > config.plateau_patience:
                state.plateau_factor *= config.lr_decay
        if config.schedule == "step" and state.epoch + 1 >= config.decay_start:
            state.plateau_factor *= config.lr_decay
        state.history.append(record)
        if self.is_main and not config.quiet and self.evaluate is not None:  # one line a person reads per epoch
            best_epoch = next((r["epoch"] for r in state.history if r.get(self.monitor) == state.best), None)
            print(epoch_line(record, self.monitor, improved, state.best, best_epoch,
                             None if config.max_seconds is not None else config.epochs), file=sys.stderr, flush=True)
        state.epoch, state.batch = state.epoch + 1, 0
        self.carried = None
        stop = config.early_stopping_patience is not None and state.bad_epochs > config.early_stopping_patience
        if self.run_dir is not None and self.is_main:
            if improved or self.evaluate is None:
                save_model_weights(self.run_dir / "model.safetensors", _unwrap(self.model))
            append_jsonl(self.run_dir / "metrics.jsonl", record)
            self.events.add_scalars(state.step, {k: v for k, v in record.items() if k not in ("epoch", "step")},
                                    prefix="epoch")
        self._checkpoint()
        return stop

    def _checkpoint(self) -> None:
        if self.checkpoint_dir is None or not self.is_main:
            return
        trainer_state = {**self.state.__dict__, "carried": self.carried}
        save_training_state(self.checkpoint_dir, model=_unwrap(self.model), optimizer=self.optimizer,
                            trainer_state=trainer_state)


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper, or the model itself."""
    return getattr(model, "module", model)
