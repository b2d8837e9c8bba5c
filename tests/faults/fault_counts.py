"""Counting what the fault suite tried, for its closing figures (``make test-faults`` prints them).

Each test adds to named counters; with ``RNNKIT_FAULT_COUNTS=FILE`` set, every addition is appended to FILE as a
JSON line (so the counts of pytest-xdist workers add up too) and ``python -m tests.faults.fault_counts FILE``
prints the totals. Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path


def count(name: str, amount: int = 1) -> None:
    target = os.environ.get("RNNKIT_FAULT_COUNTS")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({name: amount}) + "\n")


def peak(name: str, value: float) -> None:
    """Record a maximum (e.g. peak memory in MB) rather than a sum."""
    count(f"max:{name}", value)


def totals(path: Path) -> dict[str, float]:
    sums: Counter = Counter()
    maxima: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for name, value in json.loads(line).items():
            if name.startswith("max:"):
                maxima[name[4:]] = max(maxima.get(name[4:], 0), value)
            else:
                sums[name] += value
    return {**sums, **{f"peak {name}": value for name, value in maxima.items()}}


if __name__ == "__main__":
    for name, value in sorted(totals(Path(sys.argv[1])).items()):
        print(f"fault suite: {name}: {value:g}")
