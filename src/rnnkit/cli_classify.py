"""``rnnkit train classify`` and ``rnnkit predict``: flags and config files onto the classification settings.

Every flag is one field of one settings dataclass (text, model or train); a config file (TOML, YAML or JSON)
holds the same names, flat or in ``[text]``, ``[model]``, ``[train]`` tables, and flags override it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli_settings import (
    TRAINING_FLAGS,
    add_data_arguments,
    add_resume_argument,
    add_setting_flags,
    run_flags,
    run_training,
    training_settings,
)
from .cli_tag import add_tag_predict_arguments, predict_tags
from .prediction_output import FORMATS, write_predictions
from .tasks.classify import SETTINGS as SECTIONS  # the settings dataclass of each config section

VALID_DATA_HELP = "validation data for choosing the best epoch (default: --valid-fraction of --data)"

# flag -> (section, field, type, help); bool fields get --flag / --no-flag
# how labelled text is read (TextDataConfig): shared with 'rnnkit train condgen'
LABELLED_TEXT_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--format": ("text", "format", str, "auto, table (CSV/TSV/JSONL), lines (label first), files (one per class) "
                                        "or folders (one per class, directory or .zip)"),
    "--text-column": ("text", "text_column", str, "text column or JSON key of a table (default 'text')"),
    "--label-column": ("text", "label_column", str, "label column or JSON key of a table (default 'label')"),
    "--encoding": ("text", "encoding", str, "text encoding of the data files (default utf-8)"),
    "--level": ("text", "level", str, "word (default) or char tokens"),
    "--lower": ("text", "lower", bool, "lower-case the text (default on)"),
    "--min-freq": ("text", "min_freq", int, "rarer training tokens become <unk>"),
    "--max-vocab": ("text", "max_vocab", int, "vocabulary size limit, specials included"),
    "--max-length": ("text", "max_length", int, "keep at most N tokens of each text (which: --truncate)"),
    "--truncate": ("text", "truncate", str, "head (first N tokens, default), tail (last N) or head+tail "
                                            "(first N/2 and last N/2)"),
    "--strip-html": ("text", "strip_html", bool, "replace HTML tags such as <br /> by spaces (default off)"),
    "--valid-fraction": ("text", "valid_fraction", float, "share of each class held out without --valid"),
}

CLASSIFY_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    **LABELLED_TEXT_FLAGS,
    "--cell": ("model", "cell", str, "rnn, gru, lstm or lnlstm"),
    "--embedding-size": ("model", "embedding_size", int, "token embedding size"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per direction"),
    "--num-layers": ("model", "num_layers", int, "stacked recurrent layers"),
    "--bidirectional": ("model", "bidirectional", bool, "read both ways (default on)"),
    "--pooling": ("model", "pooling", str, "last, mean, max or attention"),
    "--attention-size": ("model", "attention_size", int, "hidden units of attention pooling"),
    "--mlp-size": ("model", "mlp_size", int, "hidden units of the output MLP (0: linear)"),
    "--dropout": ("model", "dropout", float, "dropout between layers and in the head"),
    "--input-dropout": ("model", "input_dropout", float, "dropout on the embeddings"),
    "--word-dropout": ("model", "word_dropout", float, "zero a whole token's embedding with this probability"),
    "--ensemble": ("model", "ensemble", int, "train K models side by side; predict their mean probability"),
    "--backend": ("model", "backend", str, "auto, explicit or fused"),
    "--pretrain-epochs": ("pretrain", "pretrain_epochs", int, "first train the embedding and recurrent layer "
                                                              "as a language model on the training texts for N "
                                                              "epochs (default 0: off)"),
    "--pretrain-words": ("pretrain", "pretrain_words", int, "words the pretraining language model predicts (the "
                                                            "most frequent; the rest as <unk>; default 10000)"),
    "--pretrain-lr": ("pretrain", "pretrain_lr", float, "learning rate of the pretraining (default: --lr)"),
    **run_flags("examples"),
    **TRAINING_FLAGS,
}


def add_classify_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train classify ...``, a subcommand of ``rnnkit train``."""
    parser = tasks.add_parser(
        "classify", help="sequence classifier (text -> label)",
        description="Train a recurrent text classifier. --data takes a CSV/TSV/JSONL table, a file of 'LABEL TEXT' "
                    "lines, several files (one per class), or a directory or .zip with a folder per class.")
    add_data_arguments(parser, "training data (see above; required unless --resume)", VALID_DATA_HELP,
                       "test data, evaluated once at the end", required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, CLASSIFY_FLAGS)
    parser.set_defaults(handler=_train_classify)


def add_predict_parser(commands: argparse._SubParsersAction) -> None:
    """``rnnkit predict RUN --input FILE|- [--format jsonl|csv]``: one record per text, with the class
    probabilities."""
    predict = commands.add_parser("predict", help="class probabilities for texts (classify) or tags for sentences "
                                                  "(tag), one JSON object per text (JSONL) or one CSV row")
    predict.add_argument("run", type=Path, help="run directory written by 'rnnkit train classify' or 'train tag'")
    predict.add_argument("--input", required=True,
                         help="one text per line, or a CSV/TSV/JSONL table with a text column; '-' for stdin "
                              "(audio runs: a WAV file, a directory of them, or '-' for paths on stdin)")
    predict.add_argument("--text-column", default=None, help="the text column of a table (default: the run's)")
    predict.add_argument("--batch-size", type=int, default=64, help="texts per batch (default 64)")
    predict.add_argument("--format", choices=FORMATS, default="jsonl",
                         help="jsonl (default): one JSON object per line; csv: a header, then one row per input "
                              "with a p_<label> column per class (tags: space-joined)")
    add_tag_predict_arguments(predict)
    predict.set_defaults(handler=_predict)


def _train_classify(args: argparse.Namespace) -> int:
    from .tasks.classify import train_classifier

    settings = training_settings(args, CLASSIFY_FLAGS, SECTIONS)
    return run_training(lambda: train_classifier(args.out, data=args.data, valid=args.valid, test=args.test,
                                                 **settings), args.out, resume_with="rnnkit train classify")


def _predict(args: argparse.Namespace) -> int:
    from .api import load
    from .data.readers.labelled import LabelledText, read_texts

    predictor = load(args.run)
    if not hasattr(predictor, "predict"):
        raise ValueError(f"{args.run}: a run of task {predictor.task!r}; 'predict' needs a 'classify' run")
    if predictor.task == "tag":
        return predict_tags(predictor, args)
    if predictor.task == "audio":
        from .cli_audio import predict_audio

        return predict_audio(predictor, args)
    if predictor.task == "dna" and args.input != "-":
        records = predictor.read(Path(args.input))
    elif args.input == "-":
        records = [LabelledText(line, None, f"stdin line {number}")
                   for number, line in enumerate(sys.stdin.read().splitlines(), 1) if line.strip()]
    else:
        column = args.text_column or predictor.text.text_column
        records = list(read_texts(Path(args.input), column, predictor.text.encoding))
    write_predictions(predictor.predict(records, batch_size=args.batch_size), args.format, sys.stdout)
    return 0
