"""UD English-EWT 2.16 UPOS tagging (gold tokens): test accuracy, per-tag F1 and a confusion plot per setting.

The CoNLL-U files of ``ud_english_ewt/`` are read as they are (comments, multiword ranges and empty nodes
skipped by the reader); train trains, dev chooses the epoch, test is evaluated once at the end. Settings (one
run each, the same training budget; ``--only`` picks some)::

    context0   no context: --num-layers 0 (each token from its word embedding alone)
    word       word BiLSTM
    char       word BiLSTM + character BiLSTM features
    char_crf   word BiLSTM + character BiLSTM features + CRF output layer

Model (CPU-sized): embedding 100, char BiLSTM 50 per direction, 1-layer BiLSTM 200 per direction, dropout 0.33,
word dropout 0.05, AdamW 2e-3, batch 32, clip 5, up to --epochs epochs or --max-seconds of training per setting.
The flags below override some of these (e.g. ``--char-encoder cnn``, ``--word-dropout 0 --word-dropout-alpha
0.25`` for frequency-aware word dropout, ``--schedule plateau --lr-decay 0.5`` to halve the rate whenever the
dev accuracy stops improving, ``--num-layers 2`` for a stacked BiLSTM with dropout between the layers,
``--lower`` for a lower-cased word vocabulary while the character features still see the words as written).

Usage:
    RNNKIT_DATA_DIR=/work/shared/data python bench/tag_ud_ewt.py --max-seconds 1800 --out-dir ud_runs
    python bench/tag_ud_ewt.py --smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO_SOURCE = Path(__file__).resolve().parent.parent / "src"
if REPO_SOURCE.is_dir():  # this checkout's rnnkit, installed or not
    sys.path.insert(0, str(REPO_SOURCE))

import torch  # noqa: E402
from data_paths import require  # noqa: E402

from rnnkit.analysis.confusion_plot import plot_confusion_matrix  # noqa: E402
from rnnkit.analysis.metrics import confusion_matrix  # noqa: E402
from rnnkit.models.tagger import TaggerConfig  # noqa: E402
from rnnkit.tasks.tag import TagDataConfig, TaggerPredictor, train_tagger  # noqa: E402
from rnnkit.tasks.tag.data import encode_sentences, read_sentences, tokens_of  # noqa: E402
from rnnkit.tasks.tag.train import predict_tags  # noqa: E402
from rnnkit.train.config import TrainConfig  # noqa: E402

BASE = dict(embedding_size=100, hidden_size=200, num_layers=1, bidirectional=True, dropout=0.33, word_dropout=0.05,
            char_size=50)
SETTINGS = {
    "context0": dict(num_layers=0),
    "word": dict(),
    "char": dict(char_features="lstm"),
    "char_crf": dict(char_features="lstm", crf=True),
}
TRAIN = dict(batch_size=32, lr=2e-3, clip_norm=5.0, log_every=100)
MODEL_FLAGS = ("embedding_size", "hidden_size", "num_layers", "char_size", "dropout", "word_dropout",
               "word_dropout_alpha", "char_encoder")
TRAIN_FLAGS = ("lr", "schedule", "lr_decay", "plateau_patience", "batch_size", "early_stopping_patience")
SMOKE = dict(model=dict(embedding_size=8, hidden_size=8, char_size=4), train=dict(epochs=1, max_steps_per_epoch=3))


def per_tag_f1(matrix: list[list[int]], names: list[str]) -> dict[str, float]:
    """F1 of each tag from a confusion matrix (rows: truth, columns: prediction)."""
    scores = {}
    for k, name in enumerate(names):
        true_positive = matrix[k][k]
        predicted = sum(row[k] for row in matrix)
        actual = sum(matrix[k])
        scores[name] = 2 * true_positive / (predicted + actual) if predicted + actual else 0.0
    return scores


def overrides(args: argparse.Namespace, setting: dict) -> tuple[dict, dict]:
    """The model and training settings that the command line changes from BASE / TRAIN."""
    model = {key: getattr(args, key) for key in MODEL_FLAGS if getattr(args, key) is not None}
    if "num_layers" in model and setting.get("num_layers") == 0:
        del model["num_layers"]  # the no-context baseline stays without recurrent layers
    if "char_encoder" in model:
        encoder = model.pop("char_encoder")
        if setting.get("char_features", "none") != "none":
            model["char_features"] = encoder
    train = {key: getattr(args, key) for key in TRAIN_FLAGS if getattr(args, key) is not None}
    return model, train


def run_setting(name: str, files: dict[str, Path], out_dir: Path, args: argparse.Namespace) -> dict:
    model_changes, train_changes = overrides(args, SETTINGS[name])
    model = TaggerConfig(**{**BASE, **SETTINGS[name], **model_changes, **(SMOKE["model"] if args.smoke else {})})
    train = TrainConfig(**{**TRAIN, **train_changes, "epochs": args.epochs, **(SMOKE["train"] if args.smoke else {})},
                        seed=args.seed, max_seconds=args.max_seconds, device=args.device)
    run_dir = out_dir / name
    started = time.perf_counter()
    results: dict = {}
    if not args.evaluate_only:
        results = train_tagger(run_dir, data=files["train"], valid=files["dev"], test=files["test"],
                               text=TagDataConfig(tag_column="upos", lower=args.lower), model=model, train=train)
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    best = max(history, key=lambda record: record["valid_accuracy"])
    predictor = TaggerPredictor.load(run_dir, device=args.device)
    sentences = read_sentences(files["test"], predictor.text, "--test")
    encoded = encode_sentences(sentences, predictor.vocab, predictor.tag_vocab, predictor.text, predictor.char_vocab)
    predicted, _ = predict_tags(predictor.model, encoded, predictor.vocab.pad_id)
    truth = [tag for tags in encoded.tags for tag in tags.tolist()]
    guesses = [tag for tags in predicted for tag in tags]
    test_accuracy = sum(t == g for t, g in zip(truth, guesses, strict=True)) / len(truth)
    matrix = confusion_matrix(truth, guesses, len(predictor.tags)).tolist()
    plot_confusion_matrix(matrix, predictor.tags, out_dir / f"confusion_{name}.png",
                          title=f"UD EWT UPOS test, {name}: accuracy {100 * test_accuracy:.2f}")
    vocab = predictor.vocab.stoi
    oov = [token not in vocab for sentence in sentences for token in tokens_of(sentence, predictor.text)]
    oov_correct = sum(t == g for t, g, o in zip(truth, guesses, oov, strict=True) if o)
    return {"setting": name, "model": dict(model.__dict__), "text": dict(predictor.text.__dict__),
            "train": dataclasses.asdict(train), "epochs_run": len(history),
            "best_epoch": best["epoch"], "train_seconds": results.get("train_seconds"),
            "wall_seconds": time.perf_counter() - started, "dev_accuracy": best["valid_accuracy"],
            "test_accuracy": test_accuracy,
            "test_oov_tokens": sum(oov), "test_oov_accuracy": oov_correct / max(1, sum(oov)),
            "test_tokens": len(truth), "per_tag_f1": per_tag_f1(matrix, predictor.tags)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SETTINGS), help="comma-separated settings to run")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="training time budget per setting")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out-dir", type=Path, default=Path("ud_ewt_runs"))
    for flag, kind in (("embedding-size", int), ("hidden-size", int), ("num-layers", int), ("char-size", int),
                       ("dropout", float), ("word-dropout", float), ("word-dropout-alpha", float), ("lr", float),
                       ("lr-decay", float), ("plateau-patience", int), ("batch-size", int),
                       ("early-stopping-patience", int)):
        parser.add_argument(f"--{flag}", type=kind, default=None, help="override the bench's setting")
    parser.add_argument("--char-encoder", choices=("lstm", "cnn"), default=None,
                        help="the char settings' encoder (default lstm)")
    parser.add_argument("--lower", action="store_true",
                        help="lower-case the word vocabulary (the character features still see the words as written)")
    parser.add_argument("--schedule", choices=("none", "plateau", "step", "cosine"), default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny models, 3 steps: proves the pipeline")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="no training: evaluate the runs already in --out-dir (the best weights so far)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = {split: require(f"ud_english_ewt/en_ewt-ud-{split}.conllu.gz") for split in ("train", "dev", "test")}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        if name not in SETTINGS:
            parser.error(f"--only: got {name!r}; expected some of {', '.join(SETTINGS)}")
        summary = run_setting(name, files, args.out_dir, args)
        summary["command"] = " ".join([sys.executable, *sys.argv])
        (args.out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"{name}: test UPOS accuracy {100 * summary['test_accuracy']:.2f} "
              f"(dev {100 * summary['dev_accuracy']:.2f}, OOV {100 * summary['test_oov_accuracy']:.2f} "
              f"on {summary['test_oov_tokens']} tokens); "
              f"{summary['epochs_run']} epochs, best {summary['best_epoch']}, train {summary['train_seconds']} s",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
