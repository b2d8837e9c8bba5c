"""The forecasting task: a window of a multivariate series -> the next value(s), with honest baselines.

The one place that knows what goes together for forecasting: a CSV (date, targets, features) -> a chronological
train / validation / test split -> a scaler fitted on the training rows only -> windows -> :class:`Forecaster` ->
squared error (or Gaussian NLL) in normalised units. Each epoch ends with the validation loss; the best epoch's
weights are kept (chosen on validation only, never on the test part). The run reports MAE, RMSE, MAPE and sMAPE
on the validation and test parts beside persistence and seasonal naive, and draws ``forecast.png``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from ...models.forecaster import Forecaster, ForecasterConfig, forecast_loss
from ...train.config import TrainConfig
from ...train.trainer import StepResult
from ..base import Run, finish_run, prepare_run
from ..model_size import build_within_limit
from .data import NAME, SeriesConfig, SeriesData, Split, direct_windows, load_series, origins_in
from .predict import ForecastPredictor

__all__ = ["NO_TARGET", "SETTINGS", "fit_scaler_on_training_part", "train_forecaster"]
SETTINGS = {"series": SeriesConfig, "model": ForecasterConfig, "train": TrainConfig}
NO_TARGET = "train forecast: no target column; expected --target COLUMN (or 'targets' in --config)"


def fit_scaler_on_training_part(model: Forecaster, split: Split) -> None:
    """The scaler sees rows [0, train_end) and nothing after them."""
    model.fit_scaler(split.series.values[: split.train_end])


def train_forecaster(out: str | os.PathLike[str], *, data: SeriesData | None = None, valid: SeriesData | None = None,
                     test: SeriesData | None = None, series: SeriesConfig | None = None,
                     model: ForecasterConfig | None = None, train: TrainConfig | None = None, resume: bool = False,
                     epochs: int | None = None, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a forecaster into the run directory ``out``; return the final metrics.

    Args:
        out: a new run directory (with ``resume``: the run to continue, with its saved data and settings).
        data: the series: a CSV file, or columns in memory (column name -> equal-length sequence of numbers, or a
            DataFrame); without ``valid``/``test``, split by ``series`` fractions or dates.
        valid, test: series that continue ``data`` in time (same columns), as files or in memory.
        series, model, train: the settings (``series.targets`` required for a new run; ``model.input_size`` and
            ``num_targets`` are set from the columns). ``epochs`` extends a resumed run.
    """
    if not resume and data is not None and not (series and series.targets):
        raise ValueError(NO_TARGET)
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"series": series, "model": model, "train": train}, callbacks=callbacks)
    series, train = run.settings["series"], run.train
    split = load_series(run.data, run.valid, run.test, series, run.settings["model"].horizon)
    model = replace(run.settings["model"], input_size=len(split.series.columns), num_targets=split.series.num_targets)
    network = build_within_limit(lambda: Forecaster(model))
    z = _normalized(network, split)
    network = network.to(run.device)
    split_rows = {"train_end": split.train_end, "valid_end": split.valid_end, "rows": len(split.series)}
    run.start({"series": series, "model": model, "train": train, "split": split_rows}, derived={"split": split_rows})
    loss_on, train_origins, valid_origins = _windows(run, model, split, z)
    evaluate = _evaluator(loss_on, valid_origins)
    batches = _shuffled(train_origins, train)
    results = run.fit(network, lambda net, batch, state: loss_on(net, batch, False), batches, evaluate=evaluate,
                      monitor="valid_loss", steps_per_epoch=math.ceil(len(train_origins) / train.batch_size))
    results.update(_final_metrics(run, ForecastPredictor(network, series), split, model.horizon, evaluate is not None))
    return finish_run(run, results, title=f"forecast {model.cell} {model.strategy}, window {series.window}, "
                                          f"horizon {model.horizon}")


