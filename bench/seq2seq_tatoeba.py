"""Tatoeba English->Persian: an attention encoder-decoder, BLEU and chrF on a held-out 10% split.

The 3,179 pairs of ``tatoeba_pes_eng/pes-eng.txt`` (English<TAB>Persian<TAB>attribution) have no standard
split. Following its SOURCE.md, the split is seeded and grouped by English sentence (alternative translations
of one sentence stay on one side): 10% of the English sentences are the test set, 10% of the rest validation
(best epoch by validation loss), the remainder training. The three TSVs are written to a temporary folder and
the real training function runs on them; the test set is translated greedily and with beam 5 and scored with
sacrebleu (BLEU and chrF on lower-cased word tokens; Persian tokens keep their zero-width non-joiners).

Setting (CPU-sized; the data is small)::

    GRU, embedding 128, bidirectional encoder 256 per direction, decoder 256, additive attention, dropout 0.3,
    Adam 1e-3, batch 32, clip 1, up to 30 epochs or --max-seconds of training, lower-cased, min_freq 1.

The flags ``--dropout --label-smoothing --embedding-size --hidden-size --batch-size --epochs
--early-stopping-patience`` change that setting for one run (the low-resource regularisation of Sennrich & Zhang
2019, e.g. ``--dropout 0.5 --label-smoothing 0.1``); the summary JSON records what was used.

Subwords (``--tokenizer bpe|unigram --vocab-size N``): each side segmented by pieces learnt from the training
pairs; BLEU and chrF are then computed on the word tokens of the detokenised translations, the same way as for a
word run, so ``--tokenizer word`` and ``--tokenizer bpe`` on one ``--max-seconds`` compare directly
(``detok_bleu`` / ``detok_chrf``: sacrebleu's 13a tokenisation of the detokenised text, reported too).

Usage:
    python bench/seq2seq_tatoeba.py --max-seconds 900 --json-out tatoeba.json
    python bench/seq2seq_tatoeba.py --max-seconds 900 --tokenizer bpe --vocab-size 1000 --json-out tatoeba_bpe.json
    python bench/seq2seq_tatoeba.py --smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

STARTED = time.perf_counter()
REPO_SOURCE = Path(__file__).resolve().parent.parent / "src"
if REPO_SOURCE.is_dir():  # this checkout's rnnkit, installed or not
    sys.path.insert(0, str(REPO_SOURCE))

import torch  # noqa: E402
from data_paths import require  # noqa: E402

from rnnkit.data.readers.parallel import read_tsv_pairs  # noqa: E402
from rnnkit.models import Seq2SeqConfig  # noqa: E402
from rnnkit.tasks.seq2seq import (  # noqa: E402
    Seq2SeqPredictor,
    Seq2SeqTaskConfig,
    TranslationCorpusConfig,
    train_seq2seq,
)
from rnnkit.tasks.seq2seq.data import split_pairs  # noqa: E402
from rnnkit.train.config import TrainConfig  # noqa: E402

TEST_FRACTION = 0.1
MODEL = dict(cell="gru", embedding_size=128, hidden_size=256, num_layers=1, bidirectional=True,
             attention="additive", dropout=0.3)
TRAIN = dict(epochs=30, batch_size=32, lr=1e-3, clip_norm=1.0, log_every=100)
SMOKE = dict(model=dict(embedding_size=16, hidden_size=16), train=dict(epochs=1, max_steps_per_epoch=3))


def write_tsv(pairs, path: Path) -> Path:
    path.write_text("".join(f"{pair.source}\t{pair.target}\n" for pair in pairs), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="training time budget (default 900)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny model, 3 steps: proves the pipeline")
    parser.add_argument("--tokenizer", default="word", choices=("word", "bpe", "unigram"))
    parser.add_argument("--vocab-size", type=int, default=1000, help="subword pieces per side")
    parser.add_argument("--subword-dropout", type=float, default=0.0,
                        help="BPE-dropout on the training pairs (with --tokenizer bpe), e.g. 0.1")
    parser.add_argument("--embedding-size", type=int, default=MODEL["embedding_size"])
    parser.add_argument("--hidden-size", type=int, default=MODEL["hidden_size"])
    parser.add_argument("--dropout", type=float, default=MODEL["dropout"])
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing of the loss, e.g. 0.1")
    parser.add_argument("--batch-size", type=int, default=TRAIN["batch_size"])
    parser.add_argument("--epochs", type=int, default=TRAIN["epochs"],
                        help="most epochs (the time budget may end sooner)")
    parser.add_argument("--early-stopping-patience", type=int, default=None,
                        help="epochs without a better validation loss tolerated (the next stops)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = read_tsv_pairs(require("tatoeba_pes_eng/pes-eng.txt"))
    rest, test = split_pairs(pairs, TEST_FRACTION, args.seed)
    train_pairs, valid = split_pairs(rest, TEST_FRACTION, args.seed + 1)
    chosen_model = dict(embedding_size=args.embedding_size, hidden_size=args.hidden_size, dropout=args.dropout)
    model = Seq2SeqConfig(**{**MODEL, **chosen_model, **(SMOKE["model"] if args.smoke else {})})
    chosen_train = dict(epochs=args.epochs, batch_size=args.batch_size,
                        early_stopping_patience=args.early_stopping_patience)
    train = TrainConfig(**{**TRAIN, **chosen_train, **(SMOKE["train"] if args.smoke else {})}, device=args.device,
                        seed=args.seed, max_seconds=args.max_seconds)
    task = Seq2SeqTaskConfig(beam_size=5, label_smoothing=args.label_smoothing)
    corpus = TranslationCorpusConfig(lower=True, max_length=60 if args.tokenizer == "word" else 150,
                                     subword=args.tokenizer, vocab_size=args.vocab_size,
                                     subword_dropout=args.subword_dropout)
    with tempfile.TemporaryDirectory(prefix="rnnkit-tatoeba-") as folder:
        folder = Path(folder)
        files = {name: write_tsv(part, folder / f"{name}.tsv")
                 for name, part in (("train", train_pairs), ("valid", valid), ("test", test))}
        results = train_seq2seq(folder / "run", data=files["train"], valid=files["valid"], corpus=corpus, model=model,
                                train=train, seq2seq=task)
        predictor = Seq2SeqPredictor.load(folder / "run", device=args.device)
        scores = {f"beam{beam}": predictor.evaluate(files["test"], beam_size=beam, truncate=True,
                                                             detokenized=True) for beam in (1, 5)}
        examples = predictor.translate([pair.source for pair in test[:5]], beam_size=5)
    summary = {"benchmark": "tatoeba en->fa, held-out 10% (grouped by English sentence)", "tokenizer": args.tokenizer,
               "vocab_size": args.vocab_size if args.tokenizer != "word" else None,
               "subword_dropout": args.subword_dropout,
               "command": " ".join([sys.executable, *sys.argv]), "pairs": {"train": len(train_pairs),
                                                                           "valid": len(valid), "test": len(test)},
               "model": asdict(model), "train": asdict(train), "task": asdict(task), "results": results, "test": scores,
               "examples": [{"source": e["source"], "translation": e["translation"], "reference": pair.target}
                            for e, pair in zip(examples, test[:5], strict=True)],
               "wall_seconds": time.perf_counter() - STARTED}
    print(f"Tatoeba en->fa: {summary['pairs']} pairs; {results['epoch']} epochs, best valid ppl "
          f"{results['valid_ppl']:.2f}; train {results['train_seconds']:.0f} s, wall {summary['wall_seconds']:.0f} s")
    for name, score in scores.items():
        print(f"  {name}: BLEU {score['bleu']:.2f}  chrF {score['chrf']:.2f}  (detokenised: BLEU "
              f"{score['detok_bleu']:.2f} chrF {score['detok_chrf']:.2f})  "
              f"({score['sentences_per_second']:.1f} sentences/s)")
    for example in summary["examples"]:
        print(f"  {example['source']} -> {example['translation']}  (reference: {example['reference']})")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
