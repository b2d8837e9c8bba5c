"""``rnnkit gradflow``, ``rnnkit longdep`` and ``rnnkit probe``: the gradient-flow lab on the command line.

Each verb writes its JSON (and a PNG) under ``--out`` where it has one, prints one JSON object (or one per run)
on stdout, and a human summary or progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_analysis_parsers(commands: Any) -> None:
    """Register the analysis subcommands on ``commands`` (argparse subparsers)."""
    from ..analysis.longdep import TASKS

    gradflow = commands.add_parser("gradflow", help="per-step gradient and Jacobian norms: vanishing and exploding")
    gradflow.add_argument("run", type=Path, nargs="?", default=None,
                          help="a language-model run directory (default: fresh models of --cells)")
    gradflow.add_argument("--cells", default="rnn,lstm,gru,lnlstm",
                          help="fresh models of these cells (default: rnn,lstm,gru,lnlstm)")
    gradflow.add_argument("--length", type=int, default=100, help="steps T (default 100)")
    gradflow.add_argument("--batch-size", type=int, default=8, help="sequences averaged over (default 8)")
    gradflow.add_argument("--hidden-size", type=int, default=128, help="fresh models' hidden size (default 128)")
    gradflow.add_argument("--forget-bias", type=float, default=1.0,
                          help="fresh LSTMs' forget-gate (GRUs' update-gate) bias at init (default 1)")
    gradflow.add_argument("--clip", type=float, default=None, help="also show the state gradient clipped per step")
    gradflow.add_argument("--data", type=Path, default=None, help="with RUN: text to read (default random tokens)")
    gradflow.add_argument("--method", default="auto", choices=("auto", "exact", "power"),
                          help="Jacobian norm: exact (full Jacobians) or power iteration (default: auto)")
    gradflow.add_argument("--seed", type=int, default=0, help="seed of the fresh models and data (default 0)")
    gradflow.add_argument("--out", type=Path, required=True, help="folder for gradflow.json and gradflow.png")
    gradflow.set_defaults(handler=_gradflow)

    longdep = commands.add_parser("longdep", help="train cells on a long-range task at several lengths")
    longdep.add_argument("--task", required=True, choices=TASKS, help="the long-range task")
    longdep.add_argument("--lengths", default=None,
                         help="comma-separated lengths (copy: delays; default 25,50,100; digits: 64)")
    longdep.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default rnn,lstm,gru)")
    longdep.add_argument("--bptt-windows", default=None,
                         help="truncation study: comma-separated TBPTT windows (default: full BPTT)")
    longdep.add_argument("--steps", type=int, default=2000, help="step budget per run (default 2000)")
    longdep.add_argument("--seconds", type=float, default=None, help="time budget per run")
    longdep.add_argument("--hidden-size", type=int, default=128, help="hidden units (default 128)")
    longdep.add_argument("--batch-size", type=int, default=64, help="sequences per step (default 64)")
    longdep.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    longdep.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping (default 1)")
    longdep.add_argument("--forget-bias", type=float, default=1.0,
                         help="LSTM forget-gate / GRU update-gate bias at init (default 1; 4 for long lengths)")
    longdep.add_argument("--input-bias", type=float, default=0.0,
                         help="LSTM input-gate bias at init (default 0; -4 closes it, chrono-style)")
    longdep.add_argument("--seed", type=int, default=0, help="seed of data and weights (default 0)")
    longdep.add_argument("--out", type=Path, required=True, help="folder for longdep.json and longdep.png")
    longdep.add_argument("--quiet", action="store_true", help="no progress output")
    longdep.set_defaults(handler=_longdep)

    probe = commands.add_parser("probe", help="minimal-pair accuracy of a language model")
    probe.add_argument("run", type=Path, help="a language-model run directory")
    probe.add_argument("--input", type=Path, required=True,
                       help="prefix<TAB>correct<TAB>wrong[<TAB>group] or good<TAB>bad lines")
    probe.add_argument("--format", default="auto", choices=("auto", "continuation", "sentence"),
                       help="continuation (prefix, correct, wrong) or sentence (good, bad) pairs; auto: by the "
                            "column count (default auto)")
    probe.set_defaults(handler=_probe)


def parse_list(text: str, flag: str, kind: type = str, minimum: int | None = None,
               choices: tuple[str, ...] | None = None) -> list:
    """``"a,b,c"`` as a list; a bad item is a ValueError naming the flag, the item and what was expected."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"{flag}: got {text!r}; expected a comma-separated list")
    values = []
    for item in items:
        if kind is int:
            try:
                value = int(item)
            except ValueError:
                raise ValueError(f"{flag}: got {item!r}; expected integers >= {minimum}") from None
            if minimum is not None and value < minimum:
                raise ValueError(f"{flag}: got {value}; expected integers >= {minimum}")
            values.append(value)
        else:
            if choices is not None and item not in choices:
                raise ValueError(f"{flag}: got {item!r}; expected one of {', '.join(choices)}")
            values.append(item)
    return values


