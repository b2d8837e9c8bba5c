"""A forecaster fed a series row by row: after each new observation, the forecast of the steps after it.

A forecaster reads a window of the last ``window`` rows (it was trained on such windows, normalised and, with
``relative``, measured from the window's last level), so its state between pieces is that window: the last rows
seen, not a recurrent state carried from the series' start (which the model never saw in training and which
would give other forecasts). Each new row completes a window ending at it, and the forecast from that window is
the one :meth:`~rnnkit.tasks.forecast.predict.ForecastPredictor.forecast` gives for the history up to that row.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from ..streaming import Stream

__all__ = ["ForecastStream"]


class ForecastStream(Stream):
    """Streaming forecasts (see the module docstring).

    Args:
        predictor: the loaded forecasting run.
        horizon: steps to forecast after each row (default: the run's horizon).
        level: the central interval's probability, for a Gaussian head (default: the run's).

    A piece is one or more rows of the run's columns in its order (targets, then features): a number (a series
    of one column), a list of numbers (one column: that many rows; several columns: one row), or rows
    ``(N, F)``. Each step of :meth:`feed`: ``{"step": rows seen, "forecast": H x K or None while fewer than
    ``window`` rows have been seen}``, with ``"lower"``, ``"upper"`` and ``"level"`` for a Gaussian head.
    :attr:`state` is the window: the last rows seen ``(<= window, F)``.
    """

    def __init__(self, predictor: Any, horizon: int | None = None, level: float | None = None) -> None:
        config = predictor.model.config
        self.predictor = predictor
        self.horizon = config.horizon if horizon is None else horizon
        self.level = predictor.series.level if level is None else level
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"horizon: got {self.horizon!r}; expected a positive integer")
        if config.strategy == "direct" and self.horizon > config.horizon:
            raise ValueError(f"horizon: got {self.horizon}; this direct model was trained for at most {config.horizon} "
                             "steps")
        if not 0 < self.level < 1:
            raise ValueError(f"level: got {self.level!r}; expected a probability in (0, 1)")
        self.columns = config.input_size
        # sampled intervals (autoregressive Gaussian) are drawn per forecast as forecast() draws them
        self._one_by_one = config.strategy == "autoregressive" and config.gaussian
        super().__init__()

    def _start(self) -> None:
        self._window = np.empty((0, self.columns))

    @property
    def state(self) -> np.ndarray:
        return self._window.copy()

    def _rows(self, piece: Any) -> np.ndarray:
        expected = (f"a number, a list of numbers or rows of {self.columns} numbers (the run's columns: "
                    f"{', '.join(self.predictor.series.targets + list(self.predictor.series.features))})")
        if isinstance(piece, Real) and not isinstance(piece, bool):
            piece = [piece]
        if isinstance(piece, str | bytes | dict) or piece is None:
            raise ValueError(f"piece: got {type(piece).__name__}; expected {expected}")
        try:
            rows = np.asarray(piece, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"piece: got {str(piece)[:40]!r}; expected {expected}") from None
        if rows.ndim == 1:
            rows = rows.reshape(-1, 1) if self.columns == 1 else rows.reshape(1, -1)
        if rows.ndim != 2 or (rows.size and rows.shape[1] != self.columns):
            raise ValueError(f"piece: got shape {rows.shape}; expected {expected}")
        if not np.isfinite(rows).all():
            raise ValueError(f"piece: got a value that is not finite; expected {expected}")
        if self.predictor.model.config.transform == "log" and bool((rows <= 0).any()):
            raise ValueError("piece: got a value <= 0; this run's transform 'log' needs positive values only")
        return rows.reshape(-1, self.columns)

    def _feed(self, piece: Any) -> list[dict[str, Any]]:
        rows = self._rows(piece)
        if not len(rows):
            return []
        window = self.predictor.window
        values = np.concatenate([self._window, rows])  # the kept window, then the new rows
        first_new = len(self._window)
        origins = np.arange(max(first_new, window - 1), len(values))  # new rows that end a full window
        forecasts = None
        if len(origins):
            where = f"piece (rows {self.steps + 1}..{self.steps + len(rows)})"
            if self._one_by_one:
                parts = [self.predictor._predict(values, origins[i : i + 1], self.horizon, self.level, where)
                         for i in range(len(origins))]
                forecasts = [(part.mean[0], None if part.lower is None else (part.lower[0], part.upper[0]))
                             for part in parts]
            else:
                result = self.predictor._predict(values, origins, self.horizon, self.level, where)
                forecasts = [(result.mean[i], None if result.lower is None else (result.lower[i], result.upper[i]))
                             for i in range(len(origins))]
        results = []
        for index in range(first_new, len(values)):
            step: dict[str, Any] = {"step": self.steps + index - first_new + 1, "forecast": None}
            if forecasts is not None and index >= origins[0]:
                mean, interval = forecasts[index - origins[0]]
                step["forecast"] = mean.tolist()
                if interval is not None:
                    step.update(lower=interval[0].tolist(), upper=interval[1].tolist(), level=self.level)
            results.append(step)
        self._window = values[-window:]
        return results
