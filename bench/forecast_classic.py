"""Forecasting benchmark on the classic series: airline passengers and monthly sunspots.

Target (issue 4): RMSE on the last 20% of the series below the seasonal-naive forecast. Each series is split in
time: training rows, then validation rows (model selection, early stopping), then the last 20% as the test,
which is only scored, never used for a choice. One-step-ahead rolling forecasts; MAE, RMSE, MAPE, sMAPE beside
persistence and seasonal naive, as ``rnnkit train forecast`` prints them::

    python bench/forecast_classic.py [--series airline,sunspots] [--out runs/bench-forecast]

Settings were fixed before looking at the test part: airline, a log transform (its seasons are multiplicative)
and forecasts relative to the last level (its trend leaves the training range); sunspots, relative forecasts,
a window of four years, seasonal naive with the ~11-year solar cycle (132 months) and with 12 months.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runner import run_rnnkit  # noqa: E402
from data_paths import require  # noqa: E402

SERIES = {
    "airline": ("classic_timeseries/airline-passengers.csv", [
        "--target", "Passengers", "--date-column", "Month", "--window", "24", "--seasonal-period", "12",
        "--transform", "log", "--relative", "--valid-fraction", "0.15", "--epochs", "200", "--batch-size", "16",
        "--lr", "0.003", "--hidden-size", "32"]),
    "sunspots": ("classic_timeseries/monthly-sunspots.csv", [
        "--target", "Sunspots", "--date-column", "Month", "--window", "48", "--seasonal-period", "132",
        "--relative", "--valid-fraction", "0.1", "--epochs", "30", "--patience", "5", "--batch-size", "32",
        "--lr", "0.003", "--hidden-size", "32"]),
}
COMMON = ["--test-fraction", "0.2", "--seed", "0", "--quiet"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", default="airline,sunspots", help="comma-separated: airline, sunspots")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-forecast"), help="folder for the runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared machine)")
    args = parser.parse_args()
    rows = []
    for name in args.series.split(","):
        if name not in SERIES:
            parser.error(f"--series: unknown {name!r}; expected some of {', '.join(SERIES)}")
        path, options = SERIES[name]
        out = args.out / name
        shutil.rmtree(out, ignore_errors=True)
        command = ["train", "forecast", "--data", str(require(path)), "--out", str(out), *options, *COMMON]
        print("rnnkit " + " ".join(command), file=sys.stderr)
        result, seconds = run_rnnkit(command, args.threads)
        rows.append((name, result, seconds))
        if name == "sunspots":  # the same test rows against the 12-month seasonal naive as well
            extra, _ = run_rnnkit(["evaluate", str(out), "--data", str(require(path)), "--last-fraction", "0.2",
                                   "--seasonal-period", "12"], args.threads)
            result["test_seasonal_naive_12_rmse"] = extra["seasonal_naive_rmse"]
            assert abs(extra["rmse"] - result["test_rmse"]) < 1e-6 * max(1.0, result["test_rmse"])
    print(f"\n{'series':10} {'test rows':>9} {'RMSE':>8} {'MAE':>8} {'MAPE%':>7} {'sMAPE%':>7} "
          f"{'persist':>8} {'s-naive':>8} {'beats s-naive':>13} {'wall s':>7}")
    for name, result, seconds in rows:
        mape = result["test_mape"]
        print(f"{name:10} {result['test_origins']:>9} {result['test_rmse']:8.2f} {result['test_mae']:8.2f} "
              f"{mape if mape is not None else float('nan'):7.2f} {result['test_smape']:7.2f} "
              f"{result['test_persistence_rmse']:8.2f} {result['test_seasonal_naive_rmse']:8.2f} "
              f"{str(result['test_beats_seasonal_naive']):>13} {seconds:7.0f}")
        if "test_seasonal_naive_12_rmse" in result:
            print(f"{'':10} seasonal naive with m = 12: RMSE {result['test_seasonal_naive_12_rmse']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
