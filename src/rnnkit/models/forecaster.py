"""Forecaster: a window of a multivariate history -> the next value, or the next H values, with intervals.

The input ``x (B, T, F)`` holds the K target columns first, then F - K extra features. Values are normalised
inside the model by a scaler *fitted on the training part only* (:meth:`Forecaster.fit_scaler`; its statistics
are buffers, saved with the weights)::

    z = (g(x) - center) / scale           g = identity, or log for transform="log" (positive series)

Two ways to reach H steps ahead:

- ``strategy="direct"``: the last hidden state h_T feeds a linear head that emits all H steps at once,
  ``y_hat (B, H, K)``; trained on the H true values that follow each window.
- ``strategy="autoregressive"``: at every step t the head predicts the next input vector z_{t+1} (all F columns,
  so the features can be rolled forward too); trained on every position (one-step-ahead), and H steps are
  forecast by feeding each prediction back in.

``relative=True`` makes the network work around the last observed level: the targets' last value is
subtracted from the window's target columns, and the head predicts the change from it (a learned correction on
top of persistence) -- what lets a model trained on one range of levels forecast another.

With ``gaussian=True`` the head emits a mean mu and a log-variance s per value and is trained by the Gaussian
negative log-likelihood ``0.5 * (s + (y - mu)^2 / exp(s) + log 2 pi)``; intervals are mu +- z sigma (direct) or
quantiles of sampled paths (autoregressive), mapped back through the scaler (a monotone map keeps quantiles).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..nn import GRU, LSTM, RNN
from ..train.config import setting, validate_field_types

__all__ = ["Forecast", "Forecaster", "ForecasterConfig", "forecast_loss"]

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
STRATEGIES = ("direct", "autoregressive")
TRANSFORMS = ("none", "log")
LOG_VARIANCE_RANGE = (-12.0, 12.0)


@dataclass(frozen=True)
class ForecasterConfig:
    """Shape and options of a :class:`Forecaster`; saved in the run's config.json.

    Attributes:
        input_size: F, columns per step (targets first).
        num_targets: K, the first K columns are forecast.
        horizon: H, steps the direct head emits (the longest forecast of a direct model).
        strategy: ``"direct"`` or ``"autoregressive"``.
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        hidden_size: hidden units per layer.
        num_layers: stacked recurrent layers.
        dropout: dropout between layers and before the head.
        gaussian: emit a mean and a log-variance (prediction intervals) instead of a point.
        relative: work around the last observed target level (see the module docstring).
        transform: ``"none"`` or ``"log"`` (every column must then be > 0).
    """

    input_size: int = setting(1, flag=None, help="input features per step, targets first (set from the data's "
                                                 "columns)")
    num_targets: int = setting(1, flag=None, help="target columns forecast, the first of the inputs (set from the "
                                                  "data's target columns)")
    horizon: int = setting(1, help="steps ahead to forecast")
    strategy: str = setting("direct", help="direct (all H steps at once) or autoregressive (feed back)",
                            choices=STRATEGIES)
    cell: str = setting("lstm", help="recurrent cell", choices=tuple(CELLS))
    hidden_size: int = setting(32, help="hidden units per layer")
    num_layers: int = setting(1, help="stacked recurrent layers")
    dropout: float = setting(0.0, help="dropout between layers and before the head")
    gaussian: bool = setting(False, help="a Gaussian head (mean, log-variance): intervals")
    relative: bool = setting(False, help="forecast the change from the last observed level")
    transform: str = setting("none", help="none or log (positive series with multiplicative seasons)",
                             choices=TRANSFORMS)

    def __post_init__(self) -> None:
        validate_field_types(self)
        for name in ("input_size", "num_targets", "horizon", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; expected a positive integer")
        if self.num_targets > self.input_size:
            raise ValueError(f"num_targets: got {self.num_targets}; expected at most input_size = {self.input_size}")
        for name, options in (("strategy", STRATEGIES), ("cell", tuple(CELLS)), ("transform", TRANSFORMS)):
            if getattr(self, name) not in options:
                raise ValueError(f"{name}: got {getattr(self, name)!r}; expected one of {', '.join(options)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: got {self.dropout}; expected a probability in [0, 1)")

    @property
    def outputs_per_step(self) -> int:
        """Values predicted per forecast step: K (direct) or F (autoregressive predicts the whole next input)."""
        return self.num_targets if self.strategy == "direct" else self.input_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Forecast:
    """Forecasts in the data's units: ``mean (B, H, K)`` and, with a Gaussian head, ``lower``/``upper``."""

    mean: Tensor
    lower: Tensor | None = None
    upper: Tensor | None = None
    level: float | None = None


