"""Run the ``rnnkit`` command from a benchmark script and read back its final JSON result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def rnnkit_program() -> list[str]:
    """The ``rnnkit`` console script of this interpreter's environment, or the module run by this interpreter."""
    script = Path(sys.executable).with_name("rnnkit")
    if script.exists():
        return [str(script)]
    found = shutil.which("rnnkit")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from rnnkit.cli import main; sys.exit(main())"]


def run_rnnkit(arguments: list[str], threads: int | None) -> tuple[dict, float]:
    """Run ``rnnkit ARGUMENTS`` (progress on our stderr); return its final JSON line and the wall seconds."""
    environment = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    start = time.perf_counter()
    completed = subprocess.run([*rnnkit_program(), *arguments], stdout=subprocess.PIPE, text=True, env=environment)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"rnnkit exited with code {completed.returncode} after {seconds:.0f} s")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"rnnkit printed no JSON result; its stdout was:\n{completed.stdout}")
    return json.loads(lines[-1]), seconds
