"""The ``rnnkit`` command: parses arguments and calls the Python API, nothing more.

Results go to stdout as JSON (one object, or one per line for many inputs); progress and logs go to stderr.
User mistakes (``ValueError``, ``FileNotFoundError``) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .cli_analysis import add_analysis_parsers
from .cli_classify import add_predict_parser
from .cli_condgen import add_condition_arguments, generate_conditioned
from .cli_forecast import add_forecast_evaluate_arguments, add_forecast_parser, evaluate_forecast
from .cli_seq2seq import add_seq2seq_evaluate_arguments, add_translate_parser, evaluate_seq2seq
from .cli_settings import texts_from
from .cli_train import add_train_parser, run_demo


class _Parser(argparse.ArgumentParser):
    """argparse, with usage mistakes reported as one line, as every other user mistake (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rnnkit: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from . import __version__

    parser = _Parser(
        prog="rnnkit",
        description="Recurrent neural networks for sequences: train, evaluate and use RNN, LSTM and GRU models.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parser(commands)

    evaluate = commands.add_parser("evaluate", help="metrics of a trained run on a data file (one JSON object)")
    evaluate.add_argument("run", type=Path, help="run directory written by 'rnnkit train'")
    evaluate.add_argument("--data", type=Path, nargs="+", required=True,
                          help="data to evaluate on, read as in training (classify, tag, dna, audio, condgen: "
                               "several files too, e.g. one per class)")
    evaluate.add_argument("--batch-size", type=int, default=None,
                          help="parallel streams (default 1: the whole text as one stream, as published "
                               "perplexities are measured; more is faster); seq2seq: sentences decoded together "
                               "(default 64); classify, condgen: texts per batch (default 64)")
    add_seq2seq_evaluate_arguments(evaluate)
    add_forecast_evaluate_arguments(evaluate)
    evaluate.set_defaults(handler=_evaluate)
    add_translate_parser(commands)
    add_forecast_parser(commands)

    generate = commands.add_parser("generate", help="sample text from a language model or a conditional generator")
    generate.add_argument("run", type=Path)
    generate.add_argument("--prompt", default="", help="text to continue (default: start of a text)")
    generate.add_argument("--length", type=int, default=None,
                          help="tokens to generate (default 200); condgen: at most this many per text")
    generate.add_argument("--temperature", type=float, default=1.0, help="0 is greedy; higher is more random")
    generate.add_argument("--top-k", type=int, default=None, help="sample among the k most likely tokens")
    generate.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with mass p")
    generate.add_argument("--seed", type=int, default=None, help="random seed for reproducible samples")
    add_condition_arguments(generate)
    generate.set_defaults(handler=_generate)

    score = commands.add_parser("score", help="log P(text) and perplexity, one JSON object per text (JSONL)")
    score.add_argument("run", type=Path)
    score.add_argument("texts", nargs="*", help="texts to score")
    score.add_argument("--input", type=Path, default=None, help="file with one text per line ('-' for stdin)")
    score.set_defaults(handler=_score)

    add_predict_parser(commands)

    demo = commands.add_parser("demo", help="the main job: a char-level LSTM on the built-in corpus (~2 min)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (replaced if a demo)")
    demo.add_argument("--seconds", type=float, default=75.0, help="training time budget (default 75)")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(handler=run_demo)
    add_analysis_parsers(commands)
    return parser


def _print_json(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def _predictor_with(run: Path, verb: str):
    """The run's predictor, or a user error if its task has no such verb (``score`` on a classifier)."""
    from .api import load

    predictor = load(run)
    if not callable(getattr(predictor, verb, None)):
        raise ValueError(f"{run}: a run of task {predictor.task!r}, which has no '{verb}'; expected a run of a "
                         "task that does (e.g. 'lm')")
    return predictor


SEVERAL_FILE_TASKS = ("classify", "tag", "dna", "audio", "condgen")  # their evaluate() reads data as training did


def _evaluate(args: argparse.Namespace) -> int:
    from .api import load

    predictor = load(args.run)
    task = getattr(predictor, "task", None)
    if task in SEVERAL_FILE_TASKS:
        _print_json(predictor.evaluate(args.data, batch_size=args.batch_size or 64))
        return 0
    if len(args.data) > 1:
        raise ValueError(f"--data: got {len(args.data)} paths; a {task!r} run evaluates one file")
    args.data = args.data[0]
    if task == "seq2seq":
        _print_json(evaluate_seq2seq(predictor, args))
    elif task == "forecast":
        _print_json(evaluate_forecast(predictor, args))
    else:
        _print_json(predictor.evaluate(args.data, batch_size=1 if args.batch_size is None else args.batch_size))
    return 0


def _generate(args: argparse.Namespace) -> int:
    predictor = _predictor_with(args.run, "generate")
    if predictor.task == "condgen":
        return generate_conditioned(predictor, args)
    for flag, value in (("--condition", args.condition), ("--count", args.count), ("--guidance", args.guidance)):
        if value is not None:
            raise ValueError(f"{flag}: got {value!r}, but {args.run} is a run of task {predictor.task!r}; expected "
                             f"{flag} only with a 'condgen' run")
    text = predictor.generate(
        args.prompt, length=200 if args.length is None else args.length, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    _print_json({"prompt": args.prompt, "text": text})
    return 0


def _score(args: argparse.Namespace) -> int:
    texts = texts_from(args, "score")  # (where, text): errors name the argument or the input line
    predictor = _predictor_with(args.run, "score")
    records = []
    for where, text in texts:  # all scored before any is printed: a bad line leaves no partial output
        try:
            records.append(predictor.score(text))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    for record in records:
        _print_json(record)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, "handler", None) is None:  # 'rnnkit train' without a task
        parser.parse_args([args.command, "--help"])
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
