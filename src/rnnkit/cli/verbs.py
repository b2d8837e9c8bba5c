"""The verbs that use a trained run: ``evaluate``, ``predict``, ``score``, ``generate``, ``translate``, ``forecast``,
``caption``.

Each verb loads the run (``rk.load``) and calls the predictor's method of the same name; it never asks which task
the run is. A verb the predictor does not have, or an option its method takes no parameter for, is a one-line
error naming the run's task. Options reach the method by parameter name (``--beam`` -> ``beam_size``), and only
when given, so each predictor's own defaults hold.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..data.limits import check_count
from ..tasks import TASKS
from .flags import texts_from
from .output import FORMATS, write_predictions


def print_json(record: Any) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def predictor_with(run: Path, verb: str, device: str = "cpu", dtype: str | None = None) -> Any:
    """The run's predictor, or a user error if its task does not declare the verb (``score`` on a classifier)."""
    from ..api import load

    predictor = load(run, device=device, dtype=dtype)
    if verb not in TASKS[predictor.task].verbs:
        raise ValueError(f"{run}: a run of task {predictor.task!r}, which has no '{verb}'; expected a run of a "
                         f"task that does (rnnkit train --help lists the tasks)")
    return predictor


def keywords_for(method: Any, options: Mapping[str, tuple[str, Any]], run: Path, task: str) -> dict[str, Any]:
    """The keyword arguments of ``method`` among the options given.

    Args:
        options: parameter name -> (flag, value); a value of None (or False for a switch) was not given. A
            parameter name may list alternatives ``"length|max_length"``: the first the method has is used.

    Raises:
        ValueError: An option given that ``method`` has no parameter for, naming the flag and the run's task.
    """
    parameters = inspect.signature(method).parameters
    keywords: dict[str, Any] = {}
    for names, (flag, value) in options.items():
        if value is None or value is False:
            continue
        name = next((name for name in names.split("|") if name in parameters), None)
        if name is None:
            raise ValueError(f"{flag}: got {value!r}, but {run} is a run of task {task!r}, whose "
                             f"{method.__name__} takes no {flag}")
        keywords[name] = value
    return keywords


def add_verb_parsers(commands: argparse._SubParsersAction) -> None:
    """Register every verb on ``commands`` (argparse subparsers)."""
    _add_evaluate(commands)
    _add_predict(commands)
    _add_score(commands)
    _add_generate(commands)
    _add_translate(commands)
    _add_forecast(commands)
    _add_caption(commands)
    _add_export(commands)


