"""Corpora larger than memory: ``rnnkit prepare lm`` and ``train lm --data DIR`` on a synthetic Zipf word corpus.

Writes a corpus of ``--size-mb`` MB in ``--files`` files (words drawn from a 50,000-word vocabulary with Zipf
exponent 1.1, 5-30 words a line) under ``--work`` and measures, each command in a fresh child process whose peak
RSS is read with ``getrusage(RUSAGE_CHILDREN)`` by a wrapper process of its own (the largest process of the tree:
with ``--workers`` > 1 the workers are separate processes of about the same size):

1. ``prepare``: wall time, tokens, tokens/s and peak RSS (one worker; then ``--workers 2`` for the time);
2. ``train lm --data DIR`` for ``--steps`` windows: peak RSS and tokens/s;
3. on a ``--compare-mb`` MB corpus: the training tokens/s of windows read from the shards against the same
   windows from the in-memory tensor, side by side in one process (same model, same weights, alternating blocks of
   ``--block`` steps, ABBA order; median of the per-round ratios), and the peak RSS of ``train lm`` on that text
   read in memory against the prepared directory.

With ``--classify-texts N`` it measures the classify side instead: ``N`` short labelled texts (2-12 words of a
5,000-word Zipf vocabulary, 2 classes) in one CSV; ``prepare classify`` (time, texts/s, peak RSS) and ``train
classify --data DIR`` for ``--steps`` batches of ``--classify-batch-size`` (peak RSS: the texts are read a
bounded buffer at a time).

The corpora are deleted at the end unless ``--keep``. Usage:

    python bench/shards_scale.py --size-mb 300 --compare-mb 100          # about 10 min on a busy 2-core machine
    python bench/shards_scale.py --size-mb 2000 --skip-compare           # the 2 GB corpus of issue 21
    python bench/shards_scale.py --classify-texts 5000000 --steps 200    # 5 million short labelled texts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VOCAB_WORDS = 50_000
COMPARE_VOCAB = 10_000  # the side-by-side model's vocabulary: a smaller softmax leaves the data path a larger share
ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ("import json, resource, subprocess, sys, time; start = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True); "
           "print(json.dumps({'rc': done.returncode, 'stdout': done.stdout, 'seconds': time.perf_counter() - start, "
           "'max_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")


def write_corpus(folder: Path, size_mb: float, files: int, seed: int) -> list[Path]:
    """Zipf-distributed pseudo-words in ``files`` files of about ``size_mb / files`` MB each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words, seen = [], set()
    while len(words) < VOCAB_WORDS:
        word = "".join(rng.choice(letters, rng.integers(2, 10)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    table = np.array(words, dtype=object)
    weights = 1.0 / np.arange(1, VOCAB_WORDS + 1) ** 1.1
    weights /= weights.sum()
    paths, per_file = [], int(size_mb * 1e6 / files)
    for number in range(files):
        path = folder / f"part-{number:03d}.txt"
        with open(path, "w", encoding="utf-8") as handle:
            written = 0
            while written < per_file:
                lengths = rng.integers(5, 31, max(100, min(20_000, (per_file - written) // 100)))
                ids = rng.choice(VOCAB_WORDS, lengths.sum(), p=weights)
                cuts = np.cumsum(lengths)[:-1]
                text = "\n".join(" ".join(line) for line in np.split(table[ids], cuts)) + "\n"
                handle.write(text)
                written += len(text)
        paths.append(path)
    return paths


def measured(arguments: list[str], threads: int = 2) -> dict:
    """Run ``rnnkit ARGUMENTS`` in a child of a fresh wrapper process: its JSON result, seconds and peak RSS."""
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "rnnkit", *arguments]
    report = json.loads(subprocess.run(command, stdout=subprocess.PIPE, text=True, env=environment,
                                       check=True).stdout)
    if report["rc"] != 0:
        raise SystemExit(f"rnnkit {' '.join(arguments)}: exit {report['rc']}")
    lines = report["stdout"].strip().splitlines()
    return {"result": json.loads(lines[-1]) if lines else {}, "seconds": report["seconds"],
            "max_rss_mb": report["max_rss_mb"]}


MODEL = ["--cell", "lstm", "--embedding-size", "32", "--hidden-size", "64", "--batch-size", "16", "--bptt", "35",
         "--epochs", "1", "--quiet", "--lr", "0.001"]


def side_by_side(text_path: Path, prepared: Path, steps: int, block: int, rounds: int) -> dict:
    """Tokens/s of the same training windows read from the shards and from the in-memory tensor (one process)."""
    import torch

    from rnnkit.data.corpus import CorpusConfig, encode_text
    from rnnkit.data.readers.text import read_text
    from rnnkit.data.shard_streams import ShardStreams
    from rnnkit.data.shards import ShardedCorpus
    from rnnkit.data.streams import batchify, bptt_windows
    from rnnkit.models import LanguageModel, LanguageModelConfig
    from rnnkit.tasks.lm.data import window_loss
    from rnnkit.train.trainer import detach_state

    torch.set_num_threads(2)
    corpus_dir = ShardedCorpus(prepared)
    corpus = CorpusConfig(level="word", max_vocab=COMPARE_VOCAB)
    ids = encode_text(read_text(text_path), corpus_dir.vocab, corpus)
    assert torch.equal(ids[:100_000], torch.from_numpy(corpus_dir.read(0, 100_000))), "shards differ from memory"
    batch, bptt = 16, 35
    memory_windows = list(bptt_windows(batchify(ids, batch), bptt))[:steps]
    shard_streams = ShardStreams(corpus_dir, 0, len(corpus_dir), batch)
    spans = list(shard_streams.spans(bptt))[:steps]
    torch.manual_seed(0)
    model = LanguageModel(len(corpus_dir.vocab), LanguageModelConfig(cell="lstm", embedding_size=32, hidden_size=64))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train(source: str, start: int) -> float:
        state, tokens, began = None, 0, time.perf_counter()
        for index in range(start, start + block):
            window = memory_windows[index] if source == "memory" else shard_streams.window(spans[index])
            result = window_loss(model, window, state)
            optimizer.zero_grad()
            (result.loss_sum / result.count).backward()
            optimizer.step()
            state = detach_state(result.state)
            tokens += result.tokens
        return tokens / (time.perf_counter() - began)

    train("memory", 0), train("shards", 0)  # warm-up
    speeds: dict[str, list[float]] = {"memory": [], "shards": []}
    ratios = []
    for round_number in range(rounds):
        start = (round_number * block) % max(1, steps - block)
        order = ("memory", "shards") if round_number % 2 == 0 else ("shards", "memory")
        measured_round = {source: train(source, start) for source in order}
        for source, value in measured_round.items():
            speeds[source].append(value)
        ratios.append(measured_round["shards"] / measured_round["memory"])
    return {"memory_tokens_per_s": statistics.median(speeds["memory"]),
            "shards_tokens_per_s": statistics.median(speeds["shards"]),
            "ratio_shards_over_memory": statistics.median(ratios), "rounds": rounds, "block": block}


CLASSIFY_WORDS = 5_000
CLASSIFY_MODEL = ["--cell", "lstm", "--embedding-size", "32", "--hidden-size", "64", "--epochs", "1", "--quiet",
                  "--lr", "0.001"]


def write_labelled(path: Path, count: int, seed: int) -> Path:
    """``count`` short texts (2-12 Zipf words) with a label ``pos`` / ``neg`` that a marker word predicts."""
    rng = np.random.default_rng(seed)
    table = np.array([f"w{number}" for number in range(CLASSIFY_WORDS)], dtype=object)
    weights = 1.0 / np.arange(1, CLASSIFY_WORDS + 1) ** 1.1
    weights /= weights.sum()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for start in range(0, count, 100_000):
            rows = min(100_000, count - start)
            lengths = rng.integers(2, 13, rows)
            labels = rng.integers(0, 2, rows)
            words = np.split(table[rng.choice(CLASSIFY_WORDS, lengths.sum(), p=weights)], np.cumsum(lengths)[:-1])
            handle.write("".join(f"{' '.join(row)} {'yes' if label else 'no'},{'pos' if label else 'neg'}\n"
                                 for row, label in zip(words, labels, strict=True)))
    return path


def classify_bench(work: Path, texts: int, steps: int, batch_size: int = 64) -> dict:
    """``prepare classify`` and a bounded ``train classify --data DIR`` on ``texts`` short texts."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data, valid = write_labelled(work / "train.csv", texts, 0), write_labelled(work / "valid.csv", 2_000, 1)
    report: dict = {"texts": texts, "write_seconds": time.perf_counter() - started, "csv_bytes": data.stat().st_size}
    run = measured(["prepare", "classify", "--data", str(data), "--out", str(work / "prep")])
    report["prepare"] = {"seconds": run["seconds"], "texts_per_s": texts / run["seconds"],
                         "tokens": run["result"]["tokens"], "max_rss_mb": run["max_rss_mb"],
                         "shards": run["result"]["shards"]}
    print(json.dumps({"prepare_classify": report["prepare"]}), flush=True)
    measured(["prepare", "classify", "--data", str(valid), "--out", str(work / "valid-prep"), "--vocab-from",
              str(work / "prep")])
    run = measured(["train", "classify", "--data", str(work / "prep"), "--valid", str(work / "valid-prep"),
                    "--out", str(work / "run"), "--max-steps-per-epoch", str(steps), "--batch-size", str(batch_size),
                    *CLASSIFY_MODEL])
    report["train"] = {"max_rss_mb": run["max_rss_mb"], "seconds": run["seconds"], "steps": steps,
                       "batch_size": batch_size, "epoch_steps": run["result"].get("step"),
                       "valid_accuracy": run["result"].get("valid_accuracy")}
    print(json.dumps({"train_classify": report["train"]}), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rnnkit-shards-bench"))
    parser.add_argument("--size-mb", type=float, default=300.0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--compare-mb", type=float, default=100.0)
    parser.add_argument("--steps", type=int, default=200, help="training windows of the bounded train runs")
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora and directories")
    parser.add_argument("--side-by-side", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--classify-texts", type=int, default=0,
                        help="measure prepare/train classify on this many short texts instead")
    parser.add_argument("--classify-batch-size", type=int, default=64)
    args = parser.parse_args()
    if args.classify_texts:
        shutil.rmtree(args.work, ignore_errors=True)
        try:
            print(json.dumps(classify_bench(args.work, args.classify_texts, args.steps,
                                            args.classify_batch_size), indent=1))
        finally:
            if not args.keep:
                shutil.rmtree(args.work, ignore_errors=True)
        return
    if args.side_by_side:
        print(json.dumps(side_by_side(*args.side_by_side, 400, args.block, args.rounds)))
        return
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    report: dict = {"size_mb": args.size_mb}
    try:
        started = time.perf_counter()
        files = write_corpus(work / "big", args.size_mb, args.files, seed=0)
        valid = write_corpus(work / "valid", 0.05, 1, seed=1)
        report["write_seconds"] = time.perf_counter() - started
        report["corpus_bytes"] = sum(path.stat().st_size for path in files)
        for workers in (1, 2):
            out = work / f"prep-w{workers}"
            run = measured(["prepare", "lm", "--data", *map(str, files), "--out", str(out), "--level", "word",
                            "--workers", str(workers), "--quiet"])
            tokens = run["result"]["tokens"]
            report[f"prepare_workers{workers}"] = {"seconds": run["seconds"], "tokens": tokens,
                                                   "tokens_per_s": tokens / run["seconds"],
                                                   "max_rss_mb": run["max_rss_mb"],
                                                   "shards": run["result"]["shards"],
                                                   "vocab_size": run["result"]["vocab_size"]}
            print(json.dumps({f"prepare_workers{workers}": report[f"prepare_workers{workers}"]}), flush=True)
            if workers == 2:
                shutil.rmtree(out)
        prepared = work / "prep-w1"
        measured(["prepare", "lm", "--data", str(valid[0]), "--out", str(work / "valid-prep"), "--vocab-from",
                  str(prepared), "--quiet"])
        run = measured(["train", "lm", "--data", str(prepared), "--valid", str(work / "valid-prep"), "--out",
                        str(work / "run-shards"), "--max-steps-per-epoch", str(args.steps), *MODEL])
        report["train_shards"] = {"max_rss_mb": run["max_rss_mb"], "seconds": run["seconds"],
                                  "tokens_per_s": run["result"]["tokens_per_second"], "steps": args.steps}
        print(json.dumps({"train_shards": report["train_shards"]}), flush=True)
        if not args.skip_compare:
            small = write_corpus(work / "compare", args.compare_mb, 1, seed=2)[0]
            measured(["prepare", "lm", "--data", str(small), "--out", str(work / "compare-prep"), "--level", "word",
                      "--max-vocab", str(COMPARE_VOCAB), "--quiet"])
            for name, data in (("memory", small), ("shards", work / "compare-prep")):
                run = measured(["train", "lm", "--data", str(data), "--valid", str(valid[0]), "--level", "word",
                                "--out", str(work / f"run-compare-{name}"), "--max-steps-per-epoch", str(args.steps),
                                "--max-vocab", str(COMPARE_VOCAB), *MODEL])
                report[f"compare_train_{name}"] = {"max_rss_mb": run["max_rss_mb"], "seconds": run["seconds"],
                                                   "tokens_per_s": run["result"]["tokens_per_second"]}
                print(json.dumps({f"compare_train_{name}": report[f"compare_train_{name}"]}), flush=True)
            environment = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(ROOT / "src"))
            child = subprocess.run([sys.executable, __file__, "--side-by-side", str(small), str(work / "compare-prep"),
                                    "--block", str(args.block), "--rounds", str(args.rounds)],
                                   stdout=subprocess.PIPE, text=True, env=environment, check=True)
            report["side_by_side"] = json.loads(child.stdout.strip().splitlines()[-1])
            print(json.dumps({"side_by_side": report["side_by_side"]}), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
