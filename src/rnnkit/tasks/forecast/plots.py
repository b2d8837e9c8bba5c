"""A forecast plot: history, the truth, the prediction and its interval, drawn to a PNG without a display."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...train.atomic import atomic_save_file


def plot_forecast(path: Path, history_x: Sequence[int], history: np.ndarray, forecast_x: Sequence[int],
                  prediction: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                  truth: np.ndarray | None = None, labels: Sequence[str] = (), title: str = "",
                  tick_labels: dict[int, str] | None = None) -> Path:
    """Draw one panel per target column: history ``(N, K)``, truth and prediction ``(M, K)``, interval band.

    Args:
        path: a .png, .pdf or .svg file.
        history_x, forecast_x: the row numbers of the history and of the forecast values.
        labels: the target column names.
        tick_labels: row number -> date text for a few x ticks.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot {path}: unknown image type {path.suffix!r}; expected .png, .pdf or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = prediction.shape[1]
    figure, axes_list = plt.subplots(count, 1, figsize=(10, 3.2 * count), squeeze=False)
    for column, axes in enumerate(axes_list[:, 0]):
        axes.plot(history_x, history[:, column], color="0.35", linewidth=1.0, label="history")
        if truth is not None:
            axes.plot(forecast_x, truth[:, column], color="black", linewidth=1.2, label="truth")
        axes.plot(forecast_x, prediction[:, column], color="tab:blue", linewidth=1.4, label="prediction")
        if lower is not None and upper is not None:
            axes.fill_between(forecast_x, lower[:, column], upper[:, column], color="tab:blue", alpha=0.2,
                              label="interval")
        axes.set_ylabel(labels[column] if column < len(labels) else f"target {column}")
        if tick_labels:
            axes.set_xticks(list(tick_labels), list(tick_labels.values()), rotation=30, ha="right")
        axes.legend(loc="upper left", fontsize=8)
    if title:
        axes_list[0, 0].set_title(title)
    figure.tight_layout()
    atomic_save_file(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip(".").lower(), dpi=110))
    plt.close(figure)
    return path


def date_ticks(dates: Sequence[str], start: int, end: int, count: int = 6) -> dict[int, str]:
    """About ``count`` evenly spaced row -> date labels over rows [start, end)."""
    if end <= start:
        return {}
    rows = np.unique(np.linspace(start, end - 1, num=min(count, end - start)).round().astype(int))
    return {int(row): dates[row] for row in rows if row < len(dates)}
