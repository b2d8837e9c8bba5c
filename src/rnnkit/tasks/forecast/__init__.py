"""Forecasting numeric time series: :func:`train_forecaster`, :class:`ForecastPredictor` (forecast, evaluate)
and the task's entry in the registry, :data:`TASK`."""

from ...models.forecaster import ForecasterConfig
from ...train.config import TrainConfig
from ..base import STREAM_SETTINGS, Task
from .data import SeriesConfig
from .predict import ForecastPredictor
from .train import SETTINGS, fit_scaler_on_training_part, train_forecaster

TASK = Task(
    "forecast", "forecast a numeric time series (CSV)",
    "Train a recurrent forecaster on a CSV time series: a window of W rows -> the next H values of the target "
    "column(s).",
    SETTINGS, train_forecaster, ForecastPredictor, ("forecast", "evaluate"),
    ("the series: CSV with a header (.csv.gz too; required unless --resume)",
     "validation rows that continue --data in time", "test rows that continue the series in time"),
    several_files=False,
    hidden=STREAM_SETTINGS,
    flag_help={"--batch-size": "windows per batch"})

__all__ = ["SETTINGS", "TASK", "ForecastPredictor", "ForecasterConfig", "SeriesConfig", "TrainConfig",
           "fit_scaler_on_training_part", "train_forecaster"]
