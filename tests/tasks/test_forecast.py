"""The forecasting task: the scaler never sees validation/test rows, splits, metrics and baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.tasks.forecast import train_forecaster
from rnnkit.tasks.forecast.data import SeriesConfig, load_series, origins_in
from rnnkit.tasks.forecast.metrics import baseline_forecasts, error_metrics
from rnnkit.train.config import TrainConfig

TINY = TrainConfig(epochs=2, batch_size=8, quiet=True)


def write_series(path: Path, values: list[float]) -> Path:
    path.write_text("day,y\n" + "".join(f"2020-{i:04d},{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    return path


def test_scaler_is_fitted_on_the_training_rows_only(tmp_path, monkeypatch):
    # training rows are 0..59; validation and test rows are a million and more: if any reached the scaler,
    # its mean would be far above 60
    values = [float(i) for i in range(60)] + [1e6 + i for i in range(40)]
    seen: list[np.ndarray] = []
    original = Forecaster.fit_scaler

    def spy(self, train_values):
        seen.append(np.array(train_values, copy=True))
        original(self, train_values)

    monkeypatch.setattr(Forecaster, "fit_scaler", spy)
    series = SeriesConfig(targets=["y"], date_column="day", window=5, valid_fraction=0.2, test_fraction=0.2)
    train_forecaster(tmp_path / "run", data=write_series(tmp_path / "s.csv", values), series=series,
                     model=ForecasterConfig(hidden_size=4), train=TINY)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0][:, 0], np.arange(60.0))
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert float(weights["center"][0]) == pytest.approx(29.5)  # mean of 0..59


def test_split_by_fraction_and_by_date(tmp_path):
    path = write_series(tmp_path / "s.csv", [float(i) for i in range(100)])
    by_fraction = load_series(path, None, None, SeriesConfig(targets=["y"], window=5, valid_fraction=0.1,
                                                              test_fraction=0.2), horizon=1)
    assert (by_fraction.train_end, by_fraction.valid_end) == (70, 80)
    by_date = load_series(path, None, None, SeriesConfig(targets=["y"], date_column="day", window=5,
                                                          valid_start="2020-0050", test_start="2020-0090"), 1)
    assert (by_date.train_end, by_date.valid_end) == (50, 90)


def test_series_shorter_than_the_window_is_refused(tmp_path):
    path = write_series(tmp_path / "s.csv", [1.0] * 20)
    with pytest.raises(ValueError, match=r"s\.csv: the training part has 18 rows.*shorter than the window"):
        load_series(path, None, None, SeriesConfig(targets=["y"], window=24), horizon=1)


def test_origins_keep_targets_inside_the_part():
    origins = origins_in(10, 20, window=4, horizon=3)
    assert origins[0] == 9 and origins[-1] == 16  # targets 10..12 up to 17..19


def test_error_metrics_by_hand():
    truth = np.array([[[2.0]], [[4.0]], [[0.0]]])
    prediction = np.array([[[1.0]], [[5.0]], [[0.0]]])
    last = np.array([[[1.5]], [[3.0]], [[1.0]]])
    metrics = error_metrics(truth, prediction, last)
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt(2 / 3))
    assert metrics["mape"] == pytest.approx(100 * (0.5 + 0.25) / 2)  # y = 0 left out
    assert metrics["smape"] == pytest.approx(100 * (2 / 3 + 2 / 9 + 0) / 3)
    assert metrics["directional_accuracy"] == pytest.approx(2 / 3)  # up/down, up/up, down/down


def test_baselines_persistence_and_seasonal_naive():
    targets = np.arange(30.0)[:, None]
    forecasts = baseline_forecasts(targets, np.array([11, 20]), horizon=14, seasonal_period=12)
    np.testing.assert_array_equal(forecasts["persistence"][:, :, 0], [[11] * 14, [20] * 14])
    # step h from origin o: o + h - 12 ceil(h / 12)
    assert forecasts["seasonal_naive"][0, 0, 0] == 0 and forecasts["seasonal_naive"][0, 11, 0] == 11
    assert forecasts["seasonal_naive"][0, 12, 0] == 0 and forecasts["seasonal_naive"][1, 13, 0] == 10
    with pytest.raises(ValueError, match="less than one season"):
        baseline_forecasts(targets, np.array([5]), horizon=1, seasonal_period=12)


def test_training_learns_a_sine_better_than_persistence(tmp_path):
    torch.manual_seed(0)
    steps = np.arange(400)
    values = (10 + 3 * np.sin(2 * np.pi * steps / 16)).round(4).tolist()
    series = SeriesConfig(targets=["y"], window=16, valid_fraction=0.15, test_fraction=0.15, seasonal_period=5)
    results = train_forecaster(tmp_path / "run", data=write_series(tmp_path / "s.csv", values), series=series,
                               model=ForecasterConfig(hidden_size=16, horizon=2),
                               train=TrainConfig(epochs=15, batch_size=16, lr=0.01, quiet=True))
    assert results["test_rmse"] < 0.5 * results["test_persistence_rmse"]
    assert results["test_beats_persistence"] and results["test_horizon"] == 2
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 1000


def test_validation_and_test_files_continue_the_series(tmp_path):
    train = write_series(tmp_path / "train.csv", [float(i) for i in range(50)])
    valid = write_series(tmp_path / "valid.csv", [float(i) for i in range(50, 60)])
    test = write_series(tmp_path / "test.csv", [float(i) for i in range(60, 75)])
    split = load_series(train, valid, test, SeriesConfig(targets=["y"], window=5), horizon=2)
    assert (split.train_end, split.valid_end, len(split.series)) == (50, 60, 75)
    np.testing.assert_array_equal(split.series.values[:, 0], np.arange(75.0))
    only_test = load_series(train, None, test, SeriesConfig(targets=["y"], window=5, valid_fraction=0.2), 2)
    assert (only_test.train_end, only_test.valid_end) == (40, 50)


def columns_of(values: list[float]) -> dict[str, list]:
    return {"day": [f"2020-{i:04d}" for i in range(len(values))], "y": values}


class FakeFrame:
    """What a pandas DataFrame offers the reader: ``to_dict("list")``."""

    def __init__(self, data: dict[str, list]) -> None:
        self.data = data

    def to_dict(self, orient: str) -> dict[str, list]:
        assert orient == "list"
        return self.data


@pytest.mark.parametrize("wrap", [dict, FakeFrame])
def test_columns_in_memory_train_like_the_same_csv(tmp_path, wrap):
    values = [float(round(10 + 3 * np.sin(i / 2), 4)) for i in range(80)]
    series = SeriesConfig(targets=["y"], date_column="day", window=5, valid_fraction=0.2, test_fraction=0.2)
    model = ForecasterConfig(hidden_size=4)
    from_csv = train_forecaster(tmp_path / "csv", data=write_series(tmp_path / "s.csv", values), series=series,
                                model=model, train=TINY)
    in_memory = train_forecaster(tmp_path / "memory", data=wrap(columns_of(values)), series=series, model=model,
                                 train=TINY)
    assert in_memory["test_rmse"] == from_csv["test_rmse"] and in_memory["valid_loss"] == from_csv["valid_loss"]
    assert json.loads((tmp_path / "memory" / "config.json").read_text())["data"]["train"] == IN_MEMORY
    with pytest.raises(ValueError, match="pass the same data again"):
        train_forecaster(tmp_path / "memory", resume=True, epochs=3)


def test_a_new_run_needs_a_target_column(tmp_path):
    with pytest.raises(ValueError, match=r"no target column; expected --target COLUMN \(or 'targets' in --config\)"):
        train_forecaster(tmp_path / "run", data=columns_of([1.0] * 40), train=TINY)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"day": ["a"], "x": [1.0]}, "data: no column 'y'; the data has 'day', 'x'"),
    ({"y": [1.0, 2.0], "day": ["a"]}, r"data: columns of different lengths \('y': 2, 'day': 1\)"),
    ({"y": [1.0, "high"], "day": ["a", "b"]}, "data row 2, column 'y': got 'high'; expected a finite number"),
    ({"y": [1.0, None], "day": ["a", "b"]}, "data row 2, column 'y': missing value None; .*--fill"),
    ({"y": 5.0, "day": ["a"]}, "data column 'y': got float; expected a sequence"),
    ([1.0, 2.0], "data: got list; expected a CSV path or a mapping"),
])
def test_columns_in_memory_of_the_wrong_form(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        SeriesConfig(targets=["y"], date_column="day").read(data)
