"""``rnnkit train seq2seq``, ``rnnkit translate`` and the translation side of ``rnnkit evaluate``.

Every training flag is one field of one settings dataclass (corpus, model, train or seq2seq); a config file
(TOML, YAML or JSON) holds the same names, flat or in ``[corpus]``, ``[model]``, ``[train]``, ``[seq2seq]``
tables, and flags given on the command line override it. An unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .cli_settings import (
    SWITCH,
    TRAINING_FLAGS,
    add_data_arguments,
    add_resume_argument,
    add_setting_flags,
    run_flags,
    run_training,
    texts_from,
    training_settings,
)
from .tasks.seq2seq import SETTINGS as SECTIONS  # the settings dataclass of each config section

# flag -> (section, field, type or (SWITCH, value), help)
SEQ2SEQ_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--source-lang": ("corpus", "source_lang", str, "with --target-lang: --data is a prefix of parallel files "
                                                     "PREFIX.SRC / PREFIX.TGT (plain or .gz); without: a TSV"),
    "--target-lang": ("corpus", "target_lang", str, "see --source-lang"),
    "--reverse": ("corpus", "reverse", (SWITCH, True), "translate the TSV's second column into its first"),
    "--keep-case": ("corpus", "lower", (SWITCH, False), "do not lower-case the text"),
    "--min-freq": ("corpus", "min_freq", int, "rarer tokens become <unk> (per side)"),
    "--max-vocab": ("corpus", "max_vocab", int, "vocabulary size limit per side, specials included"),
    "--max-length": ("corpus", "max_length", int, "leave out training pairs longer than this (tokens); "
                                                   "longer sources are refused at translation unless --truncate"),
    "--skip-empty": ("corpus", "skip_empty", (SWITCH, True), "drop pairs with an empty side instead of failing"),
    "--valid-fraction": ("corpus", "valid_fraction", float, "share held out for validation without --valid"),
    "--encoding": ("corpus", "encoding", str, "text encoding of the data files (default utf-8)"),
    "--cell": ("model", "cell", str, "rnn, gru or lstm"),
    "--embedding-size": ("model", "embedding_size", int, "token embedding size"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per layer (and per encoder direction)"),
    "--num-layers": ("model", "num_layers", int, "stacked layers of the encoder and of the decoder"),
    "--bidirectional": ("model", "bidirectional", (SWITCH, True), "bidirectional encoder (the default)"),
    "--unidirectional": ("model", "bidirectional", (SWITCH, False), "forward-only encoder"),
    "--attention": ("model", "attention", str, "none (the last encoder state only), additive, dot or general"),
    "--attention-size": ("model", "attention_size", int, "hidden units of the additive score"),
    "--dropout": ("model", "dropout", float, "dropout on embeddings, between layers, before the output"),
    "--backend": ("model", "backend", str, "auto, explicit or fused"),
    "--teacher-forcing": ("seq2seq", "teacher_forcing", float, "probability of feeding the true previous token"),
    "--teacher-forcing-final": ("seq2seq", "teacher_forcing_final", float, "where a schedule ends"),
    "--scheduled-sampling": ("seq2seq", "teacher_forcing_schedule", str, "constant, linear or inverse_sigmoid"),
    "--label-smoothing": ("seq2seq", "label_smoothing", float, "label smoothing of the loss"),
    "--beam": ("seq2seq", "beam_size", int, "beam size for the test set and the run's default (1: greedy)"),
    "--length-penalty": ("seq2seq", "length_penalty", float, "alpha of log P / length^alpha in beam search"),
    "--max-length-ratio": ("seq2seq", "max_length_ratio", float, "translations have at most ratio * source length"),
    "--max-length-offset": ("seq2seq", "max_length_offset", int, "... + this many tokens"),
    **run_flags("sentence pairs", "random seed", momentum=False, bf16=False),
    **TRAINING_FLAGS,
}


def add_seq2seq_train_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train seq2seq``: registered on the ``train`` command's task subparsers."""
    parser = tasks.add_parser("seq2seq", help="encoder-decoder translation (attention or a context vector)",
                              description="Train an encoder-decoder on sentence pairs: a TSV (source<TAB>target"
                                          "[<TAB>...]) or parallel files PREFIX.SRC/PREFIX.TGT (--source-lang, "
                                          "--target-lang).")
    add_data_arguments(parser, "training pairs: a TSV, or a parallel-file prefix (required unless --resume)",
                       "validation pairs (default: hold out a share)", "test pairs: BLEU and chrF at the end",
                       several=False, required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, SEQ2SEQ_FLAGS)
    parser.set_defaults(handler=_train_seq2seq)


