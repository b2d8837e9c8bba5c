"""Next-day close forecasts for a handful of S&P 500 stocks, beside persistence (the random walk).

Split in time as ``sp500_stocks_5yr/SOURCE.md`` suggests: train 2013-02-08 .. 2016-12-31, validation 2017H1
(model selection, early stopping), test 2017-07-01 .. 2018-02-07 (only scored). One model per ticker: a window
of 30 trading days of log closes -> the next day's close, forecast as a change from today's (``--relative``).
Printed per ticker: test RMSE (USD) beside persistence (tomorrow = today), directional accuracy beside the
share of up days (what always saying "up" scores), and plainly whether the model beats persistence::

    python bench/forecast_sp500.py [--tickers AAPL,MSFT,AMZN,JPM,XOM] [--out runs/bench-sp500]

The settings are fixed in this file; none was tuned on the test period.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runner import run_rnnkit  # noqa: E402
from data_paths import require  # noqa: E402

OPTIONS = ["--target", "close", "--date-column", "date", "--gaps", "keep", "--valid-start", "2017-01-01",
           "--test-start", "2017-07-01", "--window", "30", "--horizon", "1", "--seasonal-period", "5", "--transform",
           "log", "--relative", "--hidden-size", "32", "--epochs", "30", "--patience", "5", "--batch-size", "32",
           "--lr", "0.001", "--seed", "0", "--quiet"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", default="AAPL,MSFT,AMZN,JPM,XOM", help="comma-separated tickers")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-sp500"), help="folder for the runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared machine)")
    args = parser.parse_args()
    rows = []
    for ticker in args.tickers.split(","):
        path = require(f"sp500_stocks_5yr/individual_stocks_5yr/{ticker}_data.csv.gz")
        out = args.out / ticker
        shutil.rmtree(out, ignore_errors=True)
        command = ["train", "forecast", "--data", str(path), "--out", str(out), *OPTIONS]
        print("rnnkit " + " ".join(command), file=sys.stderr)
        result, seconds = run_rnnkit(command, args.threads)
        rows.append((ticker, result, seconds))
    print(f"\n{'ticker':7} {'test days':>9} {'RMSE':>8} {'persist':>8} {'ratio':>6} {'dir acc':>8} "
          f"{'up share':>8} {'beats persistence':>17} {'wall s':>7}")
    wins = 0
    for ticker, result, seconds in rows:
        ratio = result["test_rmse"] / result["test_persistence_rmse"]
        wins += bool(result["test_beats_persistence"])
        print(f"{ticker:7} {result['test_origins']:>9} {result['test_rmse']:8.3f} "
              f"{result['test_persistence_rmse']:8.3f} {ratio:6.3f} {result['test_directional_accuracy']:8.3f} "
              f"{result['test_always_up_directional_accuracy']:8.3f} "
              f"{'yes' if result['test_beats_persistence'] else 'no':>17} {seconds:7.0f}")
    print(f"\nThe model beats persistence (lower test RMSE) on {wins} of {len(rows)} tickers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
