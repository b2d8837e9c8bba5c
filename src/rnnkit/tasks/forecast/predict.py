"""A trained forecaster put to use: forecast past the end of a file, and evaluate against the baselines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.readers.timeseries import TimeSeries
from ...models.forecaster import Forecast, Forecaster, ForecasterConfig
from ...train.checkpoint import load_model_weights
from ..export_graphs import export_forecaster
from ..run_dir import read_run_config, run_settings
from .data import NAME, SeriesConfig, SeriesData, origins_in, window_batch
from .metrics import baseline_forecasts, earliest_seasonal_origin, error_metrics
from .plots import date_ticks, plot_forecast
from .stream import ForecastStream

CHUNK = 256  # forecast origins per forward pass


class ForecastPredictor:
    """The verbs of a forecasting run: :meth:`forecast` and :meth:`evaluate`."""

    task = NAME

    def __init__(self, model: Forecaster, series: SeriesConfig) -> None:
        self.model, self.series = model.eval(), series

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> ForecastPredictor:
        """Rebuild the model (weights and scaler statistics) from a run directory (no pickle)."""
        run_dir = Path(run_dir)
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"model": ForecasterConfig, "series": SeriesConfig})
        model_config, series = settings["model"], settings["series"]
        model = Forecaster(model_config)
        load_model_weights(run_dir / "model.safetensors", model)
        return cls(model.to(device), series)

    @property
    def window(self) -> int:
        return self.series.window

    def read(self, data: SeriesData | TimeSeries) -> TimeSeries:
        """The series of a CSV file or of columns in memory, read as the run's training data was."""
        return data if isinstance(data, TimeSeries) else self.series.read(data)

    def _predict(self, values: np.ndarray, origins: np.ndarray, horizon: int, level: float,
                 where: str = "data") -> Forecast:
        """Forecasts from the windows ending at ``origins``, chunk by chunk: ``(B, H, K)`` each."""
        raw = torch.from_numpy(values)
        if self.model.config.transform == "log" and bool((raw <= 0).any()):
            raise ValueError(f"{where}: transform 'log': the series has values <= 0; expected positive values only")
        parts = []
        generator = torch.Generator().manual_seed(0)  # sampled intervals are reproducible
        for start in range(0, len(origins), CHUNK):
            chunk = torch.from_numpy(origins[start : start + CHUNK])
            parts.append(self.model.predict(window_batch(raw, chunk, self.window), horizon, level,
                                            generator=generator))

        def join(name: str) -> np.ndarray | None:
            if getattr(parts[0], name) is None:
                return None
            return torch.cat([getattr(part, name) for part in parts]).numpy()

        return Forecast(join("mean"), join("lower"), join("upper"), parts[0].level)

    def forecast(self, data: SeriesData | TimeSeries, horizon: int | None = None, level: float | None = None,
                 plot: Path | None = None) -> dict[str, Any]:
        """Forecast the ``horizon`` steps after the last row of ``data`` (read as the run's training data).

        Returns ``{"columns", "origin", "horizon", "forecast": H x K, "lower"/"upper" (Gaussian head), "level"}``.
        """
        series = self.read(data)
        horizon = self.model.config.horizon if horizon is None else horizon
        level = self.series.level if level is None else level
        if len(series) < self.window:
            raise ValueError(f"{series.path}: {len(series)} rows; the model reads windows of {self.window} rows: "
                             "the series is shorter than the window")
        origin = np.array([len(series) - 1])
        result = self._predict(series.values, origin, horizon, level, series.path)
        record: dict[str, Any] = {"columns": series.columns[: series.num_targets], "origin": series.dates[-1],
                                  "horizon": horizon, "forecast": result.mean[0].tolist()}
        if result.lower is not None:
            record.update(lower=result.lower[0].tolist(), upper=result.upper[0].tolist(), level=level)
        if plot is not None:
            first = max(0, len(series) - max(4 * horizon, 3 * self.window))
            end = len(series) + horizon
            plot_forecast(plot, range(first, len(series)), series.targets[first:],
                          range(len(series), end), result.mean[0],
                          None if result.lower is None else result.lower[0],
                          None if result.upper is None else result.upper[0], labels=record["columns"],
                          title=f"forecast of {horizon} steps after {series.dates[-1]}",
                          tick_labels=date_ticks(series.dates, first, len(series)))
            record["plot"] = str(plot)
        return record

    def stream(self, horizon: int | None = None, level: float | None = None) -> ForecastStream:
        """A stream fed new observations: the forecast after each new row, from the window ending there (see
        :class:`~rnnkit.tasks.forecast.stream.ForecastStream`)."""
        return ForecastStream(self, horizon=horizon, level=level)

    def evaluate(self, data: SeriesData | TimeSeries, horizon: int | None = None, last_fraction: float | None = None,
                 seasonal_period: int | None = None, level: float | None = None,
                 plot: Path | None = None) -> dict[str, Any]:
        """Rolling-origin forecasts over ``data`` (its last ``last_fraction`` of rows, or all) and their errors
        beside persistence and seasonal naive (see :mod:`~rnnkit.tasks.forecast.metrics`)."""
        series = self.read(data)
        start = 0
        if last_fraction is not None:
            if not 0 < last_fraction <= 1:
                raise ValueError(f"--last-fraction: got {last_fraction}; expected a fraction in (0, 1]")
            start = len(series) - round(len(series) * last_fraction)
        return self.evaluate_rows(series, start, len(series), horizon, seasonal_period, level, plot)

    def evaluate_rows(self, series: TimeSeries, start: int, end: int, horizon: int | None = None,
                      seasonal_period: int | None = None, level: float | None = None,
                      plot: Path | None = None) -> dict[str, Any]:
        """Errors of the forecasts whose targets lie in rows [start, end) (windows may reach back before start)."""
        horizon = self.model.config.horizon if horizon is None else horizon
        period = self.series.seasonal_period if seasonal_period is None else seasonal_period
        level = self.series.level if level is None else level
        if horizon < 1 or period < 1:
            raise ValueError(f"horizon and seasonal period: got {horizon} and {period}; expected positive integers")
        origins = origins_in(start, end, self.window, horizon, earliest_seasonal_origin(period))
        if not len(origins):
            raise ValueError(f"{series.path}: no forecast origin in rows {start}..{end} with a window of "
                             f"{self.window} rows, {period} rows of season and a horizon of {horizon} behind and "
                             "ahead of it: the series is shorter than the window")
        targets = series.targets  # (N, K)
        steps = np.arange(1, horizon + 1)
        truth = targets[origins[:, None] + steps[None, :]]  # (B, H, K)
        last = targets[origins][:, None, :]  # (B, 1, K)
        result = self._predict(series.values, origins, horizon, level, series.path)
        record: dict[str, Any] = {"origins": len(origins), "horizon": horizon, "seasonal_period": period,
                                  "first_target_date": series.dates[origins[0] + 1],
                                  "last_target_date": series.dates[origins[-1] + horizon]}
        record.update(error_metrics(truth, result.mean, last))
        for name, prediction in baseline_forecasts(targets, origins, horizon, period).items():
            scores = error_metrics(truth, prediction, last)
            if name == "persistence":  # predicts no change, so no direction: score "always up" in its place
                del scores["directional_accuracy"]
                moved = np.sign(truth - last)
                record["always_up_directional_accuracy"] = (float(np.mean(moved[moved != 0] > 0))
                                                            if (moved != 0).any() else None)
            record.update({f"{name}_{key}": value for key, value in scores.items()})
        record["beats_persistence"] = record["rmse"] < record["persistence_rmse"]
        record["beats_seasonal_naive"] = record["rmse"] < record["seasonal_naive_rmse"]
        if result.lower is not None:
            inside = (truth >= result.lower) & (truth <= result.upper)
            record.update(interval_level=level, interval_coverage=float(inside.mean()))
        if plot is not None:
            first = max(0, origins[0] + 1 - 2 * len(origins))
            x = origins + 1
            shown = "one step ahead" if horizon == 1 else f"step 1 of {horizon} shown; over all {horizon} steps"
            title = (f"{shown}: RMSE {record['rmse']:.4g} (persistence {record['persistence_rmse']:.4g}, "
                     f"seasonal naive {record['seasonal_naive_rmse']:.4g})")
            plot_forecast(plot, range(first, origins[0] + 2), targets[first : origins[0] + 2], x, result.mean[:, 0],
                          None if result.lower is None else result.lower[:, 0],
                          None if result.upper is None else result.upper[:, 0], truth=truth[:, 0],
                          labels=series.columns[: series.num_targets], title=title,
                          tick_labels=date_ticks(series.dates, first, int(x[-1]) + 1))
            record["plot"] = str(plot)
        return record

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            scaler and series settings.
        """
        return export_forecaster(self, path, format)


__all__ = ["ForecastPredictor"]
