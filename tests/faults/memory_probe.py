"""Run one rnnkit command under a memory limit and report its peak resident memory (a child process of the tests).

    python -m tests.faults.memory_probe LIMIT_MB rnnkit-arguments...

prints one JSON line ``{"code": exit code, "peak_mb": ..., "stderr": ...}``; the limit is RLIMIT_AS (address
space), so a runaway allocation fails inside the child instead of swapping the machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys


def high_water_mb() -> float:
    """Peak resident memory of this process image in MB: VmHWM, which starts afresh at exec (ru_maxrss keeps the
    parent's size from before the exec, the size of the pytest worker that started us)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    limit = int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from rnnkit.cli import main as rnnkit

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = rnnkit(sys.argv[2:])
        except (MemoryError, RuntimeError) as error:  # torch's allocator raises RuntimeError when refused
            code = type(error).__name__
    peak = high_water_mb()
    print(json.dumps({"code": code, "peak_mb": round(peak, 1), "stderr": err.getvalue()}))


if __name__ == "__main__":
    main()
