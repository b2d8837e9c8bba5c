"""Time stamps of a series: parse ISO-style dates, infer the step between rows, find the missing steps.

Recognised forms (every row of the column in one form): ``YYYY-MM`` (also ``Y-MM``, as the shampoo series'
``1-01``), ``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM[:SS]`` (or with ``T``). A column whose rows are mostly in one
form is a date column: every row must then be a valid date of that form (:func:`bad_date` finds the first that
is not; one malformed row never switches the checks off). A column mostly in no such form is not checked: its
rows are taken as consecutive steps.

The step is the most common difference between neighbouring rows (in months, days or seconds). Daily dates
that never fall on a Saturday or Sunday count in business days, so a weekend is not a gap; a holiday is (for
trading-day data, ``gaps="keep"`` takes the rows as consecutive steps).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GAPS", "Gap", "StampedSteps", "bad_date", "find_gaps", "out_of_order", "parse_dates"]

GAPS = ("refuse", "keep", "fill")
_MONTH = re.compile(r"^(\d{1,4})-(\d{1,2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")
_FORM_NAMES = {_MONTH: "a valid YYYY-MM month", _DAY: "a valid YYYY-MM-DD date",
               _TIME: "a valid YYYY-MM-DD HH:MM[:SS] time"}


@dataclass(frozen=True)
class StampedSteps:
    """Dates as integer positions on one clock: ``positions[n]`` in ``unit`` (month, business day, day, second)."""

    positions: np.ndarray  # (N,) int64
    unit: str

    def text(self, position: int, like: str) -> str:
        """The date at ``position`` written as ``like`` is written (for inserted rows)."""
        if self.unit == "month":
            year, month = divmod(int(position), 12)
            return f"{year:0{len(like.split('-')[0])}d}-{month + 1:02d}"
        if self.unit == "business day":
            return str(np.busday_offset(np.datetime64("1970-01-05"), int(position)))  # a Monday
        if self.unit == "day":
            return str(np.datetime64(int(position), "D"))
        return str(np.datetime64(int(position), "s")).replace("T", "T" if "T" in like else " ")


@dataclass(frozen=True)
class Gap:
    """Rows ``row - 1`` and ``row`` are ``missing + 1`` steps apart; ``positions`` are the missing ones."""

    row: int
    missing: int
    positions: list[int]


def parse_dates(texts: Sequence[str]) -> StampedSteps | None:
    """The dates of ``texts`` on a common clock, or None where they are not all in one recognised form."""
    if not texts:
        return None
    if all(_MONTH.match(text) for text in texts):
        parts = [_MONTH.match(text).groups() for text in texts]
        if not all(1 <= int(month) <= 12 for _, month in parts):
            return None
        return StampedSteps(np.array([int(year) * 12 + int(month) - 1 for year, month in parts]), "month")
    try:
        if all(_DAY.match(text) for text in texts):
            days = np.array(texts, dtype="datetime64[D]")
            if not np.is_busday(days).all():
                return StampedSteps(days.astype(np.int64), "day")
            return StampedSteps(np.busday_count(np.datetime64("1970-01-05"), days).astype(np.int64), "business day")
        if all(_TIME.match(text) for text in texts):
            seconds = np.array([text.replace(" ", "T") for text in texts], dtype="datetime64[s]")
            return StampedSteps(seconds.astype(np.int64), "second")
    except ValueError:  # a well-formed but impossible date such as 2021-02-30
        return None
    return None


def _valid(text: str, form: re.Pattern[str]) -> bool:
    if not form.match(text):
        return False
    if form is _MONTH:
        return 1 <= int(form.match(text)[2]) <= 12
    try:
        np.datetime64(text.replace(" ", "T"), "s" if form is _TIME else "D")
    except ValueError:  # a well-formed but impossible date such as 2021-02-30
        return False
    return True


def bad_date(texts: Sequence[str]) -> tuple[int, str] | None:
    """The first row that breaks a date column, as ``(row, expected form)``; None when every row is a valid date
    of the column's form, or when the column is not a date column (most of its rows in no recognised form)."""
    counts = {form: sum(1 for text in texts if form.match(text)) for form in (_MONTH, _DAY, _TIME)}
    form = max(counts, key=counts.get)
    if not texts or 2 * counts[form] < len(texts):
        return None
    for row, text in enumerate(texts):
        if not _valid(text, form):
            return row, _FORM_NAMES[form]
    return None


def out_of_order(steps: StampedSteps) -> int | None:
    """The first row whose date is not after the previous row's, or None when they strictly increase."""
    late = np.nonzero(np.diff(steps.positions) <= 0)[0]
    return int(late[0]) + 1 if len(late) else None


def find_gaps(steps: StampedSteps) -> tuple[int, list[Gap]]:
    """The step (the most common difference) and every place where neighbouring rows are more than a step apart.

    The dates must increase (see :func:`out_of_order`).
    """
    differences = np.diff(steps.positions)
    if not len(differences):
        return 1, []
    values, counts = np.unique(differences, return_counts=True)
    step = int(values[np.argmax(counts)])
    gaps = []
    for row in np.nonzero(differences > step)[0] + 1:
        start, end = int(steps.positions[row - 1]), int(steps.positions[row])
        positions = list(range(start + step, end, step))
        gaps.append(Gap(row=int(row), missing=len(positions), positions=positions))
    return step, gaps