def _train_seq2seq(args: argparse.Namespace) -> int:
    from .tasks.seq2seq import train_seq2seq
    settings = training_settings(args, SEQ2SEQ_FLAGS, SECTIONS)
    if "seq2seq" in settings:
        settings["task"] = settings.pop("seq2seq")  # the decoding settings: train_seq2seq's ``task``
    return run_training(lambda: train_seq2seq(args.out, data=args.data, valid=args.valid, test=args.test, **settings),
                        args.out, resume_with="rnnkit train seq2seq")


def add_translate_parser(commands: argparse._SubParsersAction) -> None:
    """``rnnkit translate RUN [TEXT ...] [--input FILE] [--beam K] [--plot FILE.png]``."""
    parser = commands.add_parser("translate", help="translate sentences with a seq2seq run (JSONL)")
    parser.add_argument("run", type=Path, help="run directory written by 'rnnkit train seq2seq'")
    parser.add_argument("texts", nargs="*", help="sentences to translate")
    parser.add_argument("--input", type=Path, default=None, help="file with one sentence per line ('-' for stdin)")
    parser.add_argument("--beam", type=int, default=None, help="beam size (1: greedy; default: the run's)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="draw the attention of the first sentence as a heatmap (.png, .pdf or .svg)")
    parser.add_argument("--truncate", action="store_true", help="cut sources longer than the run's max_length")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences decoded together (default 64)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.set_defaults(handler=_translate)


def add_seq2seq_evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    """The ``rnnkit evaluate`` options that only translation runs read."""
    evaluate.add_argument("--beam", type=int, default=None, help="seq2seq: beam size (1: greedy; default: the run's)")
    evaluate.add_argument("--truncate", action="store_true", help="seq2seq: cut sources longer than max_length")


def evaluate_seq2seq(predictor, args: argparse.Namespace) -> dict[str, Any]:
    """BLEU, chrF and decoding speed of a translation run on ``--data`` (same form as its training data)."""
    batch_size = 64 if args.batch_size is None else args.batch_size
    if isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"--batch-size: got {batch_size}; expected a positive integer")
    return predictor.evaluate(args.data, beam_size=args.beam, truncate=args.truncate, batch_size=batch_size)


def _translate(args: argparse.Namespace) -> int:
    from .api import load

    texts = texts_from(args, "translate")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: got {args.batch_size}; expected a positive integer")
    predictor = load(args.run, device=args.device)
    if getattr(predictor, "task", None) != "seq2seq":
        raise ValueError(f"{args.run}: a run of task {predictor.task!r}; 'translate' needs a seq2seq run")
    tokens = [predictor.source_tokens(text, args.truncate, where) for where, text in texts]  # all checked first
    decoded = predictor.decode_tokens(tokens, args.beam, args.batch_size)
    records = [{"source": text, "translation": predictor.tokenizer.detokenize(target), "tokens": target,
                "score": score, "complete": ended} for (_, text), (target, score, ended) in zip(texts, decoded,
                                                                                                   strict=True)]
    if args.plot is not None:
        source, target, weights = predictor.attention(texts[0][1], records[0]["tokens"], truncate=args.truncate)
        from .tasks.seq2seq_plot import plot_attention_heatmap

        plot_attention_heatmap(source, target, weights, args.plot)
        records[0]["plot"] = str(args.plot)
    for record in records:
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0
