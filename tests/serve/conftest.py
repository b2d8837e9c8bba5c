"""Fixtures of the serving tests: the tiny fixture runs of every task (tests/fixtures/runs), loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (fastapi, uvicorn) is not installed")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUNS = FIXTURES / "runs"
DATA = FIXTURES / "data"


@pytest.fixture(scope="session")
def predictors():
    """``{task: predictor}`` of the fixture runs (each run directory is named after its task)."""
    from rnnkit.serve import load_runs

    return load_runs(sorted(path for path in RUNS.iterdir() if path.is_dir()))


def series_columns() -> dict[str, list]:
    """The forecast fixture's series as columns, as a client would send it."""
    lines = (DATA / "forecast" / "series.csv").read_text(encoding="utf-8").split()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    return {name: [row[index] if name == "date" else float(row[index]) for row in rows]
            for index, name in enumerate(header)}