def _normalized(network: Forecaster, split: Split) -> torch.Tensor:
    """Fit the network's scaler on the training rows; return the whole series normalised by it ``(N, F)``."""
    try:
        fit_scaler_on_training_part(network, split)
        return network.normalize(torch.from_numpy(split.series.values))
    except ValueError as error:
        raise ValueError(f"{split.series.path}: {error}") from None


def _shuffled(origins: torch.Tensor, train: TrainConfig) -> Callable[[int], list[torch.Tensor]]:
    """Each epoch's batches: the training origins in an order fixed by the seed and the epoch."""
    def batches(epoch: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(train.seed * 1_000_003 + epoch)
        return list(origins[torch.randperm(len(origins), generator=generator)].split(train.batch_size))

    return batches


LossOn = Callable[[torch.nn.Module, torch.Tensor, bool], StepResult]


def _windows(run: Run, model: ForecasterConfig, split: Split, z: torch.Tensor
             ) -> tuple[LossOn, torch.Tensor, torch.Tensor]:
    """The loss of a batch of forecast origins, and the training and validation origins."""
    series, horizon, device = run.settings["series"], model.horizon, run.device
    autoregressive = model.strategy == "autoregressive"
    # direct: targets o+1..o+H inside the training rows; autoregressive: each position's next row inside them
    ahead = 1 if autoregressive else horizon
    train_origins = torch.from_numpy(origins_in(0, split.train_end, series.window, ahead))
    valid_origins = torch.from_numpy(origins_in(split.train_end, split.valid_end, series.window, ahead))
    if run.is_main:
        print(f"rnnkit: {split.train_end} training rows, {split.valid_end - split.train_end} validation rows, "
              f"{len(split.series) - split.valid_end} test rows; {len(train_origins)} training windows of "
              f"{series.window}", file=sys.stderr)

    def loss_on(net: torch.nn.Module, origins: torch.Tensor, last_only: bool) -> StepResult:
        inputs, targets = direct_windows(z, origins, series.window, horizon, model.num_targets, autoregressive)
        mean, log_variance = net(inputs.to(device))
        mean, targets = mean.float(), targets.to(device).float()  # the loss in float32 (under bf16 autocast too)
        log_variance = None if log_variance is None else log_variance.float()
        if autoregressive and last_only:  # validation: the one-step forecast from the window's end
            mean, targets = mean[:, -1:], targets[:, -1:]
            log_variance = None if log_variance is None else log_variance[:, -1:]
        loss = forecast_loss(mean, log_variance, targets)
        return StepResult(loss, targets.numel(), None, inputs.shape[0] * inputs.shape[1])

    return loss_on, train_origins, valid_origins


def _evaluator(loss_on: LossOn, valid_origins: torch.Tensor) -> Callable[[torch.nn.Module], dict[str, float]] | None:
    """The validation loss (one-step for autoregressive models) per epoch; None without validation rows."""
    if not len(valid_origins):
        return None

    def evaluate(net: torch.nn.Module) -> dict[str, float]:
        total, count = 0.0, 0
        for chunk in valid_origins.split(1024):
            step = loss_on(net, chunk, True)
            total, count = total + float(step.loss_sum), count + step.count
        return {"valid_loss": total / count}

    return evaluate


def _final_metrics(run: Run, predictor: ForecastPredictor, split: Split, horizon: int,
                   has_valid: bool) -> dict[str, Any]:
    """MAE, RMSE, ... beside the baselines on the validation and test parts; ``forecast.png`` of the last one."""
    n = len(split.series)
    parts = [(name, start, end) for name, start, end in
             [("valid", split.train_end, split.valid_end), ("test", split.valid_end, n)]
             if end - start >= horizon and (name == "test" or has_valid)]
    results: dict[str, Any] = {}
    for name, start, end in parts:
        plot = run.out / "forecast.png" if name == parts[-1][0] and run.is_main else None
        scores = predictor.evaluate_rows(split.series, start, end, plot=plot)
        results.update({f"{name}_{key}": value for key, value in scores.items() if key != "plot"})
    return results
