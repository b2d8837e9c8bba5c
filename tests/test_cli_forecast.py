"""Forecasting end to end: train forecast, rk.load, forecast (JSON, intervals, plot), evaluate (baselines), and
the user mistakes of the issue, each one line on stderr with exit code 2."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import pytest

import rnnkit as rk
from rnnkit.tasks import ForecastPredictor
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--hidden-size", "8", "--epochs", "2", "--batch-size", "16", "--quiet"]


def series_text(count: int, gap_at: int | None = None, skip_date: int | None = None) -> str:
    """Daily rows from 2021-01-01; ``gap_at``: an empty value there; ``skip_date``: that day's row left out."""
    rows = []
    for i in range(count):
        if i == skip_date:
            continue
        value = "" if i == gap_at else f"{100 + 10 * math.sin(i / 3) + i * 0.1:.3f}"
        rows.append(f"{datetime.date(2021, 1, 1) + datetime.timedelta(days=i)},{value},{i % 7}\n")
    return "date,sales,weekday\n" + "".join(rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("series")
    (folder / "train.csv").write_text(series_text(150), encoding="utf-8")
    (folder / "gappy.csv").write_text(series_text(150, gap_at=40), encoding="utf-8")
    (folder / "short.csv").write_text(series_text(6), encoding="utf-8")
    (folder / "missing_day.csv").write_text(series_text(150, skip_date=60), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(data: Path) -> Path:
    out = data / "run"
    code, stdout, stderr = invoke("train", "forecast", "--data", data / "train.csv", "--target", "sales",
                                  "--date-column", "date", "--features", "weekday", "--window", "10", "--horizon",
                                  "3", "--gaussian", "--test-fraction", "0.2", "--seasonal-period", "7", "--out",
                                  out, *TINY)
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    for key in ("valid_loss", "test_rmse", "test_mae", "test_mape", "test_smape", "test_persistence_rmse",
                "test_seasonal_naive_rmse", "test_interval_coverage", "test_always_up_directional_accuracy"):
        assert key in result, key
    return out


def test_run_directory_and_rk_load(run: Path):
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "curves.png", "forecast.png"):
        assert (run / name).exists(), name
    predictor = rk.load(run)
    assert isinstance(predictor, ForecastPredictor) and predictor.model.config.input_size == 2


def test_forecast_verb_gives_json_with_intervals_and_a_plot(run: Path, data: Path, tmp_path: Path):
    code, stdout, stderr = invoke("forecast", run, "--data", data / "train.csv", "--horizon", "2", "--plot",
                                  tmp_path / "f.png")
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["columns"] == ["sales"] and record["horizon"] == 2 and record["origin"] == "2021-05-30"
    assert len(record["forecast"]) == 2 and len(record["forecast"][0]) == 1
    for low, mid, high in zip(record["lower"], record["forecast"], record["upper"], strict=True):
        assert low[0] < mid[0] < high[0]
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_evaluate_verb_prints_metrics_beside_baselines(run: Path, data: Path, tmp_path: Path):
    code, stdout, stderr = invoke("evaluate", run, "--data", data / "train.csv", "--last-fraction", "0.3",
                                  "--horizon", "1", "--plot", tmp_path / "e.png")
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["horizon"] == 1 and record["origins"] == 45 and record["seasonal_period"] == 7
    for key in ("rmse", "mae", "smape", "persistence_rmse", "seasonal_naive_rmse", "directional_accuracy"):
        assert isinstance(record[key], float), key
    assert (tmp_path / "e.png").exists()


def test_user_errors(run: Path, data: Path, tmp_path: Path):
    assert_user_error(invoke("train", "forecast", "--data", data / "train.csv", "--target", "price", "--out",
                             tmp_path / "r1", *TINY), "train.csv line 1: no column 'price'", "'sales'")
    assert_user_error(invoke("train", "forecast", "--data", data / "gappy.csv", "--target", "sales", "--out",
                             tmp_path / "r2", *TINY), "gappy.csv line 42, column 'sales': missing value", "--fill")
    assert_user_error(invoke("train", "forecast", "--data", data / "short.csv", "--target", "sales", "--window",
                             "24", "--out", tmp_path / "r3", *TINY), "short.csv", "shorter than the window")
    assert_user_error(invoke("train", "forecast", "--data", data / "train.csv", "--out", tmp_path / "r4", *TINY),
                      "no target column")
    assert_user_error(invoke("forecast", run, "--data", data / "short.csv"), "short.csv: 6 rows",
                      "shorter than the window")
    assert_user_error(invoke("forecast", run, "--data", data / "train.csv", "--horizon", "5"),
                      "trained for at most 3 steps")
    assert_user_error(invoke("forecast", run, "--data", tmp_path / "absent.csv"), "absent.csv")
    assert_user_error(invoke("evaluate", run, "--data", data / "train.csv", "--last-fraction", "1.5"),
                      "--last-fraction")
    assert_user_error(invoke("train", "forecast", "--data", data / "missing_day.csv", "--target", "sales",
                             "--date-column", "date", "--out", tmp_path / "r6", *TINY),
                      "missing_day.csv line 62: date '2021-03-03' follows '2021-03-01': 1 missing step", "--gaps")
    assert_user_error(invoke("train", "forecast", "--data", data / "train.csv", "--target", "sales",
                             "--date-column", "date", "--gaps", "fill", "--out", tmp_path / "r7", *TINY),
                      "gaps: got 'fill'", "--fill ffill or interpolate")
    (tmp_path / "zero.csv").write_text(series_text(40).replace(",100.", ",0.", 1), encoding="utf-8")
    assert_user_error(invoke("train", "forecast", "--data", tmp_path / "zero.csv", "--target", "sales", "--window",
                             "5", "--transform", "log", "--out", tmp_path / "r5", *TINY), "zero.csv", "values <= 0")


def test_filled_gaps_train_an_autoregressive_model(data: Path, tmp_path: Path):
    code, stdout, stderr = invoke("train", "forecast", "--data", data / "gappy.csv", "--target", "sales", "--fill",
                                  "interpolate", "--window", "8", "--strategy", "autoregressive", "--out",
                                  tmp_path / "ar", *TINY)
    assert code == 0, stderr
    code, stdout, stderr = invoke("forecast", tmp_path / "ar", "--data", data / "gappy.csv", "--horizon", "6")
    assert code == 0, stderr
    assert len(json.loads(stdout)["forecast"]) == 6


@pytest.mark.parametrize(("gaps", "rows"), [("keep", 149), ("fill", 150)])
def test_a_missing_date_kept_or_filled(data: Path, tmp_path: Path, gaps: str, rows: int):
    code, stdout, stderr = invoke("train", "forecast", "--data", data / "missing_day.csv", "--target", "sales",
                                  "--date-column", "date", "--gaps", gaps, "--fill", "interpolate", "--window", "8",
                                  "--out", tmp_path / gaps, *TINY)
    assert code == 0, stderr
    assert json.loads((tmp_path / gaps / "config.json").read_text())["series"]["gaps"] == gaps
    series = rk.load(tmp_path / gaps).series.read(data / "missing_day.csv")
    assert len(series) == rows and ("2021-03-02" in series.dates) == (gaps == "fill")


def test_settings_from_a_config_file(data: Path, tmp_path: Path):
    config = tmp_path / "forecast.toml"
    config.write_text('[series]\ntargets = ["sales"]\nwindow = 6\n[model]\nhorizon = 2\ncell = "gru"\n'
                      '[train]\nepochs = 1\nquiet = true\n', encoding="utf-8")
    code, stdout, stderr = invoke("train", "forecast", "--data", data / "train.csv", "--config", config,
                                  "--hidden-size", "4", "--out", tmp_path / "cfg")
    assert code == 0, stderr
    saved = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert saved["series"]["window"] == 6 and saved["model"]["cell"] == "gru" and saved["model"]["hidden_size"] == 4
    config.write_text('[series]\nwindow = 6\nwindoe = 3\n', encoding="utf-8")
    assert_user_error(invoke("train", "forecast", "--data", data / "train.csv", "--config", config, "--target",
                             "sales", "--out", tmp_path / "cfg2"), "unknown key", "windoe")


def test_resume_continues_a_forecast_run_exactly(data: Path, tmp_path: Path):
    assert_resume_is_exact(tmp_path, "forecast", "--data", data / "train.csv", "--target", "sales", "--window", "10",
                           "--gaussian", *TINY)
