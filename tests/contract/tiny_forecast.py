"""Tiny forecasting data and settings for the contract tests: a noisy daily sine with a weekday feature."""

from __future__ import annotations

import datetime
import math
import random
from pathlib import Path
from typing import Any

from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast import SeriesConfig
from rnnkit.train.config import TrainConfig

NAME = "forecast"


def columns(count: int, seed: int = 0) -> dict[str, list[Any]]:
    """``count`` daily rows from 2021-01-01: ``date``, ``sales`` (a sine with seeded noise) and ``weekday``."""
    rng = random.Random(seed)
    start = datetime.date(2021, 1, 1)
    return {"date": [(start + datetime.timedelta(days=i)).isoformat() for i in range(count)],
            "sales": [round(10 + 3 * math.sin(i / 2) + rng.uniform(-0.3, 0.3), 3) for i in range(count)],
            "weekday": [float(i % 7) for i in range(count)]}


def write_csv(path: Path, data: dict[str, list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = zip(*data.values(), strict=True)
    path.write_text(",".join(data) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_forecaster``: 75 rows split 45 / 15 / 15 in time; windows of 8 rows and a horizon of 2
    give 36 training windows (9 batches of 4)."""
    data: Any = columns(75)
    if not in_memory:
        data = write_csv(tmp_path / "series.csv", data)
    return {"data": data,
            "series": SeriesConfig(targets=["sales"], date_column="date", features=["weekday"], window=8,
                                   valid_fraction=0.2, test_fraction=0.2, seasonal_period=7),
            "model": ForecasterConfig(horizon=2, cell="lstm", hidden_size=12, num_layers=1, dropout=0.0),
            "train": TrainConfig(epochs=2, batch_size=4, lr=0.02, seed=0, quiet=True)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a forecasting run once: forecast (from a CSV and from columns in memory) and evaluate."""
    path = write_csv(tmp_path / "recent.csv", columns(30, seed=3))
    record = predictor.forecast(path, horizon=2)
    assert record["columns"] == ["sales"] and record["horizon"] == 2 and record["origin"] == "2021-01-30"
    assert len(record["forecast"]) == 2 and len(record["forecast"][0]) == 1
    assert predictor.forecast(columns(30, seed=3), horizon=2)["forecast"] == record["forecast"]
    scores = predictor.evaluate(path, horizon=1, last_fraction=0.5)
    assert scores["horizon"] == 1 and scores["origins"] == 15
    for key in ("rmse", "mae", "smape", "persistence_rmse", "seasonal_naive_rmse"):
        assert isinstance(scores[key], float), key
