"""``rnnkit train TASK`` (one sub-command per registered task) and ``rnnkit demo``.

Nothing here names a task: the sub-commands, their flags (:mod:`rnnkit.cli.flags`) and the training call all come
from the :class:`~rnnkit.tasks.base.Task` entries of ``rnnkit.tasks.TASKS``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..tasks import TASKS
from ..tasks.base import Task
from .flags import add_data_arguments, add_task_flags, training_keywords
from .summary import run_is_quiet, training_summary


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, wider, for flags whose help shows their default and choices."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=min(shutil.get_terminal_size().columns, 120))


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    """``rnnkit train TASK ...``: a sub-command for each task of ``TASKS``."""
    train = commands.add_parser("train", help="train a model on your data")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for task in TASKS.values():
        parser = tasks.add_parser(task.name, help=task.summary, description=task.description,
                                  formatter_class=_HelpFormatter)
        add_data_arguments(parser, task)
        add_task_flags(parser, task)
        parser.set_defaults(handler=_trainer_of(task))


def _trainer_of(task: Task) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        keywords = training_keywords(args, task)
        return run_training(lambda: task.train(args.out, **keywords), args.out,
                            report=os.environ.get("RANK", "0") == "0",  # under torchrun, rank 0 alone reports
                            resume_with=f"rnnkit train {task.name}", verbs=task.verbs)

    return handler


def run_training(train: Callable[[], dict[str, Any]], out: object, report: bool = True,
                 resume_with: str | None = None, verbs: tuple[str, ...] | None = None) -> int:
    """Call ``train()``; print ``{"run": out, **results}`` as JSON; map a stop or a divergence to an exit code.

    Ctrl-C (the trainer saved a checkpoint first) gives 130 and the command that continues (``resume_with``,
    e.g. ``"rnnkit train lm"``); a NaN/inf loss gives 1 (the last good checkpoint kept). ``report=False`` (a
    non-zero torchrun rank) trains without printing the results. With ``verbs`` (the task's), a short human
    summary goes to stderr first (unless the run is quiet).
    """
    from ..train.trainer import TrainingDiverged, TrainingInterrupted

    try:
        results = train()
    except TrainingInterrupted as stop:
        hint = f"; continue with: {resume_with} --out {out} --resume" if resume_with else ""
        print(f"rnnkit: {stop}{hint}", file=sys.stderr)
        return 130
    except TrainingDiverged as error:
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 1
    if report:
        if verbs is not None and not run_is_quiet(str(out)):
            print(training_summary(results, str(out), verbs), file=sys.stderr, flush=True)
        print(json.dumps({"run": str(out), **results}, ensure_ascii=False), flush=True)
    return 0


def add_demo_parser(commands: argparse._SubParsersAction) -> None:
    """``rnnkit demo``: the main job, a char-level LSTM language model on the built-in corpus."""
    demo = commands.add_parser("demo", help="the main job: a char-level LSTM on the built-in corpus (~2 min)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"),
                      help="run directory (replaced if it holds a demo) (default: runs/demo)")
    demo.add_argument("--seconds", type=float, default=75.0, help="training time budget (default 75)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Train the demo model, report validation bits/char and print a sample."""
    from ..api import load
    from ..tasks.lm import demo_settings, train_language_model
    from ..tasks.run_dir import read_run_config

    out: Path = args.out
    if (out / "config.json").exists():
        config = read_run_config(out, "lm")
        if not config.get("demo"):
            raise ValueError(f"--out {out}: holds a run that is not a demo; choose another --out")
        shutil.rmtree(out)
    results = train_language_model(out, **demo_settings(seconds=args.seconds, quiet=args.quiet), demo=True)
    print(f"rnnkit demo: validation {results['valid_bpc']:.3f} bits/char (perplexity {results['valid_ppl']:.2f}) "
          f"after {results['step']} steps; run in {out}", file=sys.stderr)
    sample = load(out).generate("The ", length=300, temperature=0.7, seed=0)
    print("\n--- sample (temperature 0.7) ---\n" + sample + "\n---", file=sys.stderr)
    print(json.dumps({"run": str(out), **results}), flush=True)
    return 0
