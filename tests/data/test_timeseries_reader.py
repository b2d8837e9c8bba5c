"""The CSV time-series reader: columns, gzip, fills, and one clear error per malformed file."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.readers.timeseries import fill_missing, read_timeseries, timeseries_from_columns

GOOD = '"Month","Passengers","Temp"\n"1949-01",112,1.5\n"1949-02",118,2.5\n"1949-03",132,3.5\n'


def write(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_dates_targets_then_features(tmp_path):
    series = read_timeseries(write(tmp_path, GOOD), ["Passengers"], "Month", ["Temp"])
    assert series.dates == ["1949-01", "1949-02", "1949-03"]
    assert series.columns == ["Passengers", "Temp"] and series.num_targets == 1
    np.testing.assert_array_equal(series.values, [[112, 1.5], [118, 2.5], [132, 3.5]])
    np.testing.assert_array_equal(series.targets, [[112], [118], [132]])
    assert series.lines == [2, 3, 4]


def test_reads_gzip_and_semicolons(tmp_path):
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress(GOOD.replace(",", ";").encode()))
    series = read_timeseries(path, ["Temp", "Passengers"])
    np.testing.assert_array_equal(series.values[:, 0], [1.5, 2.5, 3.5])
    assert series.dates == ["0", "1", "2"]  # no date column: row numbers


def test_missing_value_without_fill_names_file_line_and_column(tmp_path):
    path = write(tmp_path, GOOD.replace("118", "NA"))
    with pytest.raises(ValueError, match=r"series\.csv line 3, column 'Passengers': missing value 'NA'.*--fill"):
        read_timeseries(path, ["Passengers"])


@pytest.mark.parametrize(("fill", "expected"), [("ffill", [1.0, 1.0, 1.0, 4.0, 4.0]),
                                                 ("interpolate", [1.0, 2.0, 3.0, 4.0, 4.0]),
                                                 ("drop", [1.0, 4.0])])
def test_fills(tmp_path, fill, expected):
    path = write(tmp_path, "t,y\n0,1\n1,\n2,nan\n3,4\n4,NA\n")
    series = read_timeseries(path, ["y"], "t", fill=fill)
    np.testing.assert_allclose(series.values[:, 0], expected)
    if fill == "drop":
        assert series.dates == ["0", "3"] and series.lines == [2, 5]


def test_leading_gap_forward_fill_takes_the_first_value():
    values = np.array([[np.nan], [np.nan], [5.0], [np.nan]])
    np.testing.assert_array_equal(fill_missing(values, "ffill")[:, 0], [5, 5, 5, 5])


def test_all_missing_column_cannot_be_filled(tmp_path):
    with pytest.raises(ValueError, match=r"column 'y': every value is missing"):
        read_timeseries(write(tmp_path, "t,y\n0,\n1,NA\n"), ["y"], fill="interpolate")


@pytest.mark.parametrize(("text", "needle"), [
    (GOOD.replace("132", "13x2"), r"line 4, column 'Passengers': got '13x2'; expected a number"),
    (GOOD.replace("132", "1_32"), r"line 4, column 'Passengers': got '1_32'"),
    (GOOD.replace("132", "inf"), r"line 4, column 'Passengers': got 'inf'; expected a finite number"),
    (GOOD.replace('"1949-02",118,2.5', '"1949-02",118'), r"line 3: 2 fields; expected 3"),
    ('"Month","Passengers"\n', r"no data rows"),
    ("", r"empty"),
])
def test_malformed_files(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=needle):
        read_timeseries(path, ["Passengers"], "Month")


def test_missing_column_lists_the_header(tmp_path):
    with pytest.raises(ValueError, match=r"line 1: no column 'Sales'; the header has 'Month', 'Passengers', 'Temp'"):
        read_timeseries(write(tmp_path, GOOD), ["Sales"], "Month")


def test_bad_arguments(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ValueError, match="fill: got 'mean'"):
        read_timeseries(path, ["Passengers"], fill="mean")
    with pytest.raises(ValueError, match="chosen more than once"):
        read_timeseries(path, ["Passengers"], features=["Passengers"])
    with pytest.raises(FileNotFoundError):
        read_timeseries(tmp_path / "absent.csv", ["Passengers"])


def test_columns_in_memory_give_what_the_csv_gives(tmp_path):
    dates = [datetime.date(2021, 1, day) for day in (1, 2, 3, 5)]  # the 4th is missing
    columns = {"date": dates, "sales": [1.0, float("nan"), 3, 5.0], "price": [2, 2, 2, 2]}
    path = tmp_path / "s.csv"
    path.write_text("date,sales,price\n" + "".join(f"{d.isoformat()},{'' if s != s else s},{p}\n" for d, s, p in
                                                   zip(dates, columns["sales"], columns["price"], strict=True)))
    for gaps in ("keep", "fill"):
        expected = read_timeseries(path, ["sales"], "date", ["price"], fill="interpolate", gaps=gaps)
        actual = timeseries_from_columns(columns, ["sales"], "date", ["price"], fill="interpolate", gaps=gaps)
        assert actual.dates == expected.dates and actual.columns == expected.columns
        np.testing.assert_array_equal(actual.values, expected.values)
    with pytest.raises(ValueError, match="data row 4: date '2021-01-05' follows '2021-01-03': 1 missing step"):
        timeseries_from_columns(columns, ["sales"], "date", fill="interpolate")