def _check_positive(value: float | None, flag: str, integer: bool = False) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{flag}: got {value}; expected a positive {'integer' if integer else 'number'}")


def _gradflow(args: argparse.Namespace) -> int:
    import torch

    from ..analysis.gradflow import decay_distance, gradient_flow, summarize
    from ..analysis.longdep import adding_problem
    from ..analysis.plots import plot_gradient_flow
    from ..analysis.sequence_model import CELLS, SequenceModel
    from ..train.atomic import atomic_write_json

    if args.length < 2:
        raise ValueError(f"--length: got {args.length}; expected an integer >= 2")
    for flag, value in (("--batch-size", args.batch_size), ("--hidden-size", args.hidden_size)):
        _check_positive(value, flag, integer=True)
    _check_positive(args.clip, "--clip")
    report: dict[str, Any] = {"length": args.length, "cells": {}}
    if args.run is not None:
        predictor = _load_language_model(args.run)
        batch = _language_model_batch(predictor, args)
        name = f"{predictor.model.config.cell} ({args.run.name})"
        report["cells"][name] = _flow(gradient_flow, predictor.model, batch, args)
    else:
        cells = parse_list(args.cells, "--cells", choices=CELLS)
        data = adding_problem(args.batch_size, args.length, args.seed)
        for cell in cells:
            torch.manual_seed(args.seed)
            model = SequenceModel(2, 1, cell, args.hidden_size, forget_bias=args.forget_bias, backend="explicit")
            print(f"gradflow: {cell} ...", file=sys.stderr, flush=True)
            report["cells"][cell] = _flow(gradient_flow, model, data, args)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "gradflow.json", report)
    plot_gradient_flow(report, args.out / "gradflow.png")
    print(summarize(report), file=sys.stderr)
    summary = {cell: {"decay_distance_1e6": decay_distance(values["grad_norm"]),
                      "grad_ratio_first_last": values["grad_norm"][0] / values["grad_norm"][-1]
                      if values["grad_norm"][-1] else None,
                      "jacobian_norm_first": values["jacobian_norm"][0]}
               for cell, values in report["cells"].items()}
    print(json.dumps({"length": args.length, "json": str(args.out / "gradflow.json"),
                      "png": str(args.out / "gradflow.png"), "cells": summary}), flush=True)
    return 0


def _flow(gradient_flow: Any, model: Any, batch: Any, args: argparse.Namespace) -> dict[str, Any]:
    result = gradient_flow(model, batch, clip=args.clip, method=args.method, seed=args.seed)
    result.pop("length")
    return result


def _load_language_model(run: Path) -> Any:
    from ..api import load

    predictor = load(run)
    if not hasattr(predictor, "vocab") or not hasattr(predictor.model, "layers"):
        raise ValueError(f"{run}: a run of task {predictor.task!r}; expected a language-model (lm) run")
    return predictor


