"""Pilot runs for choosing the rt_polarity classifier setting on validation data only.

For each fold given, the other nine folds (the fold's training part, exactly as in ``classify_rt_polarity.py``)
go to ``rnnkit train classify`` WITHOUT the test fold: rnnkit holds out 10% of each class of that training part
and reports the validation accuracy of the best epoch, which is the only figure printed. The test folds are never
read. Each setting is the model flags of ``classify_rt_polarity.py`` with the given flags added or replaced::

    python bench/classify_pilot_rt.py --folds 0,1 --setting "" --setting "--word-dropout 0.3" \\
        --setting "--ensemble 3 --hidden-size 64 --embedding-size 64"
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from classify_common import merged, stratified_folds, write_jsonl
from classify_rt_polarity import MODEL
from cli_runner import run_rnnkit
from data_paths import require

from rnnkit.data.readers import read_labelled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", default="0", help="folds whose training parts are used (default 0)")
    parser.add_argument("--setting", action="append", required=True, help="flags added to the model flags")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each run")
    args = parser.parse_args()
    folder = require("rt_polarity")
    records = list(read_labelled([folder / "rt-polarity.pos", folder / "rt-polarity.neg"], encoding="cp1252"))
    fold_of = stratified_folds([record.label for record in records], 10, seed=0)
    folds = [int(part) for part in args.folds.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        for setting in args.setting:
            model = merged(MODEL, shlex.split(setting))
            accuracies, seconds_all = [], []
            for fold in folds:
                train_path = Path(scratch) / f"fold-{fold}-train.jsonl"
                write_jsonl(train_path, [record for record, k in zip(records, fold_of, strict=True) if k != fold])
                run = Path(scratch) / f"run-{len(seconds_all)}-{fold}-{abs(hash(setting))}"
                result, seconds = run_rnnkit(["train", "classify", "--data", str(train_path), "--out", str(run),
                                              "--quiet", *model], args.threads)
                accuracies.append(result["valid_accuracy"])
                seconds_all.append(seconds)
            print(json.dumps({"setting": setting, "folds": folds, "valid_accuracies": accuracies,
                              "mean_valid_accuracy": statistics.mean(accuracies), "seconds": seconds_all}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
