"""A tiny language-model run for the fault tests: a few hundred characters, 16 hidden units, seconds to train."""

from __future__ import annotations

import json
import random
from pathlib import Path

TINY = ["--cell", "lstm", "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1", "--batch-size", "4",
        "--bptt", "16", "--seed", "0", "--quiet"]
WORDS = "the cat sat on a mat and dog ran to big red hat".split()


def write_text(path: Path, lines: int = 24, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(lines)) + "\n",
                    encoding="utf-8")
    return path


def metrics_epochs(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def train_args(data: Path, run: Path, epochs: int = 1, *extra: object) -> list[object]:
    return ["train", "lm", "--data", data, "--out", run, *TINY, "--epochs", epochs, *extra]
