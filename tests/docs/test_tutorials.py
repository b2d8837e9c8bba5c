"""Every tutorial page's code runs: the blocks the documentation build executes (```python exec="on" ...```) are
extracted and run in order, one page per process (as the build runs them, in one session per page)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
SLOW = {"gates.md", "language-models.md", "forecasting.md", "gradients.md"}  # 20-60 s each on an idle CPU
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)


def executed_code(page: Path) -> str:
    """The page's executed blocks, joined in order."""
    blocks = [code for options, code in BLOCK.findall(page.read_text(encoding="utf-8")) if 'exec="on"' in options]
    return "\n".join(blocks)


def test_every_nav_page_exists_and_every_tutorial_executes_code():
    navigation = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name in re.findall(r":\s*(\S+\.md)\s*$", navigation, re.M):
        assert (ROOT / "docs" / name).is_file(), name
    pages = sorted(TUTORIALS.glob("*.md"))
    assert len(pages) >= 6
    for page in pages:
        assert f"tutorials/{page.name}" in navigation, page.name
        assert executed_code(page).strip(), f"{page.name}: no executed code block"


def run_page(page: Path) -> str:
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", executed_code(page)], cwd=ROOT / "docs", env=environment,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{page.name}:\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in TUTORIALS.glob("*.md") if p.name not in SLOW))
def test_fast_tutorial_runs(name):
    output = run_page(TUTORIALS / name)
    assert "Traceback" not in output


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_slow_tutorial_runs(name):
    output = run_page(TUTORIALS / name)
    if name == "forecasting.md":  # the page's claim: log + relative beats both baselines on its series
        line = next(row for row in output.splitlines() if row.startswith("log, relative"))
        rmse, persistence, seasonal = (float(x) for x in re.findall(r"\d+\.\d+", line))
        assert rmse < persistence and rmse < seasonal, line
