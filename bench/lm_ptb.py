"""Word-level Penn Treebank language models with ``rnnkit train lm``: the published settings, and our numbers.

Runs one setting through the real CLI (a subprocess), reading the gzipped Mikolov files directly, and prints
the exact command, the wall time, and the test perplexity beside the published one. The default is the
Zaremba et al. (2014) "small" model, which trains on 2 CPU cores; the others are written down for a GPU.

setting  model                                   training                                     published test
-------  --------------------------------------  -------------------------------------------  ----------------
small    2x LSTM 200, emb 200, no dropout         bptt 20, batch 20, SGD lr 1, clip 5 (*)   114.5 (val 120.7)
                                                  13 epochs, lr x0.5 per epoch from the 4th on  cpu is enough
medium   2x LSTM 650, emb 650, dropout 0.5 on     bptt 35, batch 20, SGD lr 1, clip 5,          82.7 (val 86.2)
         embeddings, between layers, output       39 epochs, lr x1/1.2 per epoch from the 6th   cuda
large    2x LSTM 1500, emb 1500, dropout 0.65     bptt 35, batch 20, SGD lr 1, clip 10,         78.4 (val 82.2)
                                                  55 epochs, lr x1/1.15 per epoch from the 14th cuda
awd      AWD-LSTM: 3 layers, emb 400, hidden      bptt 70, batch 20, lr 30 (paper: NT-ASGD;     58.8 (val 61.2)
         1150, tied; dropout 0.4 output, 0.25     rnnkit: SGD + plateau decay), clip 0.25,      no finetuning;
         between layers, 0.4 input, 0.1 embed-    weight decay 1.2e-6, 500 epochs               57.3 finetuned
         ding; weight drop 0.5                                                                  cuda
(*) Zaremba's cost sums the loss over the bptt steps; with rnnkit's per-token mean the same update is
    lr = bptt and clip = clip / bptt (lr 20, clip 0.25 for small), as pytorch/examples uses.

The commands (``python bench/lm_ptb.py --setting NAME --print-only`` prints them with the data paths)::

    rnnkit train lm --data ptb.train.txt.gz --valid ptb.valid.txt.gz --test ptb.test.txt.gz --level word \\
        --cell lstm --embedding-size 200 --hidden-size 200 --num-layers 2 --dropout 0 --epochs 13 \\
        --batch-size 20 --bptt 20 --optimizer sgd --lr 20 --clip 0.25 --schedule step --lr-decay 0.5 \\
        --decay-start 4 --out runs/ptb-small
    ... medium: --embedding-size 650 --hidden-size 650 --input-dropout 0.5 --hidden-dropout 0.5 --dropout 0.5 \\
        --epochs 39 --bptt 35 --lr 35 --clip 0.1429 --lr-decay 0.8333 --decay-start 6 --device cuda (rest as small)
    ... large:  --embedding-size 1500 --hidden-size 1500 --input-dropout 0.65 --hidden-dropout 0.65 --dropout 0.65 \\
        --epochs 55 --bptt 35 --lr 35 --clip 0.2857 --lr-decay 0.8696 --decay-start 14 --device cuda (rest as small)
    ... awd:    --embedding-size 400 --hidden-size 1150 --num-layers 3 --tie-weights --dropout 0.4 \\
        --hidden-dropout 0.25 --input-dropout 0.4 --embedding-dropout 0.1 --weight-dropout 0.5 --epochs 500 \\
        --batch-size 20 --bptt 70 --optimizer sgd --lr 30 --clip 0.25 --weight-decay 1.2e-6 \\
        --schedule plateau --plateau-patience 5 --lr-decay 0.5 --device cuda

Where rnnkit differs from the papers (expect the medium/large/AWD numbers to land somewhat off the published):

* Dropout: rnnkit's dropouts are locked (variational, one mask per sequence, Gal & Ghahramani 2016);
  Zaremba et al. draw a new mask every time step. Zaremba's "dropout on non-recurrent connections" maps onto
  ``--input-dropout`` (embeddings), ``--hidden-dropout`` (between layers) and ``--dropout`` (before the decoder).
* Initialisation: embedding and decoder uniform(-0.1, 0.1) as Zaremba; the LSTM weights keep torch's
  uniform(-1/sqrt(H), 1/sqrt(H)) (Zaremba: uniform(-0.1, 0.1) small, 0.05 medium, 0.04 large).
* AWD-LSTM: rnnkit has plain SGD, not NT-ASGD (averaged SGD, switched on when validation stalls); the plateau
  decay above is our stand-in. Also absent: activation regularisation (AR, alpha 2) and temporal AR (TAR, beta 1),
  the randomised BPTT length (N(70, 5), 70/2 with p 0.05) with its rescaled learning rate, and fine-tuning.
  The hyperparameters are those of the authors' PTB command (salesforce/awd-lstm-lm README: batch 20,
  dropouti 0.4, dropouth 0.25, 500 epochs; main.py defaults for the rest); the paper used batch 40.
* Vocabulary: 10,000 PTB types plus rnnkit's ``<pad>``; evaluation uses batch 10 (AWD tests with batch 1).

Usage:
    python bench/lm_ptb.py                          # the small setting on CPU: 13 epochs (~1 h on 2 free cores)
    python bench/lm_ptb.py --smoke                  # 1 epoch of 20 steps, 200 lines of valid/test, temp dir
    python bench/lm_ptb.py --smoke --threads 1      # the same on a busy machine (2 threads fight a 2nd job)
    python bench/lm_ptb.py --setting medium         # on a GPU (--device cuda is part of the setting)
    python bench/lm_ptb.py --setting awd --print-only
"""