def _language_model_batch(predictor: Any, args: argparse.Namespace) -> Any:
    """Token ids ``(B, T+1)``: windows of ``--data``'s text, or random ids (specials excluded)."""
    import torch

    from ..data.corpus import encode_text
    from ..data.readers.text import read_text

    needed = args.batch_size * (args.length + 1)
    if args.data is not None:
        ids = encode_text(read_text(args.data, predictor.corpus.encoding), predictor.vocab, predictor.corpus,
                          getattr(predictor, "segmenter", None))
        if len(ids) < needed:
            raise ValueError(f"--data {args.data}: holds {len(ids)} tokens; expected at least {needed} "
                             f"(--batch-size {args.batch_size} x (--length {args.length} + 1))")
        return ids[:needed].view(args.batch_size, args.length + 1)
    generator = torch.Generator().manual_seed(args.seed)
    low = len(predictor.corpus.specials)
    return torch.randint(low, len(predictor.vocab), (args.batch_size, args.length + 1), generator=generator)


def _longdep(args: argparse.Namespace) -> int:
    from ..analysis.longdep_train import LongDepConfig, train_long_dependency
    from ..analysis.plots import plot_long_dependency
    from ..analysis.sequence_model import CELLS
    from ..train.atomic import atomic_write_json

    cells = parse_list(args.cells, "--cells", choices=CELLS)
    default_lengths = "64" if args.task == "digits" else "25,50,100"
    lengths = parse_list(args.lengths or default_lengths, "--lengths", int, minimum=2)
    windows = [None] if args.bptt_windows is None else parse_list(args.bptt_windows, "--bptt-windows", int, 1)
    for flag, value in (("--steps", args.steps), ("--hidden-size", args.hidden_size),
                        ("--batch-size", args.batch_size)):
        _check_positive(value, flag, integer=True)
    for flag, value in (("--seconds", args.seconds), ("--lr", args.lr), ("--clip", args.clip)):
        _check_positive(value, flag)
    if args.task == "digits" and lengths != [64]:
        raise ValueError(f"--lengths: got {args.lengths!r} for task 'digits'; expected 64 (8x8 pixels)")
    if args.task == "recall" and min(lengths) < 3:
        raise ValueError(f"--lengths: got {min(lengths)} for task 'recall'; expected integers >= 3")
    if args.task == "tickets" and min(lengths) < 4:
        raise ValueError(f"--lengths: got {min(lengths)} for task 'tickets'; expected integers >= 4")
    results, started = [], time.perf_counter()
    for window in windows:
        config = LongDepConfig(hidden_size=args.hidden_size, batch_size=args.batch_size, lr=args.lr, clip=args.clip,
                               max_steps=args.steps, max_seconds=args.seconds, seed=args.seed, bptt=window,
                               forget_bias=args.forget_bias, input_bias=args.input_bias)
        for cell in cells:
            for length in lengths:
                result = train_long_dependency(args.task, cell, length, config)
                results.append(result)
                if not args.quiet:
                    print(f"longdep: {args.task} {cell} length {length}" + (f" bptt {window}" if window else "")
                          + f": {result['metric']} {result['value']:.4g}, solved={result['solved']}, "
                          f"{result['steps']} steps, {result['seconds']:.0f} s", file=sys.stderr, flush=True)
                print(json.dumps({key: value for key, value in result.items() if key not in ("curve", "config")}
                                 | {"bptt": window}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "longdep.json", {"task": args.task, "runs": results,
                                                  "seconds": round(time.perf_counter() - started, 1)})
    plot_long_dependency(results, args.out / "longdep.png")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from ..analysis.probes import read_minimal_pairs, run_probes

    pairs = read_minimal_pairs(args.input, args.format)  # a bad file fails before the model is loaded
    predictor = _load_language_model(args.run)
    report = run_probes(predictor, pairs)
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0
