"""Numeric time series from CSV: a date column, target column(s) and extra feature columns.

A file has a header row; columns are chosen by name. Rows are time steps in file order (oldest first)::

    "Month","Passengers"          read_timeseries(path, targets=["Passengers"], date_column="Month")
    "1949-01",112                 -> TimeSeries(dates=["1949-01", ...], values (N, 1) float64, ...)

Missing values (an empty cell, ``NA``, ``NaN``, ``null``, ``?``) are refused unless a fill is chosen:

- ``"none"``: an error naming the file, the line and the column (the default: never guess silently);
- ``"ffill"``: carry the last seen value forward (a gap at the very start takes the first value seen);
- ``"interpolate"``: linear in the row index between the neighbouring values (ends held flat);
- ``"drop"``: leave out every row with a missing value in a chosen column.

Missing time steps (dates, see :mod:`rnnkit.data.readers.dates`) are refused too unless ``gaps`` says otherwise:
``"keep"`` takes the rows as consecutive steps (trading days with their holidays), ``"fill"`` inserts a row of
missing values for each absent date, which ``fill`` (``ffill`` or ``interpolate``) then fills. Dates out of time
order are always an error.

Any other text that is not a number is an error naming file, line, column and the text. ``.csv.gz`` is read
directly; the delimiter is sniffed among ``,``, ``;``, tab and ``|`` unless given.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..limits import limit
from .dates import GAPS, bad_date, find_gaps, out_of_order, parse_dates
from .text import read_text

__all__ = ["FILLS", "MISSING_TOKENS", "TimeSeries", "fill_missing", "read_timeseries", "timeseries_from_columns"]

FILLS = ("none", "ffill", "interpolate", "drop")
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})


@dataclass(frozen=True)
class TimeSeries:
    """A multivariate series: ``values (N, F)`` with the target columns first, then the features.

    Attributes:
        dates: the date column's text per row (row numbers as text when there is no date column).
        values: float64 array ``(N, F)``, no NaN left.
        columns: the F column names, targets first.
        num_targets: how many of the first columns are targets.
        lines: the file line of each row (for messages).
        path: where it was read from.
    """

    dates: list[str]
    values: np.ndarray  # (N, F)
    columns: list[str]
    num_targets: int
    lines: list[int]
    path: str

    def __len__(self) -> int:
        return len(self.values)

    @property
    def targets(self) -> np.ndarray:
        return self.values[:, : self.num_targets]  # (N, K)


def _parse_number(text: str) -> float:
    """A float from a cell; NaN for a missing-value token; ValueError for other text."""
    cleaned = text.strip()
    if cleaned.lower() in MISSING_TOKENS:
        return math.nan
    if "_" in cleaned:  # float() accepts "1_000"; a data file meaning that is more likely malformed
        raise ValueError(text)
    return float(cleaned)


_ABSURD_HINT = " of magnitude at most RNNKIT_MAX_ABS_VALUE (default 1e15; 0 for no limit)"


def _absurd(value: float) -> bool:
    """A value whose square overflows the statistics (1e300 gives Infinity/NaN metrics): refused, not trained on."""
    cap = limit("RNNKIT_MAX_ABS_VALUE")
    return cap is not None and abs(value) > cap


def fill_missing(values: np.ndarray, fill: str, columns: Sequence[str] | None = None) -> np.ndarray:
    """Fill NaN in each column of ``values (N, F)`` by ``"ffill"`` or ``"interpolate"`` (see the module doc).

    Raises:
        ValueError: a column with no value at all (named from ``columns`` when given).
    """
    values = values.copy()
    rows = np.arange(len(values))
    for column in range(values.shape[1]):
        series = values[:, column]
        known = ~np.isnan(series)
        if known.all():
            continue
        if not known.any():
            name = repr(columns[column]) if columns is not None else str(column)
            raise ValueError(f"column {name}: every value is missing; nothing to fill from")
        if fill == "interpolate":
            series[~known] = np.interp(rows[~known], rows[known], series[known])
        else:  # ffill: index of the last known value at or before each row; leading gaps take the first value
            last = np.where(known, rows, -1)
            np.maximum.accumulate(last, out=last)
            first = int(np.argmax(known))
            series[:] = series[np.where(last < 0, first, last)]
    return values


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {candidate: first.count(candidate) for candidate in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_timeseries(path: str | Path, targets: Sequence[str], date_column: str | None = None,
                    features: Sequence[str] = (), fill: str = "none", delimiter: str | None = None,
                    encoding: str = "utf-8", gaps: str = "refuse") -> TimeSeries:
    """Read a numeric time series from a CSV file (see the module docstring).

    Args:
        path: a ``.csv``/``.tsv`` file, optionally gzip-compressed (``.gz``).
        targets: the column(s) to forecast.
        date_column: the column with the time stamps (kept as text, for plots and output); None: row numbers.
        features: extra numeric input columns (known up to the forecast origin).
        fill: ``"none"``, ``"ffill"``, ``"interpolate"`` or ``"drop"``.
        delimiter: the field separator; None sniffs it from the header line.
        encoding: the text encoding.
        gaps: missing dates: ``"refuse"`` (an error naming the line), ``"keep"`` or ``"fill"``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a missing column (listing those present), a cell that is not a number (file, line, column,
            text), a missing value without a fill, a row with too few fields, no data rows, dates out of order,
            or a missing date without a gap option.
    """
    path = Path(path)
    chosen = _chosen_columns(path, targets, features, fill, gaps, date_column)
    text = read_text(path, encoding)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter or _sniff_delimiter(text))
    header = [name.strip() for name in next(reader, [])]
    if not any(header):
        raise ValueError(f"{path}: empty file; expected a header row naming the columns")
    wanted = chosen + ([date_column] if date_column is not None else [])
    absent = [name for name in wanted if name not in header]
    if absent:
        raise ValueError(f"{path} line 1: no column {', '.join(map(repr, absent))}; the header has "
                         f"{', '.join(map(repr, header))}")
    indices = [header.index(name) for name in chosen]
    date_index = header.index(date_column) if date_column is not None else None
    rows: list[list[float]] = []
    dates: list[str] = []
    lines: list[int] = []
    for record in reader:
        line = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(header):  # an extra field is a shifted row as surely as a missing one
            raise ValueError(f"{path} line {line}: {len(record)} fields; expected {len(header)} as in the header")
        row = []
        for name, index in zip(chosen, indices, strict=True):
            try:
                value = _parse_number(record[index])
            except ValueError:
                raise ValueError(f"{path} line {line}, column {name!r}: got {record[index]!r}; expected a number "
                                 "(or an empty cell / NA for a missing value)") from None
            if math.isinf(value) or _absurd(value):
                raise ValueError(f"{path} line {line}, column {name!r}: got {record[index]!r}; expected a finite "
                                 f"number{_ABSURD_HINT}")
            if math.isnan(value) and fill == "none":
                raise ValueError(f"{path} line {line}, column {name!r}: missing value {record[index]!r}; choose "
                                 "how to handle gaps with --fill ffill|interpolate|drop")
            row.append(value)
        rows.append(row)
        dates.append(record[date_index].strip() if date_index is not None else str(len(dates)))
        lines.append(line)
    if not rows:
        raise ValueError(f"{path}: no data rows after the header; expected one row per time step")
    values = np.asarray(rows, dtype=np.float64)  # (N, F)
    return _finish(path, values, dates, lines, chosen, len(targets), date_column, fill, gaps)


def _chosen_columns(where: Path | str, targets: Sequence[str], features: Sequence[str], fill: str, gaps: str,
                    date_column: str | None) -> list[str]:
    """The target and feature columns, targets first; errors for a bad fill or gaps choice, no target, a repeat."""
    if fill not in FILLS:
        raise ValueError(f"fill: got {fill!r}; expected one of {', '.join(FILLS)}")
    if gaps not in GAPS:
        raise ValueError(f"gaps: got {gaps!r}; expected one of {', '.join(GAPS)}")
    if gaps == "fill" and (fill not in ("ffill", "interpolate") or date_column is None):
        raise ValueError(f"gaps: got 'fill' with fill {fill!r} and date column {date_column!r}; expected a date "
                         "column and --fill ffill or interpolate to fill the inserted steps")
    targets, features = list(targets), list(features)
    if not targets:
        raise ValueError(f"{where}: no target column given; expected at least one --target COLUMN")
    chosen = targets + features
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise ValueError(f"{where}: column(s) {', '.join(repeated)} chosen more than once among targets and features")
    return chosen


def _finish(path: Path | str, values: np.ndarray, dates: list[str], lines: list[int], chosen: list[str],
            num_targets: int, date_column: str | None, fill: str, gaps: str, unit: str = "line") -> TimeSeries:
    """Check the dates (order, gaps), apply the fill, and make the :class:`TimeSeries`."""
    if date_column is not None:
        values, dates, lines = _check_dates(path, values, dates, lines, gaps, unit)
    if fill == "drop":
        keep = ~np.isnan(values).any(axis=1)
        values, dates = values[keep], [date for date, kept in zip(dates, keep, strict=True) if kept]
        lines = [number for number, kept in zip(lines, keep, strict=True) if kept]
        if not len(values):
            raise ValueError(f"{path}: every row has a missing value; --fill drop leaves nothing")
    elif fill in ("ffill", "interpolate"):
        try:
            values = fill_missing(values, fill, chosen)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    return TimeSeries(dates=dates, values=values, columns=chosen, num_targets=num_targets, lines=lines,
                      path=str(path))


def _check_dates(path: Path | str, values: np.ndarray, dates: list[str], lines: list[int], gaps: str,
                 unit: str = "line"):
    """Refuse a malformed date and dates out of order; refuse, keep or fill (insert NaN rows for) missing steps."""
    broken = bad_date(dates)
    if broken is not None:
        row, expected = broken
        raise ValueError(f"{path} {unit} {lines[row]}: date {dates[row]!r:.60}; expected {expected}, as the other "
                         "rows of the date column")
    steps = parse_dates(dates)
    if steps is None:
        return values, dates, lines  # not a recognised date form: rows are consecutive steps
    row = out_of_order(steps)
    if row is not None:
        raise ValueError(f"{path} {unit} {lines[row]}: date {dates[row]!r} is not after {dates[row - 1]!r} ({unit} "
                         f"{lines[row - 1]}); expected rows in time order, oldest first, one per time step")
    if gaps == "keep":
        return values, dates, lines
    step, found = find_gaps(steps)
    if not found:
        return values, dates, lines
    if gaps == "refuse":
        gap = found[0]
        every = f"{step} {steps.unit}s" if step > 1 else f"{steps.unit}"
        raise ValueError(f"{path} {unit} {lines[gap.row]}: date {dates[gap.row]!r} follows {dates[gap.row - 1]!r}: "
                         f"{gap.missing} missing step(s) of a series with one row every {every} ({len(found)} "
                         "gap(s) in all); choose --gaps fill (insert them, filled by --fill) or --gaps keep (take "
                         "the rows as consecutive steps)")
    parts, new_dates, new_lines, start = [], [], [], 0
    for gap in found:
        parts += [values[start : gap.row], np.full((gap.missing, values.shape[1]), np.nan)]
        new_dates += dates[start : gap.row] + [steps.text(position, dates[0]) for position in gap.positions]
        new_lines += lines[start : gap.row] + [lines[gap.row]] * gap.missing
        start = gap.row
    parts.append(values[start:])
    return np.concatenate(parts), new_dates + dates[start:], new_lines + lines[start:]


def _cell_value(value: object, where: str, name: str, row: int, fill: str) -> float:
    """A number from an in-memory cell: NaN for None, NaN or a missing-value token (refused without a fill)."""
    number: float | None = None
    if value is None:
        number = math.nan
    elif isinstance(value, str):
        try:
            number = _parse_number(value)
        except ValueError:
            number = None
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    if number is None or math.isinf(number) or _absurd(number):
        raise ValueError(f"{where} row {row}, column {name!r}: got {value!r}; expected a finite number (or None/NaN "
                         f"for a missing value){_ABSURD_HINT}")
    if math.isnan(number) and fill == "none":
        raise ValueError(f"{where} row {row}, column {name!r}: missing value {value!r}; choose how to handle gaps "
                         "with --fill ffill|interpolate|drop")
    return number


def _date_text(value: object) -> str:
    """A date cell as text: ISO form for date and datetime objects (a midnight time left out)."""
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat) and not isinstance(value, str):
        return str(isoformat()).removesuffix("T00:00:00")
    return str(value).strip()


def timeseries_from_columns(columns: Mapping[str, Sequence[object]], targets: Sequence[str],
                            date_column: str | None = None, features: Sequence[str] = (), fill: str = "none",
                            gaps: str = "refuse", where: str = "data") -> TimeSeries:
    """The :class:`TimeSeries` of columns held in memory, checked and filled as :func:`read_timeseries` does.

    Args:
        columns: column name -> one value per time step (oldest first), all of the same length: what a pandas
            DataFrame's ``to_dict("list")`` gives. Values are numbers; None, NaN or a missing-value token are
            missing values. The date column's values are text or date/datetime objects.
        targets, date_column, features, fill, gaps: as for :func:`read_timeseries`.
        where: what errors call the data (``"data"``); rows are numbered from 1.

    Raises:
        ValueError: a missing column (listing those present), columns of different lengths, a value that is not
            a number, a missing value without a fill, no rows, dates out of order, or a missing date without a gap
            option.
    """
    chosen = _chosen_columns(where, targets, features, fill, gaps, date_column)
    wanted = chosen + ([date_column] if date_column is not None else [])
    absent = [name for name in wanted if name not in columns]
    if absent:
        raise ValueError(f"{where}: no column {', '.join(map(repr, absent))}; the data has "
                         f"{', '.join(repr(str(name)) for name in columns)}")
    for name in wanted:
        if isinstance(columns[name], str | bytes) or not isinstance(columns[name], Sequence | np.ndarray):
            raise ValueError(f"{where} column {name!r}: got {type(columns[name]).__name__}; expected a sequence of "
                             "values, one per time step")
    lengths = {name: len(columns[name]) for name in wanted}
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{name!r}: {length}" for name, length in lengths.items())
        raise ValueError(f"{where}: columns of different lengths ({counts}); expected one value per time step in each")
    count = lengths[chosen[0]]
    if not count:
        raise ValueError(f"{where}: no rows; expected one value per time step")
    values = np.array([[_cell_value(columns[name][row], where, name, row + 1, fill) for name in chosen]
                       for row in range(count)], dtype=np.float64)  # (N, F)
    dates = ([_date_text(value) for value in columns[date_column]] if date_column is not None
             else [str(row) for row in range(count)])
    return _finish(where, values, dates, list(range(1, count + 1)), chosen, len(targets), date_column, fill, gaps,
                   unit="row")