from __future__ import annotations

import argparse
import gzip
import json
import shlex
import tempfile
from pathlib import Path

from cli_runner import run_rnnkit
from data_paths import require


def zaremba(size: int, dropout: float, epochs: int, bptt: int, clip: float, decay: float, decay_start: int,
            device: str | None) -> list[str]:
    """The flags of one Zaremba et al. (2014) setting: 2-layer LSTM, batch 20, SGD, step decay.

    Zaremba's cost is the loss summed over the ``bptt`` steps (averaged over the batch) with SGD lr 1 and the
    gradient norm clipped at ``clip``; rnnkit's loss is the mean per token, so the same update is lr ``bptt``
    and a clip of ``clip / bptt`` (as pytorch/examples' word_language_model: lr 20, clip 0.25).
    """
    if dropout:
        dropouts = ["--input-dropout", str(dropout), "--hidden-dropout", str(dropout), "--dropout", str(dropout)]
    else:
        dropouts = ["--dropout", "0"]
    flags = ["--level", "word", "--cell", "lstm", "--embedding-size", str(size), "--hidden-size", str(size),
             "--num-layers", "2", *dropouts, "--epochs", str(epochs), "--batch-size", "20", "--bptt", str(bptt),
             "--optimizer", "sgd", "--lr", str(bptt), "--clip", f"{clip / bptt:.4g}", "--schedule", "step",
             "--lr-decay", str(decay),
             "--decay-start", str(decay_start)]
    return flags + (["--device", device] if device else [])


