"""Prediction records written as JSON lines or as a CSV table."""

from __future__ import annotations

import csv
import io
import json

import pytest

from rnnkit.cli.output import write_predictions

RECORDS = [{"text": "good, and \"fun\"", "label": "pos", "probabilities": {"neg": 0.25, "pos": 0.75}},
           {"text": "bad\nplot", "label": "neg", "probabilities": {"neg": 0.9, "pos": 0.1}}]


def test_jsonl_is_one_object_per_record():
    stream = io.StringIO()
    write_predictions(RECORDS, "jsonl", stream)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == RECORDS


def test_csv_spreads_probabilities_into_columns_and_quotes_text():
    stream = io.StringIO()
    write_predictions(RECORDS, "csv", stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert list(rows[0]) == ["text", "label", "p_neg", "p_pos"]
    assert [row["text"] for row in rows] == ['good, and "fun"', "bad\nplot"]
    assert [float(row["p_pos"]) for row in rows] == [0.75, 0.1]


def test_csv_joins_token_and_tag_lists_with_spaces():
    stream = io.StringIO()
    write_predictions([{"tokens": ["John", "lives"], "tags": ["B-PER", "O"]}], "csv", stream)
    assert stream.getvalue() == "tokens,tags\nJohn lives,B-PER O\n"


def test_no_records_write_nothing_and_an_unknown_format_is_refused():
    stream = io.StringIO()
    write_predictions([], "csv", stream)
    assert stream.getvalue() == ""
    with pytest.raises(ValueError, match="--format: got 'xml'"):
        write_predictions(RECORDS, "xml", io.StringIO())
