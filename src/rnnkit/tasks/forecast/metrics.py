"""Forecast errors and the simple baselines every forecast is printed beside.

For forecasts y_hat and true values y over the same (origin, step, target) triples:

    MAE  = mean |y - y_hat|            RMSE = sqrt(mean (y - y_hat)^2)
    MAPE = 100 mean |y - y_hat| / |y|   (over y != 0 only; None when every y is 0)
    sMAPE = 100 mean 2 |y - y_hat| / (|y| + |y_hat|)   (a term with y = y_hat = 0 counts 0)
    directional accuracy = share of steps where sign(y_hat_{o+h} - y_o) = sign(y_{o+h} - y_o), ties in y left out

Baselines at origin o for step h: persistence y_hat = y_o; seasonal naive y_hat = y_{o + h - m ceil(h/m)}, the
value one season (period m) before, as seen from the origin.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["baseline_forecasts", "earliest_seasonal_origin", "error_metrics"]


def error_metrics(truth: np.ndarray, prediction: np.ndarray, last: np.ndarray | None = None) -> dict[str, float | None]:
    """MAE, RMSE, MAPE, sMAPE (and directional accuracy when ``last (B, 1, K)``, the origin's values, is given)
    of ``prediction`` against ``truth``, both ``(B, H, K)``."""
    truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    error = prediction - truth
    nonzero = truth != 0
    denominator = np.abs(truth) + np.abs(prediction)
    symmetric = np.where(denominator > 0, 2 * np.abs(error) / np.where(denominator > 0, denominator, 1), 0.0)
    metrics: dict[str, float | None] = {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(math.sqrt(np.mean(error**2))),
        "mape": float(100 * np.mean(np.abs(error[nonzero]) / np.abs(truth[nonzero]))) if nonzero.any() else None,
        "smape": float(100 * np.mean(symmetric)),
    }
    if last is not None:
        true_change, predicted_change = np.sign(truth - last), np.sign(prediction - last)
        moved = true_change != 0
        metrics["directional_accuracy"] = (float(np.mean(true_change[moved] == predicted_change[moved]))
                                           if moved.any() else None)
    return metrics


def baseline_forecasts(targets: np.ndarray, origins: np.ndarray, horizon: int,
                       seasonal_period: int) -> dict[str, np.ndarray]:
    """Persistence and seasonal-naive forecasts ``(B, H, K)`` from the target values ``targets (N, K)``.

    Every origin must satisfy ``origin + 1 - seasonal_period >= 0`` (see :func:`earliest_seasonal_origin`).
    """
    steps = np.arange(1, horizon + 1)  # (H,)
    persistence = np.repeat(targets[origins][:, None, :], horizon, axis=1)
    back = seasonal_period * np.ceil(steps / seasonal_period).astype(int)  # (H,)
    rows = origins[:, None] + steps[None, :] - back[None, :]  # (B, H)
    if rows.size and rows.min() < 0:
        raise ValueError(f"seasonal period {seasonal_period}: an origin has less than one season of history")
    return {"persistence": persistence, "seasonal_naive": targets[rows]}


def earliest_seasonal_origin(seasonal_period: int) -> int:
    """The first origin with a full season behind it (for every step h)."""
    return seasonal_period - 1