SETTINGS: dict[str, dict] = {
    "small": {
        "flags": zaremba(200, 0.0, epochs=13, bptt=20, clip=5, decay=0.5, decay_start=4, device=None),
        "published": {"test_ppl": 114.5, "valid_ppl": 120.7},
        "source": "Zaremba, Sutskever & Vinyals 2014, small non-regularised LSTM",
    },
    "medium": {
        "flags": zaremba(650, 0.5, epochs=39, bptt=35, clip=5, decay=0.8333, decay_start=6, device="cuda"),
        "published": {"test_ppl": 82.7, "valid_ppl": 86.2},
        "source": "Zaremba et al. 2014, medium regularised LSTM",
    },
    "large": {
        "flags": zaremba(1500, 0.65, epochs=55, bptt=35, clip=10, decay=0.8696, decay_start=14, device="cuda"),
        "published": {"test_ppl": 78.4, "valid_ppl": 82.2},
        "source": "Zaremba et al. 2014, large regularised LSTM",
    },
    "awd": {
        "flags": ["--level", "word", "--cell", "lstm", "--embedding-size", "400", "--hidden-size", "1150",
                  "--num-layers", "3", "--tie-weights", "--dropout", "0.4", "--hidden-dropout", "0.25",
                  "--input-dropout", "0.4", "--embedding-dropout", "0.1", "--weight-dropout", "0.5", "--epochs", "500",
                  "--batch-size", "20", "--bptt", "70", "--optimizer", "sgd", "--lr", "30", "--clip", "0.25",
                  "--weight-decay", "1.2e-6", "--schedule", "plateau", "--plateau-patience", "5", "--lr-decay", "0.5",
                  "--device", "cuda"],
        "published": {"test_ppl": 58.8, "valid_ppl": 61.2},
        "source": "Merity, Keskar & Socher 2018, AWD-LSTM without fine-tuning (repo README; paper 57.3 finetuned); "
                  "rnnkit trains it with plain SGD + plateau decay, not NT-ASGD",
    },
}
SMOKE_FLAGS = ["--epochs", "1", "--max-steps-per-epoch", "20"]
SMOKE_EVAL_LINES = 200  # the smoke run evaluates on the first lines of valid and test only


def head_lines(path: Path, lines: int, folder: Path) -> Path:
    """The first ``lines`` lines of the gzipped ``path``, written as plain text into ``folder``."""
    with gzip.open(path, "rt", encoding="utf-8") as source:
        head = [line for _, line in zip(range(lines), source, strict=False)]
    target = folder / path.name.removesuffix(".gz")
    target.write_text("".join(head), encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="small")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default runs/bench-ptb-SETTING)")
    parser.add_argument("--device", default=None, help="override the setting's device (cpu, cuda)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"1 epoch of 20 steps, valid/test cut to {SMOKE_EVAL_LINES} lines, into a temp dir")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for rnnkit (default: torch's)")
    parser.add_argument("--print-only", action="store_true", help="print the command and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress output from rnnkit")
    args = parser.parse_args()

    setting = SETTINGS[args.setting]
    data = {split: require(f"ptb/ptb.{split}.txt.gz") for split in ("train", "valid", "test")}
    flags = list(setting["flags"])
    if args.device is not None:
        flags += ["--device", args.device]  # the last --device wins
    if args.smoke:
        flags += SMOKE_FLAGS
    if args.quiet:
        flags += ["--quiet"]
    temporary = tempfile.TemporaryDirectory(prefix="lm_ptb_") if args.smoke else None
    out = Path(temporary.name) / "run" if temporary else (args.out or Path("runs") / f"bench-ptb-{args.setting}")
    if temporary is not None:
        data["valid"], data["test"] = (head_lines(data[split], SMOKE_EVAL_LINES, Path(temporary.name))
                                       for split in ("valid", "test"))
    arguments = ["train", "lm", "--data", str(data["train"]), "--valid", str(data["valid"]),
                 "--test", str(data["test"]), *flags, "--out", str(out)]
    smoke = f" [SMOKE: 1 epoch of 20 steps, valid/test cut to {SMOKE_EVAL_LINES} lines]" if args.smoke else ""
    print(f"setting {args.setting}: {setting['source']}{smoke}")
    print("command: " + shlex.join(["rnnkit", *arguments]), flush=True)
    if args.print_only:
        return
    try:
        results, seconds = run_rnnkit(arguments, args.threads)
    finally:
        if temporary is not None:
            temporary.cleanup()
    published = setting["published"]
    print(f"wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(f"valid perplexity: {results['valid_ppl']:.2f} (published {published['valid_ppl']})")
    print(f"test perplexity:  {results['test_ppl']:.2f} (published {published['test_ppl']}; "
          f"ratio {results['test_ppl'] / published['test_ppl']:.3f})")
    if args.smoke:
        print("smoke run: the numbers above are NOT comparable to the published ones")
    print(json.dumps({"setting": args.setting, "smoke": args.smoke, "seconds": round(seconds, 1),
                      "published_test_ppl": published["test_ppl"], **results}))


if __name__ == "__main__":
    main()
