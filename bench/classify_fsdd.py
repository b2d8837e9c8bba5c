"""Free Spoken Digit Dataset: test accuracy on the standard split, 10 digits, via ``rnnkit train audio``.

Published (../shared/data/fsdd/SOURCE.md): no canonical leaderboard; MFCC + LSTM/CNN models are reported at
~95-99% on the official split (approximate). Target: >= 97%.

The standard split (the dataset's README): recordings with index 0-4 (``{digit}_{speaker}_{0-4}.wav``, 300 files)
are the test set, 5-49 (2,700 files) the training set. ``rnnkit train audio`` holds out 10% of each digit of the
training set (seeded) for validation, which chooses the epoch; the test set is evaluated once, at the end. The
files are selected by glob patterns that rnnkit expands itself (quoted, so the printed command is short)::

    python bench/classify_fsdd.py            # the benchmark (~5-10 min on one thread of a shared machine)
    python bench/classify_fsdd.py --smoke    # 1 epoch of 5 steps: the pipeline works

Prints the exact command, the test accuracy, macro-F1, the confusion matrix (and its PNG), the best epoch and the
wall time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from cli_runner import run_rnnkit
from data_paths import require

PUBLISHED = "MFCC + LSTM/CNN ~95-99% on the official split (approximate, non-canonical; SOURCE.md)"
MODEL = ["--format", "names", "--features", "logmel", "--n-mels", "40", "--window-ms", "25", "--hop-ms", "10",
         "--cell", "lstm", "--hidden-size", "128", "--num-layers", "1", "--bidirectional", "--pooling", "max",
         "--dropout", "0.3", "--epochs", "12", "--batch-size", "32", "--lr", "0.003", "--schedule", "cosine",
         "--patience", "4", "--seed", "0", "--max-seconds", "900", "--log-every", "50"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-fsdd"), help="folder for the run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS)")
    parser.add_argument("--smoke", action="store_true", help="one epoch of 5 steps")
    args = parser.parse_args()
    recordings = require("fsdd/recordings")
    train = [str(recordings / "*_[5-9].wav"), str(recordings / "*_[1-4][0-9].wav")]  # index 5-49
    test = [str(recordings / "*_[0-4].wav")]  # index 0-4: the official test set
    extra = ["--epochs", "1", "--max-steps-per-epoch", "5"] if args.smoke else []
    command = ["train", "audio", "--data", *train, "--test", *test, "--out",
               str(args.out / ("smoke" if args.smoke else "run")), *MODEL, *extra]
    print("rnnkit " + shlex.join(command), file=sys.stderr, flush=True)
    started = time.perf_counter()
    result, _ = run_rnnkit(command, args.threads)
    print(json.dumps({"benchmark": "fsdd", "test_accuracy": result["test_accuracy"],
                      "test_macro_f1": result["test_macro_f1"], "test_examples": result["test_examples"],
                      "valid_accuracy": result["valid_accuracy"], "best_epoch": result["best_epoch"],
                      "confusion_matrix": result["test_confusion_matrix"],
                      "confusion_png": str(Path(result["run"]) / "confusion_test.png"),
                      "wall_seconds": time.perf_counter() - started, "published": PUBLISHED, "target": ">= 0.97"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