def _add_dtype(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                        help="keep the weights in this precision (bfloat16: faster on CPUs with AMX / AVX-512 BF16 "
                             "and on GPUs, a slightly different result; default: as trained)")


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="metrics of a trained run on a data file (one JSON object)")
    evaluate.add_argument("run", type=Path, help="run directory written by 'rnnkit train'")
    evaluate.add_argument("--data", type=Path, nargs="+", default=None,
                          help="data to evaluate on, read as in training (classify, tag, dna, audio, condgen: "
                               "several files too, e.g. one per class)")
    evaluate.add_argument("--captions", type=Path, nargs="+", default=None,
                          help="caption: the same as --data (captions, and optionally an image list)")
    evaluate.add_argument("--images", type=Path, default=None,
                          help="caption: folder of the image files (default: the caption file's folder)")
    evaluate.add_argument("--batch-size", type=int, default=None,
                          help="parallel streams (default 1: the whole text as one stream, as published "
                               "perplexities are measured; more is faster); seq2seq: sentences decoded together "
                               "(default 64); classify, condgen: texts per batch (default 64)")
    evaluate.add_argument("--beam", type=int, default=None, help="seq2seq: beam size (1: greedy; default: the run's)")
    evaluate.add_argument("--truncate", action="store_true", help="seq2seq: cut sources longer than max_length")
    evaluate.add_argument("--horizon", type=int, default=None, help="forecast: steps ahead (default: the run's)")
    evaluate.add_argument("--last-fraction", type=float, default=None,
                          help="forecast: score only the forecasts of the last share of rows (default: all)")
    evaluate.add_argument("--seasonal-period", type=int, default=None,
                          help="forecast: season of the seasonal-naive baseline (default: the run's)")
    evaluate.add_argument("--plot", type=Path, default=None, help="forecast: draw truth, forecast, interval (.png); "
                                                                  "caption: a folder for a picture per image")
    evaluate.add_argument("--meteor", action="store_true",
                          help="caption: also score METEOR 1.5 (pycocoevalcap's Java jar; needs java)")
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    if (args.data is None) == (args.captions is None):
        raise ValueError("--data: expected the data to evaluate on (--data, or --captions for a caption run), once")
    predictor = predictor_with(args.run, "evaluate")
    data: Any = args.data if args.data is not None else args.captions
    if not TASKS[predictor.task].several_files:
        if len(data) > 1:
            raise ValueError(f"--data: got {len(data)} paths; a {predictor.task!r} run evaluates one file")
        data = data[0]
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size: got {args.batch_size}; expected a positive integer")
    options = {"batch_size": ("--batch-size", args.batch_size), "beam_size": ("--beam", args.beam),
               "truncate": ("--truncate", args.truncate), "horizon": ("--horizon", args.horizon),
               "last_fraction": ("--last-fraction", args.last_fraction),
               "seasonal_period": ("--seasonal-period", args.seasonal_period), "plot": ("--plot", args.plot),
               "images": ("--images", args.images), "meteor": ("--meteor", args.meteor)}
    print_json(predictor.evaluate(data, **keywords_for(predictor.evaluate, options, args.run, predictor.task)))
    return 0


def _add_predict(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="class probabilities for texts, sequences or recordings, or tags "
                                                  "for sentences: one JSON object per input (JSONL) or a CSV row")
    predict.add_argument("run", type=Path, help="run directory written by 'rnnkit train' (classify, tag, dna, audio)")
    predict.add_argument("--input", required=True,
                         help="one text per line, or a CSV/TSV/JSONL table with a text column; '-' for stdin "
                              "(audio runs: a WAV file, a directory of them, or '-' for paths on stdin)")
    predict.add_argument("--text-column", default=None, help="the text column of a table (default: the run's)")
    predict.add_argument("--batch-size", type=int, default=64, help="inputs per batch (default 64)")
    predict.add_argument("--format", choices=FORMATS, default="jsonl",
                         help="jsonl (default): one JSON object per line; csv: a header, then one row per input "
                              "with a p_<label> column per class (tags: space-joined)")
    predict.add_argument("--conll", action="store_true",
                         help="tag runs: read --input as CoNLL columns (the run's token column; any tags ignored) "
                              "instead of one whitespace-tokenized sentence per line")
    _add_dtype(predict)
    predict.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> int:
    predictor = predictor_with(args.run, "predict", dtype=args.dtype)
    options = {"text_column": ("--text-column", args.text_column), "conll": ("--conll", args.conll)}
    records = predictor.read_inputs(args.input, **keywords_for(predictor.read_inputs, options, args.run,
                                                               predictor.task))
    if not records:  # an empty file is a mistake to report, not an empty success
        raise ValueError(f"--input {args.input}: holds no inputs; expected at least one to predict on")
    write_predictions(predictor.predict(records, batch_size=args.batch_size), args.format, sys.stdout)
    return 0


