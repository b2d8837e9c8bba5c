"""What every ``rnnkit train TASK`` shares: flag tables onto settings dataclasses, config files, the training call.

A task's flag table maps each flag to ``(section, field, kind, help)``: ``kind`` is the value's type, ``bool`` for
a switch (``--name`` sets True, ``--no-name`` False), or ``(SWITCH, value)`` for a switch that sets ``value``. A
config file (TOML, YAML or JSON) holds the same field names, flat or in one table per section; flags given on the
command line override it; an unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .train.config import config_from_mapping, load_config_file

SWITCH = object()  # kind (SWITCH, value): a flag without a value that sets its field to value

FlagTable = Mapping[str, tuple[str, str, Any, str]]

# the optimisation and run-control flags every task's table ends with (all fields of TrainConfig)
TRAINING_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--lr": ("train", "lr", float, "learning rate"),
    "--optimizer": ("train", "optimizer", str, "sgd or adamw"),
    "--weight-decay": ("train", "weight_decay", float, "weight decay"),
    "--clip": ("train", "clip_norm", float, "clip the gradients' global norm to this"),
    "--schedule": ("train", "schedule", str, "none, plateau, step or cosine"),
    "--lr-decay": ("train", "lr_decay", float, "learning-rate factor of a plateau or step decay"),
    "--plateau-patience": ("train", "plateau_patience", int, "epochs without improvement before a decay"),
    "--warmup-steps": ("train", "warmup_steps", int, "linear learning-rate warm-up"),
    "--patience": ("train", "early_stopping_patience", int, "stop after this many epochs without improvement"),
    "--max-steps-per-epoch": ("train", "max_steps_per_epoch", int, "cap the batches of an epoch"),
    "--deterministic": ("train", "deterministic", bool, "deterministic algorithms only"),
    "--device": ("train", "device", str, "cpu or cuda"),
    "--quiet": ("train", "quiet", bool, "no progress output"),
    "--log-every": ("train", "log_every", int, "steps between progress lines when not on a terminal"),
    "--max-seconds": ("train", "max_seconds", float, "training time budget in seconds"),
}


def run_flags(unit: str, seed: str = "random seed (also of the validation split)", *, momentum: bool = True,
              bf16: bool = True) -> dict[str, tuple[str, str, Any, str]]:
    """``--epochs``, ``--batch-size`` (``unit`` per batch), ``--momentum``, ``--seed`` and ``--bf16``: the
    TrainConfig flags that every task names the same way but explains in its own words."""
    flags: dict[str, tuple[str, str, Any, str]] = {
        "--epochs": ("train", "epochs", int, "passes over the training data"),
        "--batch-size": ("train", "batch_size", int, f"{unit} per batch"),
    }
    if momentum:
        flags["--momentum"] = ("train", "momentum", float, "SGD momentum")
    flags["--seed"] = ("train", "seed", int, seed)
    if bf16:
        flags["--bf16"] = ("train", "bf16", bool, "bfloat16 autocast")
    return flags


def add_data_arguments(parser: argparse.ArgumentParser, data: str, valid: str, test: str, *, several: bool = True,
                       required: bool = True, path_type: Callable[[str], Any] = Path) -> None:
    """``--data``, ``--valid``, ``--test`` (one path each, or several with ``several``), then ``--out`` (the new
    run directory) and ``--config`` (a settings file): the arguments of every ``rnnkit train TASK``."""
    nargs = "+" if several else None
    parser.add_argument("--data", type=path_type, nargs=nargs, required=required, default=None, help=data)
    parser.add_argument("--valid", type=path_type, nargs=nargs, default=None, help=valid)
    parser.add_argument("--test", type=path_type, nargs=nargs, default=None, help=test)
    add_out_and_config(parser)


def add_out_and_config(parser: argparse.ArgumentParser) -> None:
    """``--out`` (the run directory to create) and ``--config`` (a TOML, YAML or JSON settings file)."""
    parser.add_argument("--out", type=Path, required=True, help="run directory to create")
    parser.add_argument("--config", type=Path, default=None, help="settings file: TOML, YAML or JSON")


def destination(flag: str) -> str:
    """The argparse attribute of ``flag``: ``--hidden-size`` -> ``hidden_size``."""
    return flag.lstrip("-").replace("-", "_")


def add_setting_flags(parser: argparse.ArgumentParser, flags: FlagTable) -> None:
    """Add every flag of ``flags`` to ``parser``, each defaulting to None (= not given)."""
    for flag, (_, _, kind, help_text) in flags.items():
        if kind is bool:  # --name sets True, --no-name False
            parser.add_argument(flag, dest=destination(flag), action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif isinstance(kind, tuple):
            parser.add_argument(flag, dest=destination(flag), action="store_const", const=kind[1], default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=destination(flag), type=kind, default=None, help=help_text)


def settings_from(args: argparse.Namespace, flags: FlagTable, sections: Mapping[str, type]) -> dict[str, Any]:
    """One settings dataclass per section, from the config file (``args.config``, if any) and the flags given."""
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}
    if args.config is not None:
        raw = load_config_file(args.config)
        owner = {f.name: name for name, cls in sections.items() for f in dataclasses.fields(cls)}
        for key, value in raw.items():
            if key in sections:
                if not isinstance(value, dict):
                    raise ValueError(f"{args.config}: {key!r} is a section name; expected a [{key}] table of "
                                     f"settings; got {value!r}")
                values[key].update(value)
            elif key in owner:
                values[owner[key]][key] = value
            else:
                valid = ", ".join(sorted([*owner, *sections]))
                raise ValueError(f"{args.config}: unknown key {key!r}; valid keys: {valid}")
    for flag, (section, field, _, _) in flags.items():
        value = getattr(args, destination(flag))
        if value is not None:
            values[section][field] = value
    source = str(args.config) if args.config else "flags"
    return {name: config_from_mapping(cls, values[name], source=f"{source} [{name}]")
            for name, cls in sections.items()}


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    """``--resume``: continue the run in ``--out`` from its last checkpoint."""
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint, with its saved data and settings "
                             "(--epochs may extend it)")


def training_settings(args: argparse.Namespace, flags: FlagTable, sections: Mapping[str, type],
                      data_flags: Sequence[str] = ()) -> dict[str, Any]:
    """The settings a ``rnnkit train TASK`` call passes on: ``{"resume": True, "epochs": ...}`` with ``--resume``
    (see :func:`resume_settings`; ``data_flags``: the task's other data flags, refused beside it too), else one
    dataclass per section (:func:`settings_from`), ``--data`` required."""
    if args.resume:
        return {"resume": True, **resume_settings(args, [*flags, *data_flags])}
    if args.data is None:
        raise ValueError("--data: missing; expected the training data (or --resume to continue the run in --out)")
    return settings_from(args, flags, sections)


def resume_settings(args: argparse.Namespace, flags: Iterable[str]) -> dict[str, Any]:
    """``{"epochs": ...}`` for ``--resume``, which takes the run's saved data and settings: a ValueError naming any
    data, config or settings flag given beside it (``--epochs`` alone may extend the run)."""
    given = [flag for flag in (*flags, "--data", "--valid", "--test", "--config")
             if flag != "--epochs" and getattr(args, destination(flag)) is not None]
    if given:
        raise ValueError(f"--resume continues with the run's saved settings; got {', '.join(given)}; "
                         "only --epochs may be given (to extend the run)")
    return {"epochs": args.epochs}


def run_training(train: Callable[[], dict[str, Any]], out: object, report: bool = True,
                 resume_with: str | None = None) -> int:
    """Call ``train()``; print ``{"run": out, **results}`` as JSON; map a stop or a divergence to an exit code.

    Ctrl-C (the trainer saved a checkpoint first) gives 130 and, for tasks that can resume, the command that
    continues (``resume_with``, e.g. ``"rnnkit train lm"``); a NaN/inf loss gives 1 (the last good checkpoint
    kept). ``report=False`` (e.g. a non-zero torchrun rank) trains without printing the results.
    """
    from .train.trainer import TrainingDiverged, TrainingInterrupted

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
        print(json.dumps({"run": str(out), **results}, ensure_ascii=False), flush=True)
    return 0


def texts_from(args: argparse.Namespace, verb: str) -> list[tuple[str, str]]:
    """``(where, text)`` for each TEXT argument and each line of ``--input FILE`` ('-': stdin), in that order.

    ``where`` ("TEXT argument 2", "notes.txt line 7") lets an error name the text it is about.
    """
    from .data.readers.text import read_lines

    texts = [(f"TEXT argument {number}", text) for number, text in enumerate(args.texts, 1)]
    if args.input is not None:
        lines = sys.stdin.read().splitlines() if str(args.input) == "-" else read_lines(args.input)
        name = "stdin" if str(args.input) == "-" else str(args.input)
        texts += [(f"{name} line {number}", line) for number, line in enumerate(lines, 1)]
    if not texts:
        raise ValueError(f"{verb}: got no text; expected TEXT arguments or --input FILE")
    return texts
