"""Figures of the analysis lab, drawn through matplotlib's Agg canvas (no display, no pyplot state).

* :func:`plot_gradient_flow`: ``||dL_T/dh_k||`` and ``||dh_T/dh_k||`` against the distance T - k, log scale,
  one curve per cell (and the forget gate of LSTM cells over time, when there is one).
* :func:`plot_long_dependency`: the success metric of each cell against sequence length (or delay), one curve
  per cell (and per TBPTT window in a truncation study).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ..train.atomic import readable_file_mode


def save_figure(figure: Any, out_path: Path) -> Path:
    """Write ``figure`` as a PNG to ``out_path`` atomically (a temporary file beside it, then renamed)."""
    out_path = Path(out_path)
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


def _new_figure(panels: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6 * panels, 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _positive(values: list[float]) -> tuple[list[int], list[float]]:
    """(distances, values) of the positive finite values of a list indexed by k = 1..T (distance T - k)."""
    T = len(values)
    pairs = [(T - 1 - index, v) for index, v in enumerate(values) if v > 0 and math.isfinite(v)]
    return [d for d, _ in pairs], [v for _, v in pairs]


def plot_gradient_flow(report: dict[str, Any], out_path: Path, title: str | None = None) -> Path:
    """Draw ``{"length": T, "cells": {cell: {"grad_norm", "jacobian_norm", ...}}}`` into the PNG ``out_path``."""
    cells = report["cells"]
    with_gates = {cell: values["forget_gate"] for cell, values in cells.items() if "forget_gate" in values}
    figure = _new_figure(3 if with_gates else 2)
    colors = {cell: f"C{index}" for index, cell in enumerate(cells)}  # one colour per cell in every panel
    panels = [("grad_norm", r"$\|\partial L_T / \partial h_k\|$"),
              ("jacobian_norm", r"$\|\partial h_T / \partial h_k\|_2$")]
    for index, (key, label) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels) + bool(with_gates), index + 1)
        for cell, values in cells.items():
            distances, norms = _positive(values[key])
            axes.plot(distances, norms, label=cell, color=colors[cell])
            if key == "grad_norm" and "grad_norm_clipped" in values:
                distances, norms = _positive(values["grad_norm_clipped"])
                axes.plot(distances, norms, linestyle="--", color=colors[cell],
                          label=f"{cell}, clipped at {values.get('clip')}")
        axes.set_yscale("log")
        axes.set_xlabel("distance T - k (steps back from the loss)")
        axes.set_ylabel(label)
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize="small")
    if with_gates:
        axes = figure.add_subplot(1, 3, 3)
        for cell, gate in with_gates.items():
            axes.plot(range(1, len(gate) + 1), gate, label=cell, color=colors[cell])
        axes.set_ylim(0, 1)
        axes.set_xlabel("step t")
        axes.set_ylabel("mean forget gate $f_t$")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(title or f"gradient flow over T = {report['length']} steps")
    return save_figure(figure, out_path)


def plot_long_dependency(results: list[dict[str, Any]], out_path: Path, title: str | None = None) -> Path:
    """Draw the results of :func:`~rnnkit.analysis.longdep_train.train_long_dependency` into ``out_path``.

    One curve per cell (and per TBPTT window, when the runs differ in it): the best test metric against length;
    filled markers are runs that cleared the task's bar.
    """
    if not results:
        raise ValueError("results: got none; expected at least one run to plot")
    figure = _new_figure(1)
    axes = figure.add_subplot(1, 1, 1)
    curves: dict[str, list[dict[str, Any]]] = {}
    windows = {run["config"].get("bptt") for run in results}
    for run in results:
        name = run["cell"] if len(windows) == 1 else f"{run['cell']}, bptt {run['config'].get('bptt') or 'full'}"
        curves.setdefault(name, []).append(run)
    for name, runs in curves.items():
        runs = sorted(runs, key=lambda run: run["length"])
        line = axes.plot([run["length"] for run in runs], [run["value"] for run in runs], label=name)[0]
        solved = [run for run in runs if run["solved"]]
        axes.plot([run["length"] for run in solved], [run["value"] for run in solved], "o", color=line.get_color())
        failed = [run for run in runs if not run["solved"]]
        axes.plot([run["length"] for run in failed], [run["value"] for run in failed], "o", mfc="none",
                  color=line.get_color())
    metric = results[0]["metric"]
    if metric == "mse":
        axes.set_yscale("log")
        axes.axhline(1 / 6, color="grey", linestyle=":", label="always 1.0 (MSE 0.167)")
    axes.set_xscale("log")
    lengths = sorted({run["length"] for run in results})
    axes.set_xticks(lengths, [str(length) for length in lengths])
    axes.minorticks_off()
    axes.set_xlabel("sequence length" if results[0]["task"] != "recall" else "delay (sequence length)")
    axes.set_ylabel(f"best test {metric} (filled: solved)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.suptitle(title or f"{results[0]['task']}: success against length")
    return save_figure(figure, out_path)
