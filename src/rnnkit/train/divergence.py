"""The divergence guard: a run whose loss blows up (finite, so the NaN check misses it) is stopped, not finished.

A loss of 1e7 is a finite number; without this guard such a run trains to its last epoch, saves a useless model
and exits 0. The guard watches the loss of every optimizer step::

    start    = the loss of the first step, taken before any update    (a fresh network's loss: the uniform guess
                                                                         for a classifier or a language model)
    smoothed = 0.9 * smoothed + 0.1 * loss                             (from ``start``; one bad batch is no verdict)
    after the warm-up (``divergence_warmup`` steps):
        smoothed > divergence_factor * start           -> diverged
        smoothed >= start after ``stall_steps`` steps  -> no better than at the start (uniform): stopped

The Trainer then raises :class:`~rnnkit.train.trainer.TrainingDiverged` on every rank: nothing of the epoch in
progress is saved, so the last good checkpoint and the best epoch's ``model.safetensors`` stay, and ``rnnkit train``
exits 1. Both checks are settings of :class:`~rnnkit.train.config.TrainConfig` (``--divergence-factor``,
``--divergence-warmup``, ``--stall-steps``); a factor of None switches the first off, ``stall_steps`` None (the
default) the second.
"""

from __future__ import annotations

import math
from typing import Any

from .callbacks import Callback

__all__ = ["DivergenceGuard", "TrainingDiverged", "guards_for"]

SMOOTHING = 0.1  # weight of the newest step in the smoothed loss


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or diverged (see the module docstring); the last good checkpoint is kept.
    (Defined here, where the guard raises it; :mod:`rnnkit.train.trainer` exports it as before.)"""


class DivergenceGuard(Callback):
    """Stops training whose smoothed loss rises above ``factor`` x its start, or (``stall_steps``) has not fallen
    below its start after that many steps; see the module docstring."""

    def __init__(self, factor: float | None = 10.0, warmup_steps: int = 50, stall_steps: int | None = None) -> None:
        self.factor, self.warmup_steps, self.stall_steps = factor, warmup_steps, stall_steps
        self.start: float | None = None
        self.smoothed: float | None = None
        self.steps = 0

    def on_step_end(self, trainer: Any, step: int, loss: float) -> bool | None:
        self.steps += 1
        if not math.isfinite(loss):
            return None  # the trainer's own NaN/inf check stops these
        if self.start is None:  # later steps' losses already carry the updates (one huge step is enough to diverge)
            self.start = self.smoothed = loss
            return None
        self.smoothed = (1 - SMOOTHING) * self.smoothed + SMOOTHING * loss
        if self.steps <= self.warmup_steps:
            return None
        where = f"step {step}"
        if self.factor is not None and self.smoothed > self.factor * max(self.start, 1e-12):
            return self._stop(trainer, f"the loss diverged: {self.smoothed:.4g} (smoothed) at {where}, over "
                                       f"{self.factor:g} x its starting {self.start:.4g}")
        if self.stall_steps is not None and self.steps >= self.stall_steps and self.smoothed >= self.start:
            return self._stop(trainer, f"the loss is no better than at the start after {self.steps} steps "
                                       f"({self.smoothed:.4g} >= {self.start:.4g}, a uniform guess)")
        return None

    def _stop(self, trainer: Any, why: str) -> bool:
        message = (f"{why}; stopped, the last good checkpoint is kept: lower --lr or set --clip "
                   "(--divergence-factor, --stall-steps change the guard)")
        if not hasattr(trainer, "diverged"):  # a caller's own loop: stop it here
            raise TrainingDiverged(message)
        # The Trainer raises after its ranks agree (under torchrun each rank sees only its own rows' loss: one
        # rank raising alone would leave the others waiting in the next all-reduce).
        trainer.diverged = message
        return True


def guards_for(config: Any) -> list[DivergenceGuard]:
    """The guard a :class:`~rnnkit.train.config.TrainConfig` asks for (none when both checks are off)."""
    factor = getattr(config, "divergence_factor", None)
    stall = getattr(config, "stall_steps", None)
    if factor is None and stall is None:
        return []
    return [DivergenceGuard(factor, getattr(config, "divergence_warmup", 50), stall)]
