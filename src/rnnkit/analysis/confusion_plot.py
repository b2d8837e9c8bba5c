"""A confusion matrix drawn to a PNG (matplotlib's Agg canvas: no display, no global backend change)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..train.atomic import atomic_save_file


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], out_path: str | os.PathLike[str],
                          title: str = "confusion matrix") -> Path:
    """Write the counts (rows: truth, columns: prediction) as a heat map with the numbers in the cells.

    Raises:
        ValueError: If the matrix is not square with one row per label.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix: got shape {counts.shape}; expected ({len(labels)}, {len(labels)}), one row and "
                         "column per label")
    side = max(3.5, 0.6 * len(labels) + 2.0)
    figure = Figure(figsize=(side + 1.0, side), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels=[str(label) for label in labels], rotation=45, ha="right")
    axes.set_yticks(ticks, labels=[str(label) for label in labels])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = counts.max() / 2 if counts.size else 0
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            axes.text(column, row, str(int(counts[row, column])), ha="center", va="center",
                      color="white" if counts[row, column] > threshold else "black")
    out_path = Path(out_path)
    atomic_save_file(out_path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    return out_path
