"""How ``rnnkit predict`` writes its records: JSON lines, or a CSV table with one column per class probability."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

FORMATS = ("jsonl", "csv")


def write_predictions(records: Sequence[dict[str, Any]], output_format: str, stream: TextIO) -> None:
    """Write prediction records to ``stream``, one per line (JSONL) or one per row (CSV with a header).

    In CSV, the ``probabilities`` mapping of a record becomes one column ``p_<label>`` per class (in the model's
    label order), token and tag lists become space-joined cells, and every other field keeps its name. No
    records write nothing (not even a header).

    Raises:
        ValueError: If ``output_format`` is not one of ``jsonl`` or ``csv``.
    """
    if output_format not in FORMATS:
        raise ValueError(f"--format: got {output_format!r}; expected one of {', '.join(FORMATS)}")
    if output_format == "jsonl":
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        stream.flush()
        return
    rows = [_flat_row(record) for record in records]
    if not rows:
        return
    writer = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    stream.flush()


def _flat_row(record: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: probabilities spread into ``p_<label>`` columns, lists joined with spaces."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key == "probabilities":
            row.update({f"p_{label}": f"{probability:.6g}" for label, probability in value.items()})
        elif isinstance(value, list | tuple):
            row[key] = " ".join(str(item) for item in value)
        else:
            row[key] = value
    return row
