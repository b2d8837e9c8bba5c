"""Train the contract tests' tiny run of each named task into OUT/<task>, alone or as one rank under torchrun.

    python tests/contract/ddp_worker.py OUT lm classify ...                          # one process
    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/contract/ddp_worker.py OUT lm ...

Each process writes its own copy of the tiny data (the same bytes) under OUT/data-<task>-rank<R>; rank 0 writes
the run directories. The test compares the two processes' weights with the single process's. A name
``stop:<task>`` trains that task into OUT/stop-<task> with a callback that asks to stop on the LAST rank only, after
its second step: every rank must stop there together (a rank that went on alone would wait for the others in its
next collective call for ever).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests package, for tests.contract.tiny_<task>

import torch  # noqa: E402

from rnnkit.tasks import TASKS  # noqa: E402
from rnnkit.train import Callback  # noqa: E402


class StopOnLastRank(Callback):
    """Asks to stop after step ``step`` on the last rank alone."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.last_rank = int(os.environ.get("RANK", "0")) == int(os.environ.get("WORLD_SIZE", "1")) - 1

    def on_step_end(self, trainer, step: int, loss: float) -> bool:
        return self.last_rank and step >= self.step


def main(out: Path, names: list[str]) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:  # one process group for all the runs: each run's set-up finds it and leaves it open
        torch.distributed.init_process_group("gloo")
    for name in names:
        stop = name.startswith("stop:")
        name = name.removeprefix("stop:")
        tiny = importlib.import_module(f"tests.contract.tiny_{name}")
        TASKS[name].train(out / (f"stop-{name}" if stop else name), **tiny.tiny(out / f"data-{name}-rank{rank}"),
                          callbacks=[StopOnLastRank(2)] if stop else [])
    if distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
