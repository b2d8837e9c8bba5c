"""Trainer callbacks: code of the user's that runs at fixed points of training (logging, trackers, stopping).

A callback is any object with some of these methods; each gets the :class:`~rnnkit.train.trainer.Trainer` and
what just happened, and may return True to stop training (the epoch in progress ends at the next batch
boundary, is evaluated and checkpointed, and the run ends as if its epochs were done)::

    from rnnkit.train import Callback

    class PrintLoss(Callback):
        def on_step_end(self, trainer, step, loss):       # after every optimizer step (loss: the batch's mean)
            ...
        def on_validation_end(self, trainer, metrics):    # after each epoch's evaluation (valid_* metrics)
            ...
        def on_epoch_end(self, trainer, record):          # the epoch's record, as written to metrics.jsonl
            return record["valid_loss"] < 1.0             # True: stop here

Under ``torchrun`` every rank runs the callbacks; a stop asked for on any rank stops all of them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Callback", "EpochRecorder", "run_callbacks"]


class Callback:
    """A callback that does nothing: subclass it and override the methods you need."""

    def on_step_end(self, trainer: Any, step: int, loss: float) -> bool | None:
        """After optimizer step ``step`` (1-based, counted over the whole run); ``loss``: the batch's mean loss."""
        return None

    def on_validation_end(self, trainer: Any, metrics: dict[str, float]) -> bool | None:
        """After the end-of-epoch evaluation, with its metrics (not called for a task without validation)."""
        return None

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> bool | None:
        """After each epoch, with its record (the line appended to ``metrics.jsonl``)."""
        return None


class EpochRecorder(Callback):
    """Keeps every epoch record it sees in ``records``; optionally asks to stop after ``stop_after`` epochs."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.records: list[dict[str, Any]] = []
        self.validations: list[dict[str, float]] = []
        self.steps = 0
        self.stop_after = stop_after

    def on_step_end(self, trainer: Any, step: int, loss: float) -> bool | None:
        self.steps += 1
        return None

    def on_validation_end(self, trainer: Any, metrics: dict[str, float]) -> bool | None:
        self.validations.append(dict(metrics))
        return None

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> bool | None:
        self.records.append(dict(record))
        return self.stop_after is not None and len(self.records) >= self.stop_after


def run_callbacks(callbacks: Sequence[Any], method: str, trainer: Any, *args: Any) -> bool:
    """Call ``method`` on each callback that has it; True when any of them asks to stop."""
    stop = False
    for callback in callbacks:
        hook = getattr(callback, method, None)
        if hook is not None and hook(trainer, *args):
            stop = True
    return stop
