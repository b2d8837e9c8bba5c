"""``rnnkit train tag``, and what ``rnnkit evaluate`` / ``rnnkit predict`` do with a tagging run.

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
from .prediction_output import write_predictions
from .tasks.tag import SETTINGS as SECTIONS  # the settings dataclass of each config section

# flag -> (section, field, type, help); bool fields get --flag / --no-flag
TAG_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--token-column": ("text", "token_column", int, "index of the token column (default 0, the first)"),
    "--tag-column": ("text", "tag_column", int, "index of the tag column (default -1, the last)"),
    "--separator": ("text", "separator", str, "whitespace (default) or tab between columns"),
    "--encoding": ("text", "encoding", str, "text encoding of the data files (default utf-8)"),
    "--lower": ("text", "lower", bool, "lower-case the tokens (default off)"),
    "--min-freq": ("text", "min_freq", int, "rarer training tokens become <unk>"),
    "--max-vocab": ("text", "max_vocab", int, "vocabulary size limit, specials included"),
    "--valid-fraction": ("text", "valid_fraction", float, "share of training sentences held out without --valid"),
    "--cell": ("model", "cell", str, "rnn, gru, lstm or lnlstm"),
    "--embedding-size": ("model", "embedding_size", int, "token embedding size"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per direction"),
    "--num-layers": ("model", "num_layers", int, "stacked recurrent layers (0: tag from the embedding alone)"),
    "--bidirectional": ("model", "bidirectional", bool, "read both ways (default on)"),
    "--dropout": ("model", "dropout", float, "dropout on embeddings, between layers and before the output"),
    "--word-dropout": ("model", "word_dropout", float, "in training, replace tokens by <unk> with this probability"),
    "--backend": ("model", "backend", str, "auto, explicit or fused"),
    **run_flags("sentences"),
    **TRAINING_FLAGS,
}


def add_tag_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train tag ...``, a subcommand of ``rnnkit train``."""
    parser = tasks.add_parser(
        "tag", help="sequence tagger (a tag per token: NER, POS, chunking)",
        description="Train a recurrent tagger on CoNLL-style files: one token per line with its tag in another "
                    "column, a blank line between sentences, -DOCSTART- lines skipped; plain or .gz.")
    add_data_arguments(parser, "training file(s) (required unless --resume)",
                       "validation file(s) for choosing the best epoch (default: --valid-fraction of --data)",
                       "test file(s), evaluated once at the end", required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, TAG_FLAGS)
    parser.set_defaults(handler=_train_tag)


def add_tag_predict_arguments(predict: argparse.ArgumentParser) -> None:
    """The ``rnnkit predict`` options that only a tagging run uses."""
    predict.add_argument("--conll", action="store_true",
                         help="tag runs: read --input as CoNLL columns (the run's token column; any tags ignored) "
                              "instead of one whitespace-tokenized sentence per line")


def _train_tag(args: argparse.Namespace) -> int:
    from .tasks.tag import train_tagger

    settings = training_settings(args, TAG_FLAGS, SECTIONS)
    return run_training(lambda: train_tagger(args.out, data=args.data, valid=args.valid, test=args.test, **settings),
                        args.out, resume_with="rnnkit train tag")


def predict_tags(predictor: Any, args: argparse.Namespace) -> int:
    """``rnnkit predict RUN --input FILE|-`` for a tagging run: one ``{"tokens", "tags"}`` object per sentence."""
    from .data.readers.conll import TaggedSentence
    from .tasks.tag_data import read_sentences

    if args.conll:
        if args.input == "-":
            raise ValueError("--conll: got --input -; expected a file (CoNLL columns are read from files)")
        sentences: list[Any] = read_sentences(Path(args.input), predictor.text, "--input", tags=False)
    else:
        from .data.readers.labelled import numbered_lines

        if args.input == "-":
            name, lines = "stdin", enumerate(sys.stdin.read().splitlines(), 1)
        else:
            name, lines = str(args.input), numbered_lines(Path(args.input), predictor.text.encoding)
        sentences = [TaggedSentence(tuple(line.split()), None, name, (number,) * len(line.split()))
                     for number, line in lines if line.strip()]
    write_predictions(predictor.predict(sentences, batch_size=args.batch_size), args.format, sys.stdout)
    return 0
