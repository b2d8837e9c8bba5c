"""Multi30k German->English (test2016): attention vs. the context vector alone, and beam search, on one budget.

Two encoder-decoders are trained one after the other on the same data with the same settings and the same
share of the time budget: one with additive (Bahdanau) attention, one that reads only the encoder's last state
(``--attention none``, the fixed context vector of the early encoder-decoder work). Each is then translated on
test_2016_flickr (1,000 sentences) with greedy search and beam search, and scored with sacrebleu: BLEU and
chrF on lower-cased word tokens (``tokenize="none"`` on rnnkit's WordTokenizer tokens, the tokenised BLEU of the
encoder-decoder tutorials; see rnnkit.tasks.seq2seq.predict). Reported: BLEU and chrF per model and beam,
sentences per second at beam 1 / 5 / 10, and the BLEU gain of beam 5 over greedy. A JSON summary is written
after every stage (``--json-out``), so a run stopped from outside still leaves what it measured.

Target: attention model BLEU >= 28 (reference point: a 10-epoch GRU with Bahdanau attention, embedding 256,
bidirectional encoder 512, decoder 512, reports 28.3 on this test set).

Settings::

    gpu (default with --device cuda): GRU, embedding 256, bidirectional encoder 512 per direction, decoder 512,
        additive attention 512, dropout 0.3, Adam 1e-3, batch 128, clip 1, 10 epochs, vocabularies of tokens
        seen >= 2 times (as the reference), lower-cased; the best epoch on validation loss is kept.
    cpu: the same shape at embedding 128 / hidden 128 / batch 64, for a short run on a shared CPU.

The budget ``--max-seconds`` is wall time for the whole script from its start: each model trains for its share
(the budget minus ``--eval-reserve`` for decoding, split equally; less if the time left is shorter) and stops at
the first batch past it, evaluated and saved, even if its epochs are not done.

Usage:
    python bench/seq2seq_multi30k.py --device cuda --max-seconds 360 --json-out multi30k.json
    python bench/seq2seq_multi30k.py --device cpu --max-seconds 3000 --json-out multi30k_cpu.json
    python bench/seq2seq_multi30k.py --smoke --json-out /tmp/smoke.json      # tiny model, ~1 min on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

STARTED = time.perf_counter()

REPO_SOURCE = Path(__file__).resolve().parent.parent / "src"
if REPO_SOURCE.is_dir():  # this checkout's rnnkit, installed or not
    sys.path.insert(0, str(REPO_SOURCE))

import torch  # noqa: E402
from data_paths import require  # noqa: E402

from rnnkit.models import Seq2SeqConfig  # noqa: E402
from rnnkit.tasks.seq2seq import (  # noqa: E402
    Seq2SeqPredictor,
    Seq2SeqTaskConfig,
    TranslationCorpusConfig,
    train_seq2seq,
)
from rnnkit.train.config import TrainConfig  # noqa: E402

TARGET_BLEU = 28.0
REFERENCE_BLEU = 28.3
MODELS = ("additive", "none")  # the attention model first: it is the one with a target
SETTINGS = {
    "gpu": dict(model=dict(cell="gru", embedding_size=256, hidden_size=512, num_layers=1, bidirectional=True,
                           dropout=0.3),
                train=dict(epochs=10, batch_size=128, lr=1e-3, clip_norm=1.0)),
    "cpu": dict(model=dict(cell="gru", embedding_size=128, hidden_size=128, num_layers=1, bidirectional=True,
                           dropout=0.3),
                train=dict(epochs=10, batch_size=64, lr=1e-3, clip_norm=1.0)),
    "smoke": dict(model=dict(cell="gru", embedding_size=16, hidden_size=16, num_layers=1, bidirectional=True,
                             dropout=0.3),
                  train=dict(epochs=1, batch_size=32, lr=1e-3, clip_norm=1.0, max_steps_per_epoch=3)),
}
CORPUS = dict(source_lang="de", target_lang="en", lower=True, min_freq=2, max_length=100)


def elapsed() -> float:
    return time.perf_counter() - STARTED


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default=None,
                        help="model size: gpu (default on cuda), cpu (default on cpu), smoke")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="wall-time budget of the whole script (default: 360 on cuda, 3000 on cpu, 300 smoke)")
    parser.add_argument("--eval-reserve", type=float, default=None,
                        help="seconds kept for decoding and scoring both models (default: 45 on cuda, 25%% of the "
                             "budget on cpu)")
    parser.add_argument("--epochs", type=int, default=None, help="override the setting's epochs")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="attention modes to train, in order (default additive,none)")
    parser.add_argument("--train-seconds", type=float, default=None,
                        help="training seconds per model, instead of a share of --max-seconds")
    parser.add_argument("--beams", default="1,5,10", help="beam sizes to evaluate (default 1,5,10; 1 is greedy)")
    parser.add_argument("--decode-batch-size", type=int, default=None,
                        help="sentences decoded together (default 128 on cuda, 64 on cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the run directories here (default: temporary)")
    parser.add_argument("--json-out", type=Path, default=None, help="write the summary JSON here")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 3 steps per model: proves the pipeline")
    args = parser.parse_args()
    if args.smoke:
        args.setting = "smoke"
    if args.setting is None:
        args.setting = "gpu" if args.device.startswith("cuda") else "cpu"
    if args.max_seconds is None:
        args.max_seconds = 300.0 if args.smoke else 360.0 if args.device.startswith("cuda") else 3000.0
    if args.eval_reserve is None:
        args.eval_reserve = 45.0 if args.device.startswith("cuda") else 0.25 * args.max_seconds
    if args.decode_batch_size is None:
        args.decode_batch_size = 128 if args.device.startswith("cuda") else 64
    args.beams = [int(beam) for beam in args.beams.split(",")]
    args.models = [model.strip() for model in args.models.split(",") if model.strip()]
    if 1 not in args.beams or 5 not in args.beams:
        parser.error("--beams: must include 1 and 5 (the gain of beam 5 over greedy is reported)")
    return args


class Summary:
    """The results so far, rewritten to ``--json-out`` after every stage."""

    def __init__(self, path: Path | None, args: argparse.Namespace) -> None:
        self.path = path
        self.data: dict = {
            "benchmark": "multi30k de->en test2016", "command": " ".join([sys.executable, *sys.argv]),
            "setting": args.setting, "device": args.device, "device_name": device_name(args.device),
            "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "max_seconds": args.max_seconds, "eval_reserve": args.eval_reserve, "target_bleu": TARGET_BLEU,
            "reference_bleu": REFERENCE_BLEU, "bleu": "sacrebleu corpus BLEU, tokenize=none, on lower-cased "
                                                      "rnnkit WordTokenizer tokens", "models": {},
        }

    def write(self) -> None:
        self.data["wall_seconds"] = elapsed()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(temporary, self.path)


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def log(message: str) -> None:
    print(f"[{elapsed():7.1f} s] {message}", file=sys.stderr, flush=True)


def train_one(attention: str, run: Path, args: argparse.Namespace, budget: float) -> dict:
    setting = SETTINGS[args.setting]
    model = Seq2SeqConfig(attention=attention, **setting["model"])
    train_options = dict(setting["train"], device=args.device, seed=args.seed, max_seconds=max(budget, 1.0),
                         log_every=100, quiet=False)
    if args.epochs is not None:
        train_options["epochs"] = args.epochs
    train = TrainConfig(**train_options)
    corpus = TranslationCorpusConfig(**CORPUS)
    data_dir = require("multi30k/raw/train.de.gz").parent
    started = time.perf_counter()
    results = train_seq2seq(run, data=data_dir / "train", valid=data_dir / "val", corpus=corpus, model=model,
                            train=train, seq2seq=Seq2SeqTaskConfig(beam_size=5))
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    best = min(history, key=lambda record: record["valid_loss"])
    return {"model": asdict(model), "train": asdict(train), "corpus": asdict(corpus),
            "epochs_done": len(history), "best_epoch": best["epoch"], "steps": history[-1]["step"],
            "train_seconds": results["train_seconds"], "wall_seconds": time.perf_counter() - started,
            "valid_loss": results["valid_loss"], "valid_ppl": results["valid_ppl"],
            "budget_seconds": budget, "history": history}


def evaluate_one(attention: str, run: Path, args: argparse.Namespace, record: dict, summary: Summary) -> None:
    predictor = Seq2SeqPredictor.load(run, device=args.device)
    test = require("multi30k/raw/test_2016_flickr.de.gz").parent / "test_2016_flickr"
    predictor.translate(["ein mann fährt fahrrad ."] * 4, beam_size=max(args.beams))  # warm-up (kernels, caches)
    record["test"] = {}
    for beam in args.beams:
        scores = predictor.evaluate(test, beam_size=beam, truncate=True, batch_size=args.decode_batch_size)
        record["test"][f"beam{beam}"] = scores
        log(f"{attention}: beam {beam}: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
            f"{scores['sentences_per_second']:.1f} sentences/s")
        summary.write()
    record["bleu_gain_beam5_over_greedy"] = record["test"]["beam5"]["bleu"] - record["test"]["beam1"]["bleu"]
    summary.write()


def report(summary: Summary, args: argparse.Namespace) -> None:
    models = summary.data["models"]
    print(f"Multi30k de->en test2016 ({summary.data['device_name']}, setting {args.setting}, "
          f"wall {elapsed():.0f} s of {args.max_seconds:.0f}); BLEU/chrF: {summary.data['bleu']}")
    header = f"{'attention':<10} {'epochs':>6} {'train s':>8} {'valid ppl':>9}"
    header += "".join(f" {'BLEU b' + str(beam):>9}" for beam in args.beams) + f" {'chrF b5':>8} {'b5-b1':>6}"
    print(header)
    for attention, record in models.items():
        if "error" in record and "test" not in record:
            print(f"{attention:<10} failed: {record['error']}")
            continue
        line = (f"{attention:<10} {record.get('epochs_done', 0):>6} {record.get('train_seconds', 0):>8.0f} "
                f"{record.get('valid_ppl', float('nan')):>9.2f}")
        tests = record.get("test", {})
        line += "".join(f" {tests.get(f'beam{beam}', {}).get('bleu', float('nan')):>9.2f}" for beam in args.beams)
        line += f" {tests.get('beam5', {}).get('chrf', float('nan')):>8.2f}"
        line += f" {record.get('bleu_gain_beam5_over_greedy', float('nan')):>+6.2f}"
        print(line)
    attention_tests = models.get("additive", {}).get("test", {})
    if attention_tests:
        speeds = ", ".join(f"beam {beam}: {attention_tests[f'beam{beam}']['sentences_per_second']:.1f}"
                           for beam in args.beams if f"beam{beam}" in attention_tests)
        print(f"decoding speed, attention model, sentences/s (batch {args.decode_batch_size}): {speeds}")
        best = max(scores["bleu"] for scores in attention_tests.values())
        verdict = "reached" if best >= TARGET_BLEU else "NOT reached"
        summary.data["best_attention_bleu"] = best
        summary.data["target_reached"] = best >= TARGET_BLEU
        print(f"target BLEU >= {TARGET_BLEU} (reference {REFERENCE_BLEU}): {verdict} (best {best:.2f})")
    summary.write()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 tensor cores for the matrix products
        torch.backends.cudnn.allow_tf32 = True
    summary = Summary(args.json_out, args)
    summary.write()
    workdir = args.out or Path(tempfile.mkdtemp(prefix="rnnkit-multi30k-"))
    workdir.mkdir(parents=True, exist_ok=True)
    failed = False
    # one training budget for every model (the comparison is on equal time); data preparation, validation and
    # checkpoints come on top of training time, hence the 0.9
    models = args.models
    share = 0.9 * (args.max_seconds - elapsed() - args.eval_reserve) / len(models)
    if args.train_seconds is not None:
        share = args.train_seconds
    try:
        for index, attention in enumerate(models):
            left = len(models) - index
            reserve = args.eval_reserve * left / len(models)
            budget = min(share, (args.max_seconds - elapsed() - reserve) / left)
            record: dict = {}
            summary.data["models"][attention] = record
            run = workdir / f"attention-{attention}"
            if run.exists():
                shutil.rmtree(run)
            log(f"training attention={attention!r}: {budget:.0f} s of training at most")
            try:
                record.update(train_one(attention, run, args, budget))
                log(f"{attention}: {record['epochs_done']} epochs in {record['train_seconds']:.0f} s of training, "
                    f"best valid ppl {record['valid_ppl']:.2f} (epoch {record['best_epoch']})")
                summary.write()
                evaluate_one(attention, run, args, record, summary)
            except Exception as error:  # keep going: the other model's numbers are still worth having
                failed = True
                record["error"] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                summary.write()
    finally:
        report(summary, args)
        if args.out is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
