"""Pilot runs for choosing the SST-2 classifier setting on the dev file only (the test file is never read).

Each setting is the model flags of ``classify_sst2.py`` with the given flags added or replaced; rnnkit trains on
``stsa.binary.train``, picks the best epoch on ``stsa.binary.dev`` and the script prints that dev accuracy::

    python bench/classify_pilot_sst2.py --setting "" --setting "--cell gru" --setting "--ensemble 5"
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from classify_common import merged
from classify_sst2 import MODEL
from cli_runner import run_rnnkit
from data_paths import require


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", action="append", required=True, help="flags added to the model flags")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each run")
    args = parser.parse_args()
    train, dev = (str(require(f"sst/stsa.binary.{split}")) for split in ("train", "dev"))
    with tempfile.TemporaryDirectory() as scratch:
        for number, setting in enumerate(args.setting):
            run = Path(scratch) / f"run-{number}"
            result, seconds = run_rnnkit(["train", "classify", "--data", train, "--valid", dev, "--out", str(run),
                                          "--quiet", *merged(MODEL, shlex.split(setting))], args.threads)
            print(json.dumps({"setting": setting, "dev_accuracy": result["valid_accuracy"],
                              "best_epoch": result["best_epoch"], "seconds": round(seconds)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
