"""IMDB movie reviews (Maas et al. 2011): test accuracy of a BiGRU classifier trained from random embeddings on
the 25,000 labelled training reviews, evaluated on the 25,000 test reviews.

Published test accuracy (../shared/data/imdb/SOURCE.md): Maas et al. 2011 88.89 (full model + BoW); Dai & Le 2015
LSTM from random initialisation ~86.5, SA-LSTM (pretrained) 92.76. Target: >= 88%, no pretrained embeddings.

Honest split: a seeded stratified 10% of the training reviews (``--split-seed``) is written out as the validation
file and chooses the best epoch (and, with several ``--seeds``, whether the averaged model is used); the test
file is evaluated once per model and never used for a choice. Reviews are read with ``<br />`` tags stripped
and cut to 400 word tokens, the first 200 and the last 200 (``--truncate head+tail``), vocabulary 30,000::

    python bench/classify_imdb.py                  # one model, seed 0
    python bench/classify_imdb.py --seeds 0,1,2    # three models and their probability average
    python bench/classify_imdb.py --smoke          # 1 epoch of 20 steps: the pipeline works
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from classify_common import stratified_folds, write_jsonl
from cli_runner import run_rnnkit
from data_paths import require

PUBLISHED = ("Maas et al. 2011 88.89 (full model + BoW); Dai & Le 2015 LSTM from random init ~86.5, "
             "SA-LSTM 92.76 (pretrained); test accuracy")
TEXT = ["--strip-html", "--max-length", "400", "--truncate", "head+tail", "--max-vocab", "30000"]
MODEL = ["--cell", "gru", "--embedding-size", "128", "--hidden-size", "64", "--bidirectional", "--pooling", "max",
         "--input-dropout", "0.25", "--dropout", "0.5", "--epochs", "3", "--batch-size", "64", "--lr", "0.003",
         "--patience", "2", "--max-seconds", "2700", "--log-every", "50"]
VALID_SHARE = 10  # one in this many training reviews of each class is held out


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; anything else is a ValueError naming the flag."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: got {text!r}; expected distinct integers such as 0,1,2")
    return seeds


def split_training_file(folder: Path, split_seed: int) -> tuple[Path, Path]:
    """The training reviews as ``train.jsonl`` (90% of each class) and ``valid.jsonl`` (10%), seeded."""
    from rnnkit.data.readers.labelled import read_labelled

    records = list(read_labelled(require("imdb/imdb_train.tsv.gz")))
    fold = stratified_folds([record.label for record in records], VALID_SHARE, split_seed)
    train = [record for record, k in zip(records, fold, strict=True) if k != 0]
    valid = [record for record, k in zip(records, fold, strict=True) if k == 0]
    return write_jsonl(folder / "train.jsonl", train), write_jsonl(folder / "valid.jsonl", valid)


def ensemble(runs: list[Path], valid_path: Path, test_path: Path) -> dict:
    """Validation and test accuracy of the models' averaged class probabilities."""
    import torch

    import rnnkit as rk
    from rnnkit.data.readers.labelled import read_labelled

    torch.set_num_threads(1)
    result = {}
    for name, path in (("valid", valid_path), ("test", test_path)):
        records = list(read_labelled(path))
        average = None
        for run in runs:
            predictor = rk.load(run)
            rows = predictor.predict(records, batch_size=64)
            probabilities = torch.tensor([[row["probabilities"][label] for label in predictor.labels] for row in rows])
            average = probabilities if average is None else average + probabilities
        labels = rk.load(runs[0]).labels
        truth = torch.tensor([labels.index(record.label) for record in records])
        result[f"ensemble_{name}_accuracy"] = (average.argmax(1) == truth).double().mean().item()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-imdb"), help="folder for the runs (seed-K)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds, one model each (default 0)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the validation split (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS)")
    parser.add_argument("--smoke", action="store_true", help="one epoch of 20 steps")
    args = parser.parse_args()
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        parser.error(str(error))  # one line, exit code 2
    test_path = require("imdb/imdb_test.tsv.gz")
    started = time.perf_counter()
    extra = ["--epochs", "1", "--max-steps-per-epoch", "20"] if args.smoke else []
    with tempfile.TemporaryDirectory(prefix="imdb-split-") as folder:
        train_path, valid_path = split_training_file(Path(folder), args.split_seed)
        runs, results = [], []
        for seed in seeds:
            run = args.out / (f"smoke-{seed}" if args.smoke else f"seed-{seed}")
            command = ["train", "classify", "--data", str(train_path), "--valid", str(valid_path), "--test",
                       str(test_path), "--out", str(run), *TEXT, *MODEL, "--seed", str(seed), *extra]
            print("rnnkit " + " ".join(command), file=sys.stderr, flush=True)
            result, seconds = run_rnnkit(command, args.threads)
            runs.append(run)
            results.append({"seed": seed, "test_accuracy": result["test_accuracy"],
                            "valid_accuracy": result["valid_accuracy"], "test_roc_auc": result["test_roc_auc"],
                            "best_epoch": result["best_epoch"], "wall_seconds": round(seconds, 1)})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        summary = {"benchmark": "imdb", "models": results}
        if len(runs) > 1:
            summary.update(ensemble(runs, valid_path, test_path))
    summary.update({"wall_seconds": round(time.perf_counter() - started, 1), "published": PUBLISHED,
                    "target": ">= 0.88"})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
