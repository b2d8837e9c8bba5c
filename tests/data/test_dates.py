"""Dates of a series: recognised forms, the inferred step, missing steps refused, kept or filled."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.readers.dates import find_gaps, out_of_order, parse_dates
from rnnkit.data.readers.timeseries import read_timeseries


def test_forms_and_units():
    assert parse_dates(["1949-01", "1949-02", "1950-01"]).positions.tolist() == [1949 * 12, 1949 * 12 + 1, 1950 * 12]
    assert parse_dates(["1-01", "1-02"]).unit == "month"  # the shampoo series' years 1..3
    assert parse_dates(["2021-01-01", "2021-01-02", "2021-01-03"]).unit == "day"  # the 2nd and 3rd are a weekend
    weekdays = parse_dates(["2021-01-08", "2021-01-11"])  # Friday, Monday
    assert weekdays.unit == "business day" and np.diff(weekdays.positions).tolist() == [1]
    assert parse_dates(["2021-01-01 10:00", "2021-01-01T10:30:00"]).unit == "second"
    for texts in (["1/2/2013", "1/3/2013"], ["2021-13"], ["2021-02-30"], [], ["2021-01", "2021-01-05"]):
        assert parse_dates(texts) is None, texts


def test_step_gaps_and_order():
    steps = parse_dates(["2000-01", "2000-04", "2000-07", "2001-01", "2001-04"])  # quarterly, one quarter absent
    step, gaps = find_gaps(steps)
    assert step == 3 and len(gaps) == 1
    assert gaps[0].row == 3 and gaps[0].missing == 1 and steps.text(gaps[0].positions[0], "2000-01") == "2000-10"
    assert find_gaps(parse_dates(["2021-01-08", "2021-01-11", "2021-01-12"]))[1] == []  # a weekend is no gap
    assert out_of_order(parse_dates(["2021-01-01", "2021-01-03", "2021-01-03"])) == 2
    assert out_of_order(steps) is None


def write(tmp_path, text):
    path = tmp_path / "series.csv"
    path.write_text(text, encoding="utf-8")
    return path


DAYS = "day,y\n1984-12-29,1\n1984-12-30,2\n1985-01-01,4\n1985-01-02,5\n"  # 12-31 left out, as in the temperatures


def test_reader_refuses_keeps_or_fills_a_missing_day(tmp_path):
    path = write(tmp_path, DAYS)
    with pytest.raises(ValueError, match=r"series\.csv line 4: date '1985-01-01' follows '1984-12-30': 1 missing"):
        read_timeseries(path, ["y"], "day")
    assert read_timeseries(path, ["y"], "day", gaps="keep").values[:, 0].tolist() == [1, 2, 4, 5]
    filled = read_timeseries(path, ["y"], "day", gaps="fill", fill="interpolate")
    assert filled.dates == ["1984-12-29", "1984-12-30", "1984-12-31", "1985-01-01", "1985-01-02"]
    assert filled.values[:, 0].tolist() == [1, 2, 3, 4, 5] and filled.lines == [2, 3, 4, 4, 5]
    assert read_timeseries(path, ["y"]).values[:, 0].tolist() == [1, 2, 4, 5]  # no date column: rows are steps


def test_reader_errors_for_order_and_options(tmp_path):
    path = write(tmp_path, "day,y\n2021-01-05,1\n2021-01-04,2\n")
    with pytest.raises(ValueError, match=r"series\.csv line 3: date '2021-01-04' is not after '2021-01-05'"):
        read_timeseries(path, ["y"], "day", gaps="keep")
    with pytest.raises(ValueError, match="gaps: got 'skip'"):
        read_timeseries(path, ["y"], "day", gaps="skip")
    with pytest.raises(ValueError, match="gaps: got 'fill' with fill 'none'"):
        read_timeseries(path, ["y"], "day", gaps="fill")
