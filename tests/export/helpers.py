"""Shared pieces of the export tests: a tiny trained run per task (once per session), random variable-length
inputs built from a graph's sidecar entry, and the comparison of two sets of outputs."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.tasks import TASKS

_RUNS: dict[str, Path] = {}
TOLERANCE = 1e-4


def tiny_run(name: str, factory: pytest.TempPathFactory, **model: Any) -> Path:
    """The task's tiny contract run (``tests/contract/tiny_<task>.py``), trained once per test session; ``model``:
    settings of its model config changed (``bidirectional=False``)."""
    key = name + repr(sorted(model.items()))
    if key not in _RUNS:
        base = factory.mktemp(f"export-{name}")
        tiny = importlib.import_module(f"tests.contract.tiny_{name}")
        keywords = tiny.tiny(base / "data")
        keywords["model"] = dataclasses.replace(keywords["model"], **model)
        TASKS[name].train(base / "run", **keywords)
        _RUNS[key] = base / "run"
    return _RUNS[key]


def load(name: str, factory: pytest.TempPathFactory, **model: Any) -> Any:
    return rk.load(tiny_run(name, factory, **model))


def random_inputs(entries: list[dict[str, Any]], batch: int, time: int, limits: dict[str, int],
                  generator: torch.Generator, given: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Random inputs for a graph's sidecar ``entries``: ``batch`` rows, ``time`` steps, lengths in 1..time
    (one full length, the rest random), integer ids below ``limits[name]``, states small normal values."""
    given = dict(given or {})
    lengths = torch.randint(1, time + 1, (batch,), generator=generator)
    lengths[int(torch.randint(0, batch, (1,), generator=generator))] = time
    values: dict[str, torch.Tensor] = {}
    for entry in entries:
        name = entry["name"]
        if name in given:
            values[name] = given[name]
            continue
        shape = [batch if size == "batch" else time if size in ("time", "source", "steps") else
                 4 if size == "characters" else size for size in entry["shape"]]
        if name == "lengths":
            values[name] = lengths
        elif entry["dtype"] == "int64":
            values[name] = torch.randint(0, limits[name], shape, generator=generator)
        elif entry["dtype"] == "bool":
            values[name] = torch.arange(time).unsqueeze(0) < lengths.unsqueeze(1)
        else:
            values[name] = 0.5 * torch.randn(shape, generator=generator)
    return values


def assert_close(got: dict[str, Any], want: dict[str, Any], names: list[str], where: str) -> None:
    """Every output in ``names`` within :data:`TOLERANCE` (max abs difference), else a message naming it."""
    for name in names:
        a, b = np.asarray(got[name], dtype=np.float64), np.asarray(want[name], dtype=np.float64)
        assert a.shape == b.shape, f"{where}: {name} has shape {a.shape}; expected {b.shape}"
        difference = float(np.abs(a - b).max()) if a.size else 0.0
        assert difference <= TOLERANCE, f"{where}: {name} differs by {difference:.2e}"
