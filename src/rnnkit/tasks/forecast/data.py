"""Forecasting data: which columns to read, the chronological split, and the windows a model learns from.

A series is split in time, never shuffled across it::

    rows:   0 ............. train_end ........ valid_end ......... N
            |---- train ----|----- valid -------|------ test -------|
    fit the scaler here ^   (and only here)

A window ending at row o (the forecast origin) holds rows o-W+1 .. o; its targets are rows o+1 .. o+H. A
window may reach back into an earlier part (that is history, known at the origin); its targets lie in one part.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...data.readers.dates import GAPS
from ...data.readers.timeseries import FILLS, TimeSeries, read_timeseries, timeseries_from_columns
from ...train.config import setting, validate_field_types

__all__ = ["NAME", "SeriesConfig", "SeriesData", "Split", "direct_windows", "load_series", "origins_in",
           "parse_columns", "split_series", "window_batch"]


NAME = "forecast"
# a CSV file, or columns in memory: name -> equal-length sequence of numbers (or a DataFrame, read by to_dict)
SeriesData = str | os.PathLike | Mapping[str, Sequence[Any]]


def parse_columns(text: str) -> tuple[str, ...]:
    """Column names from a flag's comma-separated text: ``"sales, price"`` -> ``("sales", "price")``.

    Raises:
        ValueError: for an empty name (``""``, ``"a,,b"``, ``"a,"``).
    """
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise ValueError(f"got {text!r}; expected column names separated by commas")
    return names


@dataclass(frozen=True)
class SeriesConfig:
    """What to read from the CSV, how to split it in time, and how the task forecasts.

    Attributes:
        targets: the target column(s); a new run needs at least one.
        date_column: the time-stamp column, or None.
        features: extra input columns.
        fill: missing values: ``"none"`` (refuse), ``"ffill"``, ``"interpolate"`` or ``"drop"``.
        gaps: missing dates: ``"refuse"``, ``"keep"`` (rows are consecutive steps, e.g. trading days) or
            ``"fill"`` (insert the absent steps, then fill them by ``fill``).
        delimiter: field separator, or None to sniff it.
        encoding: text encoding.
        window: W, history steps the model reads.
        valid_fraction: share of the rows (the end of the training file) held out for validation.
        test_fraction: share of the rows (the very end) held out for the test.
        valid_start: first date of the validation part (dates compared as text: ISO dates sort); overrides
            ``valid_fraction``.
        test_start: first date of the test part; overrides ``test_fraction``.
        seasonal_period: m of the seasonal-naive baseline (12 for monthly data, 5 for trading days, ...).
        level: the central probability of prediction intervals.
    """

    targets: list[str] = setting(default_factory=list, flag="--target", parse=parse_columns,
                                 help="the column(s) to forecast (comma-separated)")
    date_column: str | None = setting(None, help="the time-stamp column (for splits by date, plots, output)")
    features: list[str] = setting(default_factory=list, parse=parse_columns,
                                  help="extra input columns (comma-separated)")
    fill: str = setting("none", help="missing values: none (refuse), ffill, interpolate or drop", choices=FILLS)
    gaps: str = setting("refuse", help="missing dates: refuse, keep (rows are consecutive steps, as trading days) or "
                                       "fill (insert them; --fill fills them)", choices=GAPS)
    delimiter: str | None = setting(None, help="field separator (unset: sniffed from the header)")
    encoding: str = setting("utf-8", help="text encoding")
    window: int = setting(24, help="history steps the model reads")
    valid_fraction: float = setting(0.1, help="share of rows held out for validation")
    test_fraction: float = setting(0.0, help="share of rows at the end held out for the test")
    valid_start: str | None = setting(None, help="first date of the validation part (needs --date-column)")
    test_start: str | None = setting(None, help="first date of the test part (needs --date-column)")
    seasonal_period: int = setting(1, help="season length m of the seasonal-naive baseline")
    level: float = setting(0.9, help="probability of the prediction intervals")

    def __post_init__(self) -> None:
        validate_field_types(self)
        if self.fill not in FILLS:
            raise ValueError(f"fill: got {self.fill!r}; expected one of {', '.join(FILLS)}")
        if self.gaps not in GAPS:
            raise ValueError(f"gaps: got {self.gaps!r}; expected one of {', '.join(GAPS)}")
        for name in ("window", "seasonal_period"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; expected a positive integer")
        for name in ("valid_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; expected a fraction in [0, 1)")
        if self.valid_fraction + self.test_fraction >= 1:
            raise ValueError(f"valid_fraction + test_fraction: got {self.valid_fraction + self.test_fraction}; "
                             "expected less than 1 (something must be left to train on)")
        if (self.valid_start or self.test_start) and self.date_column is None:
            raise ValueError("valid_start/test_start split by date; expected --date-column too")
        if not 0 < self.level < 1:
            raise ValueError(f"level: got {self.level}; expected a probability in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def read(self, data: SeriesData, name: str = "data") -> TimeSeries:
        """The series of a CSV file, or of columns in memory (``name`` names them in errors)."""
        if isinstance(data, str | os.PathLike):
            return read_timeseries(Path(data), self.targets, self.date_column, self.features, self.fill,
                                   self.delimiter, self.encoding, self.gaps)
        to_dict = getattr(data, "to_dict", None)
        if not isinstance(data, Mapping) and callable(to_dict):  # a pandas DataFrame, without importing pandas
            data = to_dict("list")
        if not isinstance(data, Mapping):
            raise ValueError(f"{name}: got {type(data).__name__}; expected a CSV path or a mapping of column name "
                             "-> values (or a DataFrame)")
        return timeseries_from_columns(data, self.targets, self.date_column, self.features, self.fill, self.gaps,
                                       where=name)


@dataclass(frozen=True)
class Split:
    """The series and its part boundaries: train ``[0, train_end)``, valid ``[train_end, valid_end)``, test after."""

    series: TimeSeries
    train_end: int
    valid_end: int


def _concatenate(parts: list[TimeSeries]) -> TimeSeries:
    first = parts[0]
    return TimeSeries(dates=[d for part in parts for d in part.dates],
                      values=np.concatenate([part.values for part in parts]), columns=first.columns,
                      num_targets=first.num_targets, lines=[n for part in parts for n in part.lines], path=first.path)


def _date_index(series: TimeSeries, date: str, flag: str) -> int:
    index = bisect.bisect_left(series.dates, date)
    if series.dates != sorted(series.dates):
        raise ValueError(f"{series.path}: the dates are not in ascending order; --{flag} needs sortable dates "
                         "(ISO YYYY-MM-DD)")
    return index


def split_series(series: TimeSeries, config: SeriesConfig, horizon: int) -> tuple[int, int]:
    """(train_end, valid_end) by dates or fractions; errors when a part is too short for a window and targets."""
    n = len(series)
    if config.test_start is not None:
        valid_end = _date_index(series, config.test_start, "test-start")
    else:
        valid_end = n - round(n * config.test_fraction)
    if config.valid_start is not None:
        train_end = _date_index(series, config.valid_start, "valid-start")
    else:
        train_end = valid_end - round(n * config.valid_fraction)
    needed = config.window + horizon
    if train_end < needed:
        raise ValueError(f"{series.path}: the training part has {train_end} rows (of {n}); a window of "
                         f"{config.window} plus a horizon of {horizon} needs at least {needed}: the series is "
                         "shorter than the window (use a smaller --window or more data)")
    if train_end > valid_end:
        raise ValueError(f"valid_start {config.valid_start!r} falls after test_start {config.test_start!r}")
    if config.valid_fraction > 0 or config.valid_start is not None:
        if valid_end - train_end < horizon:
            raise ValueError(f"{series.path}: the validation part has {valid_end - train_end} rows; expected at "
                             f"least the horizon, {horizon}")
    if (config.test_fraction > 0 or config.test_start is not None) and n - valid_end < horizon:
        raise ValueError(f"{series.path}: the test part has {n - valid_end} rows; expected at least the horizon, "
                         f"{horizon}")
    return train_end, valid_end


def load_series(data: SeriesData, valid: SeriesData | None, test: SeriesData | None, config: SeriesConfig,
                horizon: int) -> Split:
    """Read the training series (and validation/test series that continue it in time) and split it."""
    parts = [config.read(data)]
    for name, extra in (("valid", valid), ("test", test)):
        if extra is not None:
            parts.append(config.read(extra, name))
    series = _concatenate(parts)
    if valid is None and test is None:
        train_end, valid_end = split_series(series, config, horizon)
        return Split(series, train_end, valid_end)
    train_end = len(parts[0])
    valid_end = train_end + (len(parts[1]) if valid is not None else 0)
    if valid is None:  # a test file but no validation file: validation from the end of the training file
        train_end = train_end - round(train_end * config.valid_fraction)
    if train_end < config.window + horizon:
        raise ValueError(f"{parts[0].path}: the training part has {train_end} rows; a window of {config.window} "
                         f"plus a horizon of {horizon} needs at least {config.window + horizon}: the series is shorter "
                         "than the window")
    return Split(series, train_end, valid_end)


def origins_in(start: int, end: int, window: int, horizon: int, earliest: int = 0) -> np.ndarray:
    """Forecast origins o whose targets o+1 .. o+horizon all lie in rows [start, end) and whose window fits."""
    first = max(start - 1, window - 1, earliest)
    last = end - 1 - horizon
    return np.arange(first, last + 1) if last >= first else np.arange(0)


def window_batch(z: Tensor, origins: Tensor, window: int) -> Tensor:
    """The windows ending at ``origins (B,)`` from the normalised series ``z (N, F)``: ``(B, W, F)``."""
    offsets = torch.arange(-window + 1, 1)  # (W,)
    return z[origins[:, None] + offsets[None, :]]


def direct_windows(z: Tensor, origins: Tensor, window: int, horizon: int, num_targets: int,
                   autoregressive: bool) -> tuple[Tensor, Tensor]:
    """Inputs ``(B, W, F)`` and training targets: the next H target values ``(B, H, K)`` (direct), or every
    position's next input ``(B, W, F)`` (autoregressive, one step ahead)."""
    inputs = window_batch(z, origins, window)
    if autoregressive:
        return inputs, window_batch(z, origins + 1, window)
    offsets = torch.arange(1, horizon + 1)  # (H,)
    return inputs, z[origins[:, None] + offsets[None, :], :num_targets]
