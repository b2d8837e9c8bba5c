"""The forecasting task: a window of a multivariate series -> the next value(s), with honest baselines.

The one place that knows what goes together for forecasting: a CSV (date, targets, features) -> a chronological
train / validation / test split -> a scaler fitted on the training rows only -> windows -> :class:`Forecaster` ->
squared error (or Gaussian NLL) in normalised units. Each epoch ends with the validation loss; the best epoch's
weights are kept (chosen on validation only, never on the test part). The run reports MAE, RMSE, MAPE and sMAPE
on the validation and test parts beside persistence and seasonal naive, and draws ``forecast.png``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from ..models.forecaster import Forecaster, ForecasterConfig, forecast_loss
from ..train.config import TrainConfig
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .forecast_data import SeriesConfig, Split, direct_windows, load_series, origins_in
from .forecast_predict import TASK, ForecastPredictor
from .lm import check_device, seed_everything
from .run_dir import (
    absolute_paths,
    check_data_given,
    create_run_dir,
    fit_keeping_best,
    resumed_run,
    start_run,
    write_run_config,
)

__all__ = ["fit_scaler_on_training_part", "train_forecaster"]
SETTINGS = {"series": SeriesConfig, "model": ForecasterConfig, "train": TrainConfig}


def fit_scaler_on_training_part(model: Forecaster, split: Split) -> None:
    """The scaler sees rows [0, train_end) and nothing after them."""
    model.fit_scaler(split.series.values[: split.train_end])


def train_forecaster(out: Path, *, data: Path | None = None, valid: Path | None = None, test: Path | None = None,
                     series: SeriesConfig | None = None, model: ForecasterConfig | None = None,
                     train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None
                     ) -> dict[str, Any]:
    """Train (or resume) a forecaster into the run directory ``out``; return the final metrics.

    Args:
        out: a new run directory (with ``resume``: the run to continue).
        data: the series (CSV); without ``valid``/``test`` files, split by ``series`` fractions or dates.
        valid, test: files that continue the series in time (same columns).
        series: columns, fill, window, split and baseline settings.
        model: the model settings; ``input_size`` and ``num_targets`` are set from the columns.
        train: the training settings.
        resume: continue the run in ``out`` from its last checkpoint, with its saved data and settings.
        epochs: with ``resume``, a new number of epochs (to extend a finished run).
    """
    out = Path(out)
    series, train = series or SeriesConfig(), train or TrainConfig()
    model_config = model or ForecasterConfig()
    check_data_given(data, resume)
    if resume:
        settings, saved = resumed_run(out, TASK, SETTINGS, epochs)
        series, model_config, train = settings["series"], settings["model"], settings["train"]
        data, valid, test = (Path(path) if path else None for path in (saved["train"], saved["valid"], saved["test"]))
    check_device(train.device)
    if not resume and (out / "config.json").exists():
        create_run_dir(out)  # refuses, with the message every task gives
    seed_everything(train.seed, train.deterministic)
    horizon = model_config.horizon
    split = load_series(Path(data), valid, test, series, horizon)
    model_config = replace(model_config, input_size=len(split.series.columns),
                           num_targets=split.series.num_targets)
    network = Forecaster(model_config)
    values = split.series.values
    try:
        fit_scaler_on_training_part(network, split)
        z = network.normalize(torch.from_numpy(values))  # (N, F), with the training rows' statistics
    except ValueError as error:
        raise ValueError(f"{split.series.path}: {error}") from None
    autoregressive = model_config.strategy == "autoregressive"
    # direct: targets o+1..o+H inside the training rows; autoregressive: each position's next row inside them
    train_origins = torch.from_numpy(origins_in(0, split.train_end, series.window, 1 if autoregressive else horizon))
    valid_origins = torch.from_numpy(origins_in(split.train_end, split.valid_end, series.window,
                                                1 if autoregressive else horizon))
    n = len(values)
    print(f"rnnkit: {split.train_end} training rows, {split.valid_end - split.train_end} validation rows, "
          f"{n - split.valid_end} test rows; {len(train_origins)} training windows of {series.window}",
          file=sys.stderr)
    device = torch.device(train.device)
    network = network.to(device)
    split_rows = {"train_end": split.train_end, "valid_end": split.valid_end, "rows": n}
    start_run(out, resume, derived={"split": split_rows})
    write_run_config(out, TASK, {"series": series.to_dict(), "model": model_config.to_dict(), "train": asdict(train),
                                 "data": {"train": absolute_paths(data), "valid": absolute_paths(valid),
                                          "test": absolute_paths(test)},
                                 "split": split_rows})
    K = model_config.num_targets

    def loss_on(net: torch.nn.Module, origins: torch.Tensor, last_only: bool) -> StepResult:
        inputs, targets = direct_windows(z, origins, series.window, horizon, K, autoregressive)
        mean, log_variance = net(inputs.to(device))
        targets = targets.to(device)
        if autoregressive and last_only:  # validation: the one-step forecast from the window's end
            mean, targets = mean[:, -1:], targets[:, -1:]
            log_variance = None if log_variance is None else log_variance[:, -1:]
        loss = forecast_loss(mean, log_variance, targets)
        return StepResult(loss, targets.numel(), None, inputs.shape[0] * inputs.shape[1])

    def batches(epoch: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(train.seed * 1_000_003 + epoch)
        order = train_origins[torch.randperm(len(train_origins), generator=generator)]
        return list(order.split(train.batch_size))

    def evaluate(net: torch.nn.Module) -> dict[str, float]:
        if not len(valid_origins):
            return {}
        total, count = 0.0, 0
        for chunk in valid_origins.split(1024):
            step = loss_on(net, chunk, last_only=True)
            total, count = total + float(step.loss_sum), count + step.count
        return {"valid_loss": total / count}

    has_valid = len(valid_origins) > 0
    trainer = Trainer(network, train, lambda net, batch, state: loss_on(net, batch, last_only=False), batches,
                      evaluate=evaluate if has_valid else None, monitor="valid_loss", run_dir=out,
                      steps_per_epoch=math.ceil(len(train_origins) / train.batch_size), show_perplexity=False)
    if resume:
        trainer.resume()
    results = fit_keeping_best(trainer, network, out)  # the best epoch on validation
    predictor = ForecastPredictor(network, series)
    parts = [("valid", split.train_end, split.valid_end), ("test", split.valid_end, n)]
    plotted = None
    for name, start, end in parts:
        if end - start >= horizon and (name == "test" or has_valid):
            plotted = name
    for name, start, end in parts:
        if end - start < horizon or (name == "valid" and not has_valid):
            continue
        plot = out / "forecast.png" if name == plotted else None
        scores = predictor.evaluate_rows(split.series, start, end, plot=plot)
        results.update({f"{name}_{key}": value for key, value in scores.items() if key != "plot"})
    plot_learning_curves(out / "metrics.jsonl", out / "curves.png",
                         title=f"forecast {model_config.cell} {model_config.strategy}, window {series.window}, "
                               f"horizon {horizon}")
    return results