def forecast_loss(mean: Tensor, log_variance: Tensor | None, target: Tensor) -> Tensor:
    """Summed squared error, or summed Gaussian NLL ``0.5 (s + (y - mu)^2 e^{-s} + log 2 pi)`` with a log-variance."""
    if log_variance is None:
        return ((mean - target) ** 2).sum()
    return 0.5 * (log_variance + (target - mean) ** 2 * torch.exp(-log_variance) + math.log(2 * math.pi)).sum()


class Forecaster(nn.Module):
    """Recurrent forecaster (see the module docstring); ``forward`` works in normalised units."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.recurrent = CELLS[config.cell](config.input_size, config.hidden_size, num_layers=config.num_layers,
                                            dropout=config.dropout if config.num_layers > 1 else 0.0,
                                            batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        per_step = config.outputs_per_step * (2 if config.gaussian else 1)
        steps = config.horizon if config.strategy == "direct" else 1
        self.head = nn.Linear(config.hidden_size, steps * per_step)
        self.register_buffer("center", torch.zeros(config.input_size, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(config.input_size, dtype=torch.float64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    # ---- scaling: statistics of the training part only -------------------------------------------------
    def _transform(self, values: Tensor) -> Tensor:
        if self.config.transform == "log":
            if bool((values <= 0).any()):
                raise ValueError("transform 'log': the series has values <= 0; expected positive values only")
            return torch.log(values)
        return values

    def fit_scaler(self, train_values: np.ndarray | Tensor) -> None:
        """Fit the per-column center and scale on ``train_values (N, F)``: the training part, nothing else."""
        values = self._transform(torch.as_tensor(np.asarray(train_values), dtype=torch.float64))
        if values.ndim != 2 or values.shape[1] != self.config.input_size:
            raise ValueError(f"fit_scaler: got shape {tuple(values.shape)}; expected (N, {self.config.input_size})")
        std = values.std(dim=0, unbiased=False)
        self.center.copy_(values.mean(dim=0))
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        self.fitted.fill_(True)

    def normalize(self, values: Tensor) -> Tensor:
        """Raw values ``(..., F)`` -> normalised float32 ``(..., F)``."""
        if not bool(self.fitted):
            raise RuntimeError("the scaler is not fitted: call fit_scaler on the training part first")
        values = self._transform(values.to(torch.float64))
        return ((values - self.center) / self.scale).float()

    def denormalize(self, values: Tensor, columns: slice | None = None) -> Tensor:
        """Normalised ``(..., C)`` -> raw float64 values of the columns ``columns`` (default: the targets)."""
        columns = columns or slice(0, self.config.num_targets)
        raw = values.to(torch.float64) * self.scale[columns] + self.center[columns]
        return torch.exp(raw) if self.config.transform == "log" else raw

    # ---- the network ---------------------------------------------------------------------------------------
    def forward(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """Normalised window ``z (B, T, F)`` -> (mean, log-variance or None).

        Direct: ``(B, H, K)`` for the H steps after the window. Autoregressive: ``(B, T, F)``, at position t the
        prediction of z_{t+1}.
        """
        config = self.config
        K = config.num_targets
        if config.relative:
            if config.strategy == "direct":
                level = z[:, -1:, :K]  # (B, 1, K): the last observed target level
            else:
                level = z[:, :, :K]  # (B, T, K): the level at each step
            inputs = torch.cat([z[:, :, :K] - z[:, -1:, :K], z[:, :, K:]], dim=-1)
        else:
            inputs = z
        output, _ = self.recurrent(inputs)  # (B, T, H)
        if config.strategy == "direct":
            output = output[:, -1:]  # (B, 1, H)
        raw = self.head(self.dropout(output))  # (B, 1 or T, steps * per_step * (2 if gaussian))
        batch = z.shape[0]
        per_step = config.outputs_per_step
        if config.strategy == "direct":
            raw = raw.reshape(batch, config.horizon, -1)  # (B, H, P)
        mean = raw[..., :per_step]
        log_variance = raw[..., per_step:].clamp(*LOG_VARIANCE_RANGE) if config.gaussian else None
        if config.relative:
            mean = torch.cat([mean[..., :K] + level, mean[..., K:]], dim=-1)
        return mean, log_variance

    @torch.no_grad()
    def predict(self, history: Tensor, horizon: int | None = None, level: float = 0.9, samples: int = 200,
                generator: torch.Generator | None = None) -> Forecast:
        """Forecast the ``horizon`` steps after each raw window ``history (B, T, F)``, in the data's units.

        A direct model forecasts at most its trained horizon; an autoregressive one any number of steps.
        Intervals (Gaussian head): the central ``level`` interval, from mu +- z sigma per step (direct) or from
        the quantiles of ``samples`` sampled paths (autoregressive, where the uncertainty compounds).
        """
        config = self.config
        horizon = config.horizon if horizon is None else horizon
        if horizon < 1:
            raise ValueError(f"horizon: got {horizon}; expected a positive integer")
        if not 0 < level < 1:
            raise ValueError(f"level: got {level}; expected a probability in (0, 1)")
        if history.ndim != 3 or history.shape[2] != config.input_size:
            raise ValueError(f"history: got shape {tuple(history.shape)}; expected (B, T, {config.input_size})")
        z = self.normalize(history.to(self.center.device))
        quantile = NormalDist().inv_cdf(0.5 + level / 2)
        if config.strategy == "direct":
            if horizon > config.horizon:
                raise ValueError(f"horizon: got {horizon}; this direct model was trained for at most "
                                 f"{config.horizon} steps (train with a larger --horizon, or the autoregressive "
                                 "strategy)")
            mean, log_variance = self(z)
            mean = mean[:, :horizon]
            if log_variance is None:
                return Forecast(self.denormalize(mean))
            spread = quantile * torch.exp(0.5 * log_variance[:, :horizon])
            return Forecast(self.denormalize(mean), self.denormalize(mean - spread), self.denormalize(mean + spread),
                            level)
        mean_path = self._roll(z, horizon, None, generator)  # (B, horizon, F)
        point = self.denormalize(mean_path[..., : config.num_targets])
        if not config.gaussian:
            return Forecast(point)
        paths = self._roll(z.repeat_interleave(samples, dim=0), horizon, True, generator)  # (B*S, horizon, F)
        paths = paths[..., : config.num_targets].reshape(z.shape[0], samples, horizon, -1)
        bounds = torch.quantile(paths, torch.tensor([0.5 - level / 2, 0.5 + level / 2]), dim=1)  # (2, B, horizon, K)
        return Forecast(point, self.denormalize(bounds[0]), self.denormalize(bounds[1]), level)

    def _roll(self, z: Tensor, horizon: int, sample: bool | None, generator: torch.Generator | None) -> Tensor:
        """Autoregressive rollout from the normalised windows ``z (B, T, F)``: ``(B, horizon, F)``."""
        window, steps = z, []
        for _ in range(horizon):
            mean, log_variance = self(window)
            step_mean = mean[:, -1:]  # (B, 1, F)
            if sample and log_variance is not None:
                noise = torch.randn(step_mean.shape, generator=generator, device=step_mean.device)
                step_mean = step_mean + torch.exp(0.5 * log_variance[:, -1:]) * noise
            steps.append(step_mean)
            window = torch.cat([window[:, 1:], step_mean], dim=1)
        return torch.cat(steps, dim=1)
