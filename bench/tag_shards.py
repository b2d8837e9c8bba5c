"""Tagging from a prepared directory against tagging in memory: peak RSS and training tokens/s, side by side.

Writes a synthetic CoNLL corpus under ``--work``: ``--sentences`` sentences of 5-30 words drawn from a
``--words``-word Zipf vocabulary (exponent 1.1), each word's tag a function of the word and of the tag before it
(12 tags), and a 2,000-sentence validation file. Then, each command in a fresh child process whose peak RSS is read
with ``getrusage(RUSAGE_CHILDREN)`` by a wrapper of its own (``shards_scale.measured``):

1. ``rnnkit prepare tag`` of both files (wall time, sentences/s, peak RSS);
2. ``--rounds`` pairs of bounded training runs (``--steps`` batches each, the same model and settings), in ABBA
   order: ``train tag --data FILE --valid FILE`` (in memory: every sentence read into Python objects and encoded
   before the first step) and ``train tag --data DIR --valid DIR`` (the shards through memory maps, a bounded
   buffer at a time). Reported: each run's peak RSS and wall time, the trainer's tokens/s, and the median over
   rounds of the ratio shards / memory of the tokens/s.

The files are deleted at the end unless ``--keep``. Usage:

    python bench/tag_shards.py --sentences 300000 --steps 150 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shards_scale import measured  # noqa: E402

TAGS = 12
MODEL = ["--cell", "lstm", "--embedding-size", "32", "--hidden-size", "64", "--batch-size", "32", "--epochs", "1",
         "--lr", "0.001", "--quiet"]


def write_conll(path: Path, sentences: int, words: int, seed: int) -> tuple[Path, int]:
    """``sentences`` synthetic sentences (word, tag) in CoNLL columns; returns the path and the word count."""
    rng = np.random.default_rng(seed)
    table = np.array([f"w{number}" for number in range(words)], dtype=object)
    weights = 1.0 / np.arange(1, words + 1) ** 1.1
    weights /= weights.sum()
    total = 0
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, sentences, 20_000):
            rows = min(20_000, sentences - start)
            lengths = rng.integers(5, 31, rows)
            ids = rng.choice(words, lengths.sum(), p=weights)
            previous = np.concatenate([[0], ids[:-1]])
            tags = (ids * 7 + previous % 3) % TAGS  # the word and a little context decide the tag
            lines = [f"{word} T{tag}" for word, tag in zip(table[ids], tags, strict=True)]
            cuts = np.cumsum(lengths)[:-1]
            handle.write("".join("\n".join(sentence) + "\n\n" for sentence in np.split(np.array(lines), cuts)))
            total += int(lengths.sum())
    return path, total


def measure(args: argparse.Namespace) -> dict:
    """Write the files, prepare them, and run the pairs of training runs; the report."""
    work = args.work
    started = time.perf_counter()
    train, tokens = write_conll(work / "train.conll", args.sentences, args.words, 0)
    valid, _ = write_conll(work / "valid.conll", 2_000, args.words, 1)
    report: dict = {"sentences": args.sentences, "tokens": tokens, "bytes": train.stat().st_size,
                    "write_seconds": time.perf_counter() - started}
    run = measured(["prepare", "tag", "--data", str(train), "--out", str(work / "prep")])
    report["prepare"] = {"seconds": run["seconds"], "sentences_per_s": args.sentences / run["seconds"],
                         "max_rss_mb": run["max_rss_mb"], "shards": run["result"]["shards"],
                         "vocab_size": run["result"]["vocab_size"]}
    print(json.dumps({"prepare_tag": report["prepare"]}), flush=True)
    measured(["prepare", "tag", "--data", str(valid), "--out", str(work / "valid-prep"), "--vocab-from",
              str(work / "prep")])
    sources = {"memory": [str(train), "--valid", str(valid)],
               "shards": [str(work / "prep"), "--valid", str(work / "valid-prep")]}
    runs: dict[str, list[dict]] = {"memory": [], "shards": []}
    for number in range(args.rounds):
        for name in (("memory", "shards") if number % 2 == 0 else ("shards", "memory")):
            run = measured(["train", "tag", "--data", *sources[name], "--out", str(work / f"run-{name}-{number}"),
                            "--max-steps-per-epoch", str(args.steps), *MODEL])
            record = {"max_rss_mb": run["max_rss_mb"], "seconds": run["seconds"],
                      "tokens_per_s": run["result"]["tokens_per_second"],
                      "valid_accuracy": run["result"]["valid_accuracy"]}
            runs[name].append(record)
            print(json.dumps({f"train_{name}": record}), flush=True)
    report["train"] = runs
    report["median"] = {name: {key: statistics.median(run[key] for run in records)
                               for key in ("max_rss_mb", "seconds", "tokens_per_s")}
                        for name, records in runs.items()}
    report["median_ratio_shards_over_memory_tokens_per_s"] = statistics.median(
        shards["tokens_per_s"] / memory["tokens_per_s"]
        for shards, memory in zip(runs["shards"], runs["memory"], strict=True))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rnnkit-tag-shards-bench"))
    parser.add_argument("--sentences", type=int, default=300_000)
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=150, help="training batches of each bounded run")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs (ABBA order)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and directories")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    try:
        print(json.dumps(measure(args), indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