def _add_score(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser("score", help="log P(text) and perplexity, one JSON object per text (JSONL)")
    score.add_argument("run", type=Path, help="a language-model run directory")
    score.add_argument("texts", nargs="*", help="texts to score")
    score.add_argument("--input", type=Path, default=None, help="file with one text per line ('-' for stdin)")
    _add_dtype(score)
    score.set_defaults(handler=_score)


def _score(args: argparse.Namespace) -> int:
    texts = texts_from(args, "score")  # (where, text): errors name the argument or the input line
    predictor = predictor_with(args.run, "score", dtype=args.dtype)
    records = []
    for where, text in texts:  # all scored before any is printed: a bad line leaves no partial output
        try:
            records.append(predictor.score(text))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    for record in records:
        print_json(record)
    return 0


def _add_generate(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser("generate", help="sample text from a language model or a conditional generator")
    generate.add_argument("run", type=Path, help="a language-model or conditional-generator run directory")
    generate.add_argument("--prompt", default=None, help="text to continue (default: start of a text)")
    generate.add_argument("--length", type=int, default=None,
                          help="tokens to generate (default 200); condgen: at most this many per text")
    generate.add_argument("--temperature", type=float, default=None, help="0 is greedy; higher is more random "
                                                                          "(default 1)")
    generate.add_argument("--top-k", type=int, default=None, help="sample among the k most likely tokens")
    generate.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with mass p")
    generate.add_argument("--seed", type=int, default=None, help="random seed for reproducible samples")
    generate.add_argument("--condition", default=None,
                          help="condgen runs: the class label to generate texts of (required for them)")
    generate.add_argument("--count", type=int, default=None, help="condgen runs: texts to generate (default 1)")
    generate.add_argument("--guidance", type=float, default=None,
                          help="condgen runs: classifier-free guidance weight w >= 0 (default 0: plain sampling; "
                               "higher keeps closer to the condition)")
    _add_dtype(generate)
    generate.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    if args.length is not None:  # before loading: a length that would run for hours is refused at once
        check_count("--length", args.length, "RNNKIT_MAX_GENERATE_LENGTH", " tokens")
    if args.count is not None and args.length is not None:
        check_count("--count x --length", args.count * args.length, "RNNKIT_MAX_GENERATE_LENGTH", " tokens")
    predictor = predictor_with(args.run, "generate", dtype=args.dtype)
    options = {"prompt": ("--prompt", args.prompt or None), "condition": ("--condition", args.condition),
               "n": ("--count", args.count), "length|max_length": ("--length", args.length),
               "temperature": ("--temperature", args.temperature), "top_k": ("--top-k", args.top_k),
               "top_p": ("--top-p", args.top_p), "seed": ("--seed", args.seed),
               "guidance": ("--guidance", args.guidance)}
    keywords = keywords_for(predictor.generate, options, args.run, predictor.task)
    required = [name for name, parameter in inspect.signature(predictor.generate).parameters.items()
                if parameter.default is inspect.Parameter.empty and name not in keywords]
    if "condition" in required:
        known = ", ".join(map(repr, getattr(predictor, "labels", [])))
        raise ValueError(f"{args.run}: a {predictor.task!r} run needs --condition LABEL; this model knows {known}")
    generated = predictor.generate(**keywords)
    if isinstance(generated, str):
        print_json({"prompt": args.prompt or "", "text": generated})
    else:
        for text in generated:
            print_json({"condition": args.condition, "text": text})
    return 0


def _add_translate(commands: argparse._SubParsersAction) -> None:
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


def _translate(args: argparse.Namespace) -> int:
    texts = texts_from(args, "translate")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: got {args.batch_size}; expected a positive integer")
    predictor = predictor_with(args.run, "translate", device=args.device)
    records = predictor.translate_records(texts, beam_size=args.beam, truncate=args.truncate,
                                          batch_size=args.batch_size, plot=args.plot)
    for record in records:
        print_json(record)
    return 0


def _add_forecast(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("forecast", help="forecast past the end of a series with a forecast run (JSON)")
    parser.add_argument("run", type=Path, help="run directory written by 'rnnkit train forecast'")
    parser.add_argument("--data", type=Path, required=True, help="the series, with the run's columns")
    parser.add_argument("--horizon", type=int, default=None, help="steps ahead (default: the run's horizon)")
    parser.add_argument("--level", type=float, default=None, help="interval probability (default: the run's)")
    parser.add_argument("--plot", type=Path, default=None, help="draw history, forecast and interval (.png)")
    parser.set_defaults(handler=_forecast)


def _forecast(args: argparse.Namespace) -> int:
    predictor = predictor_with(args.run, "forecast")
    print_json(predictor.forecast(args.data, horizon=args.horizon, level=args.level, plot=args.plot))
    return 0


def _add_caption(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("caption", help="caption images with a caption run (JSONL: image, caption, score)")
    parser.add_argument("run", type=Path, help="run directory written by 'rnnkit train caption'")
    parser.add_argument("images", nargs="*", help="image files to caption")
    parser.add_argument("--input", type=Path, default=None, help="file with one image path per line ('-' for stdin)")
    parser.add_argument("--beam", type=int, default=None, help="beam size (1: greedy; default: the run's)")
    parser.add_argument("--batch-size", type=int, default=64, help="images decoded together (default 64)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="a folder for a picture per image (caption; attention per word, if the model has it)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.set_defaults(handler=_caption)


def _caption(args: argparse.Namespace) -> int:
    items = [(f"IMAGE argument {number}", path) for number, path in enumerate(args.images, 1)]
    if args.input is not None:
        lines = sys.stdin.read().splitlines() if str(args.input) == "-" else args.input.read_text(
            encoding="utf-8").splitlines()
        name = "stdin" if str(args.input) == "-" else str(args.input)
        items += [(f"{name} line {number}", line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    if not items:
        raise ValueError("caption: got no image; expected IMAGE arguments or --input FILE")
    predictor = predictor_with(args.run, "caption", device=args.device)
    options = {"beam_size": ("--beam", args.beam), "batch_size": ("--batch-size", args.batch_size),
               "plot": ("--plot", args.plot)}
    for record in predictor.caption_records(items, **keywords_for(predictor.caption_records, options, args.run,
                                                                  predictor.task)):
        print_json(record)
    return 0


__all__ = ["add_verb_parsers", "keywords_for", "predictor_with", "print_json"]


def _add_export(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export", help="write a run's model as ONNX or a torch.export program (.pt2), with a JSON sidecar",
        description="Write the run's model as one graph for any batch size, length and lengths (the recurrent state "
                    "an input and an output, so a sequence can be fed in pieces), and beside it a JSON sidecar with "
                    "the input and output names, shapes and dtypes, the vocabulary, labels and settings a client "
                    "needs. seq2seq and condgen write two graphs (<stem>.<graph>.<ext>). onnx needs "
                    "'pip install rnnkit[export]'. A .pt2 file holds pickled parts: load only your own files.")
    export.add_argument("run", type=Path, help="run directory written by 'rnnkit train'")
    export.add_argument("--format", choices=("onnx", "pt2"), default="onnx",
                        help="onnx (default; runs in onnxruntime) or pt2 (torch.export.save; torch.export.load)")
    export.add_argument("--out", type=Path, default=None, help="the file to write (default: RUN/export/model.FORMAT)")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from ..api import load
    from ..tasks.exporting import default_path

    predictor = load(args.run)
    if not callable(getattr(predictor, "export", None)):
        raise ValueError(f"{args.run}: a run of task {predictor.task!r}, whose predictor offers no export; expected a "
                         "run of a task that does (rnnkit train --help lists the tasks)")
    sidecar = predictor.export(args.out if args.out is not None else default_path(args.run, args.format), args.format)
    graphs = json.loads(sidecar.read_text(encoding="utf-8"))["graphs"]
    print_json({"task": predictor.task, "format": args.format, "sidecar": str(sidecar),
                "files": [str(sidecar.parent / graph["file"]) for graph in graphs.values()]})
    return 0
