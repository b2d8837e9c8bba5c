"""Learning curves from a run's metrics.jsonl, drawn to a PNG without a display.

metrics.jsonl holds one JSON object per epoch, as the trainer appends them::

    {"epoch": 1, "train_loss": 2.31, "valid_loss": 2.12, "train_ppl": 10.1, "valid_ppl": 8.3, "lr": 0.001}

The first panel shows train_loss and valid_loss against the epoch; a second panel, when there are any, shows the
other numeric ``*_loss``, ``*_ppl`` and ``*_bpc`` values. matplotlib is drawn through its Agg canvas directly
(no pyplot, no global backend change), so this works on a machine without a display and inside any program.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .atomic import readable_file_mode

MAIN_KEYS = ("train_loss", "valid_loss")
OTHER_SUFFIXES = ("_loss", "_ppl", "_bpc")


def read_metrics(metrics_path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file, one dict per non-blank line.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line is not a JSON object.
    """
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{metrics_path}: no such metrics file (expected a run's metrics.jsonl)")
    records = []
    with metrics_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{metrics_path}:{number}: not valid JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise ValueError(f"{metrics_path}:{number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
    return records


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of the records that hold a finite number under ``key``."""
    epochs, values = [], []
    for index, record in enumerate(records):
        value = record.get(key)
        if _is_number(value):
            epoch = record.get("epoch")
            epochs.append(float(epoch) if _is_number(epoch) else float(index + 1))
            values.append(float(value))
    return epochs, values


def _plotted_keys(records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The keys of the first panel (train/valid loss) and of the second (other losses, ppl, bpc)."""
    present: list[str] = []
    for record in records:
        for key, value in record.items():
            if key not in present and _is_number(value):
                present.append(key)
    main = [key for key in MAIN_KEYS if key in present]
    others = [key for key in present if key not in MAIN_KEYS and key.endswith(OTHER_SUFFIXES)]
    return main, others


def _draw_panel(axes: Any, records: list[dict[str, Any]], keys: list[str], ylabel: str) -> None:
    values_seen: list[float] = []
    for key in keys:
        epochs, values = _series(records, key)
        axes.plot(epochs, values, marker="o", markersize=3, label=key)
        values_seen += values
    positive = [value for value in values_seen if value > 0]
    if positive and len(positive) == len(values_seen) and max(positive) / min(positive) > 100:
        axes.set_yscale("log")  # perplexities early in training span orders of magnitude
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    axes.legend()


def plot_learning_curves(metrics_path: Path, out_path: Path, title: str | None = None) -> Path:
    """Draw the learning curves of ``metrics_path`` into the PNG ``out_path`` and return ``out_path``.

    Args:
        metrics_path: a metrics.jsonl file, one JSON object per epoch.
        out_path: the PNG to write; written to a temporary file beside it, then moved into place.
        title: the figure's title; by default the name of the folder holding the metrics (the run).

    Raises:
        FileNotFoundError: ``metrics_path`` does not exist.
        ValueError: the file holds no records, or no loss/ppl/bpc numbers to draw.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics_path, out_path = Path(metrics_path), Path(out_path)
    records = read_metrics(metrics_path)
    if not records:
        raise ValueError(f"{metrics_path}: no metrics to plot")
    main, others = _plotted_keys(records)
    if not main and not others:
        raise ValueError(f"{metrics_path}: no metrics to plot (expected numeric train_loss, valid_loss, "
                         f"*_loss, *_ppl or *_bpc values; found keys {sorted({k for r in records for k in r})})")
    panels = [(keys, label) for keys, label in ((main, "loss"), (others, "value")) if keys]

    figure = Figure(figsize=(6.4 * len(panels), 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    for index, (keys, label) in enumerate(panels):
        _draw_panel(figure.add_subplot(1, len(panels), index + 1), records, keys, label)
    figure.suptitle(title if title is not None else (metrics_path.parent.name or str(metrics_path)))

    out_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        os.chmod(temporary, readable_file_mode())  # mkstemp makes the file private; a plot is meant to be read
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out_path
