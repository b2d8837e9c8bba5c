"""``rnnkit train forecast``, ``rnnkit forecast`` and the forecasting side of ``rnnkit evaluate``.

Every training flag is one field of one settings dataclass (series, model or train); a config file (TOML, YAML
or JSON) holds the same names, flat or in ``[series]``, ``[model]``, ``[train]`` tables, and flags given on the
command line override it. An unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .cli_seq2seq import SEQ2SEQ_FLAGS
from .cli_settings import (
    SWITCH,
    add_data_arguments,
    add_resume_argument,
    add_setting_flags,
    run_training,
    training_settings,
)
from .tasks.forecast import SETTINGS as SECTIONS  # the settings dataclass of each config section
from .train.config import load_config_file


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"got {text!r}; expected column names separated by commas")
    return names


# flag -> (section, field, type or (_SWITCH, value), help)
FORECAST_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--target": ("series", "targets", _columns, "the column(s) to forecast (comma-separated)"),
    "--date-column": ("series", "date_column", str, "the time-stamp column (for splits by date, plots, output)"),
    "--features": ("series", "features", _columns, "extra input columns (comma-separated)"),
    "--fill": ("series", "fill", str, "missing values: none (refuse, the default), ffill, interpolate or drop"),
    "--gaps": ("series", "gaps", str, "missing dates: refuse (the default), keep (rows are consecutive steps, as "
                                      "trading days) or fill (insert them; --fill fills them)"),
    "--delimiter": ("series", "delimiter", str, "field separator (default: sniffed from the header)"),
    "--encoding": ("series", "encoding", str, "text encoding (default utf-8)"),
    "--window": ("series", "window", int, "history steps the model reads (default 24)"),
    "--valid-fraction": ("series", "valid_fraction", float, "share of rows held out for validation (default 0.1)"),
    "--test-fraction": ("series", "test_fraction", float, "share of rows at the end held out for the test (default 0)"),
    "--valid-start": ("series", "valid_start", str, "first date of the validation part (needs --date-column)"),
    "--test-start": ("series", "test_start", str, "first date of the test part (needs --date-column)"),
    "--seasonal-period": ("series", "seasonal_period", int, "season length m of the seasonal-naive baseline"),
    "--level": ("series", "level", float, "probability of the prediction intervals (default 0.9)"),
    "--horizon": ("model", "horizon", int, "steps ahead to forecast (default 1)"),
    "--strategy": ("model", "strategy", str, "direct (all H steps at once) or autoregressive (feed back)"),
    "--gaussian": ("model", "gaussian", (SWITCH, True), "a Gaussian head (mean, log-variance): intervals"),
    "--relative": ("model", "relative", (SWITCH, True), "forecast the change from the last observed level"),
    "--transform": ("model", "transform", str, "none or log (positive series with multiplicative seasons)"),
    "--cell": ("model", "cell", str, "rnn, gru or lstm"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per layer"),
    "--num-layers": ("model", "num_layers", int, "stacked recurrent layers"),
    "--dropout": ("model", "dropout", float, "dropout between layers and before the head"),
    **{flag: entry for flag, entry in SEQ2SEQ_FLAGS.items() if entry[0] == "train"},
}


def add_forecast_train_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train forecast``: registered on the ``train`` command's task subparsers."""
    parser = tasks.add_parser("forecast", help="forecast a numeric time series (CSV)",
                              description="Train a recurrent forecaster on a CSV time series: a window of W rows "
                                          "-> the next H values of the target column(s).")
    add_data_arguments(parser, "the series: CSV with a header (.csv.gz too; required unless --resume)",
                       "validation rows that continue --data in time", "test rows that continue the series in time",
                       several=False, required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, FORECAST_FLAGS)
    parser.set_defaults(handler=_train_forecast)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The three settings dataclasses from the config file (if any) and the flags given (with ``--resume``:
    ``{"resume": True, "epochs": ...}``, the run's own settings being used)."""
    settings = training_settings(args, FORECAST_FLAGS, SECTIONS)
    if args.target is None and not args.resume:
        raw = load_config_file(args.config) if args.config is not None else {}
        if "targets" not in raw and "targets" not in (raw.get("series") or {}):
            raise ValueError("train forecast: no target column; expected --target COLUMN (or 'targets' in --config)")
    return settings


def _train_forecast(args: argparse.Namespace) -> int:
    from .tasks.forecast import train_forecaster

    settings = settings_from(args)
    return run_training(lambda: train_forecaster(args.out, data=args.data, valid=args.valid, test=args.test,
                                                 **settings), args.out, resume_with="rnnkit train forecast")


def add_forecast_parser(commands: argparse._SubParsersAction) -> None:
    """``rnnkit forecast RUN --data CSV [--horizon H] [--level P] [--plot FILE.png]``."""
    parser = commands.add_parser("forecast", help="forecast past the end of a series with a forecast run (JSON)")
    parser.add_argument("run", type=Path, help="run directory written by 'rnnkit train forecast'")
    parser.add_argument("--data", type=Path, required=True, help="the series, with the run's columns")
    parser.add_argument("--horizon", type=int, default=None, help="steps ahead (default: the run's horizon)")
    parser.add_argument("--level", type=float, default=None, help="interval probability (default: the run's)")
    parser.add_argument("--plot", type=Path, default=None, help="draw history, forecast and interval (.png)")
    parser.set_defaults(handler=_forecast)


def _forecast(args: argparse.Namespace) -> int:
    from .api import load

    predictor = load(args.run)
    if getattr(predictor, "task", None) != "forecast":
        raise ValueError(f"{args.run}: a run of task {predictor.task!r}; 'forecast' needs a forecast run")
    print(json.dumps(predictor.forecast(args.data, horizon=args.horizon, level=args.level, plot=args.plot)),
          flush=True)
    return 0


def add_forecast_evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    """The ``rnnkit evaluate`` options that only forecast runs read."""
    evaluate.add_argument("--horizon", type=int, default=None, help="forecast: steps ahead (default: the run's)")
    evaluate.add_argument("--last-fraction", type=float, default=None,
                          help="forecast: score only the forecasts of the last share of rows (default: all)")
    evaluate.add_argument("--seasonal-period", type=int, default=None,
                          help="forecast: season of the seasonal-naive baseline (default: the run's)")
    evaluate.add_argument("--plot", type=Path, default=None, help="forecast: draw truth, forecast, interval (.png)")


def evaluate_forecast(predictor, args: argparse.Namespace) -> dict[str, Any]:
    """Rolling-origin errors of a forecast run on ``--data`` beside persistence and seasonal naive."""
    return predictor.evaluate(args.data, horizon=args.horizon, last_fraction=args.last_fraction,
                              seasonal_period=args.seasonal_period, plot=args.plot)
