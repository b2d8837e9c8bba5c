"""``rnnkit train TASK`` flags, made from the task's settings dataclasses: each flag is declared once, as a field.

A field made with :func:`rnnkit.train.config.setting` carries its flag's help (and option string, choices,
parser, extra switches) in its metadata; its type gives the argparse type (a ``bool`` field becomes
``--name/--no-name``) and its default is shown in ``--help``. A config file (TOML, YAML or JSON) holds the same
field names, flat or in one table per section; flags given on the command line override it; an unknown key is
an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..data.limits import stdin_lines
from ..tasks.base import Task
from ..train.config import config_from_mapping, flag_of, load_config_file

NONE_TYPE = type(None)


@dataclasses.dataclass(frozen=True)
class Flag:
    """One flag of a task: its option string, the settings field it sets, and how argparse reads it."""

    option: str
    section: str
    field: dataclasses.Field
    hint: Any

    @property
    def dest(self) -> str:
        """The argparse attribute: ``"model.hidden_size"`` (a section per field, so names never collide)."""
        return f"{self.section}.{self.field.name}"


def task_flags(task: Task) -> Iterator[Flag]:
    """The flags of ``rnnkit train TASK``: every field of its settings with an option string, in order, except
    the ones the task hides."""
    for section, cls in task.settings.items():
        hints = get_type_hints(cls)
        for field in dataclasses.fields(cls):
            option = flag_of(field)
            if option is None or f"{section}.{field.name}" in task.hidden:
                continue
            if "help" not in field.metadata:
                raise TypeError(f"{cls.__name__}.{field.name}: a settings field without help; declare it with "
                                "rnnkit.train.config.setting(...)")
            yield Flag(option, section, field, hints[field.name])


def _plain(hint: Any) -> Any:
    """``int | None`` -> ``int``; other hints as they are."""
    if get_origin(hint) in (Union, types.UnionType):
        arguments = [argument for argument in get_args(hint) if argument is not NONE_TYPE]
        return arguments[0] if len(arguments) == 1 else str
    return hint


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def _help(flag: Flag, task: Task) -> str:
    text = task.flag_help.get(flag.option, flag.field.metadata["help"])
    default = flag.field.default
    if default is dataclasses.MISSING and flag.field.default_factory is not dataclasses.MISSING:
        default = flag.field.default_factory()
    if default is not dataclasses.MISSING:
        text += f" (default: {_shown(default)})"
    return text.replace("%", "%%")


def _parser_of(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` for argparse: its ValueError becomes argparse's one-line usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def add_task_flags(parser: argparse.ArgumentParser, task: Task) -> None:
    """Add every flag of ``task`` to ``parser``, each defaulting to None (= not given)."""
    for flag in task_flags(task):
        metadata, kind = flag.field.metadata, _plain(flag.hint)
        options: dict[str, Any] = {"dest": flag.dest, "default": None, "help": _help(flag, task)}
        if kind is not bool:
            options["metavar"] = None if metadata.get("choices") else flag.field.name.upper()
        if kind is bool:
            parser.add_argument(flag.option, action=argparse.BooleanOptionalAction, **options)
        else:
            if metadata.get("parse") is not None:
                options["type"] = _parser_of(metadata["parse"])
            elif kind in (int, float, str, Path):
                options["type"] = kind
            if metadata.get("choices"):
                options["choices"] = tuple(metadata["choices"])
            parser.add_argument(flag.option, **options)
        for switch, value in metadata.get("switches", {}).items():
            same = (flag.option if value else "--no-" + flag.option[2:]) if isinstance(value, bool) else \
                f"{flag.option} {_shown(value)}"
            parser.add_argument(switch, dest=flag.dest, action="store_const", const=value, default=None,
                                help=task.flag_help.get(switch, f"the same as {same}"))


def add_data_arguments(parser: argparse.ArgumentParser, task: Task) -> None:
    """``--data``, ``--valid``, ``--test`` (several paths each where the task reads several files), the task's
    other data flags, ``--out``, ``--config`` and ``--resume``: the arguments of every ``rnnkit train TASK``."""
    nargs = "+" if task.several_files else None
    data, valid, test = (text.replace("%", "%%") for text in task.data_help)
    parser.add_argument("--data", type=task.path_type, nargs=nargs, default=None, help=data)
    parser.add_argument("--valid", type=task.path_type, nargs=nargs, default=None, help=valid)
    parser.add_argument("--test", type=task.path_type, nargs=nargs, default=None, help=test)
    for option, (keyword, help_text) in task.extra_data.items():
        parser.add_argument(option, dest=keyword, type=Path, default=None, help=help_text)
    parser.add_argument("--out", type=Path, required=True, help="run directory to create (or, with --resume, "
                                                                "to continue)")
    parser.add_argument("--config", type=Path, default=None, help="settings file: TOML, YAML or JSON")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint, with its saved data and settings "
                             "(--epochs may extend it)")


def settings_from(args: argparse.Namespace, task: Task) -> dict[str, Any]:
    """One settings dataclass per section of ``task``, from the config file (``args.config``) and the flags given."""
    sections = task.settings
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}
    if args.config is not None:
        raw = load_config_file(args.config)
        owner = {field.name: name for name, cls in sections.items() for field in dataclasses.fields(cls)}
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
    for flag in task_flags(task):
        value = getattr(args, flag.dest)
        if value is not None:
            values[flag.section][flag.field.name] = value
    source = str(args.config) if args.config else "flags"
    return {name: config_from_mapping(cls, values[name], source=f"{source} [{name}]")
            for name, cls in sections.items()}


def training_keywords(args: argparse.Namespace, task: Task) -> dict[str, Any]:
    """The keywords ``task.train`` gets besides ``out``: data, settings (or, with ``--resume``, only ``epochs``).

    Raises:
        ValueError: ``--resume`` beside any data, config or settings flag other than ``--epochs`` (a resumed run
            keeps its saved data and settings); no ``--data`` for a new run of a task that needs it.
    """
    if args.resume:
        given = [option for option, dest in _resume_refused(task) if getattr(args, dest) is not None]
        if given:
            raise ValueError(f"--resume continues with the run's saved settings; got {', '.join(given)}; "
                             "only --epochs may be given (to extend the run)")
        return {"resume": True, "epochs": getattr(args, "train.epochs", None)}
    if args.data is None and task.data_required:
        raise ValueError("--data: missing; expected the training data (or --resume to continue the run in --out)")
    extra = {keyword: getattr(args, keyword) for keyword, _ in task.extra_data.values()}
    return {"data": args.data, "valid": args.valid, "test": args.test, **extra, **settings_from(args, task)}


def _resume_refused(task: Task) -> list[tuple[str, str]]:
    refused = [("--data", "data"), ("--valid", "valid"), ("--test", "test"), ("--config", "config")]
    refused += [(option, keyword) for option, (keyword, _) in task.extra_data.items()]
    return refused + [(flag.option, flag.dest) for flag in task_flags(task) if flag.option != "--epochs"]


def texts_from(args: argparse.Namespace, verb: str) -> list[tuple[str, str]]:
    """``(where, text)`` for each TEXT argument and each line of ``--input FILE`` ('-': stdin), in that order.

    ``where`` ("TEXT argument 2", "notes.txt line 7") lets an error name the text it is about.
    """
    from ..data.readers.text import read_lines

    texts = [(f"TEXT argument {number}", text) for number, text in enumerate(args.texts, 1)]
    if args.input is not None:
        lines = stdin_lines() if str(args.input) == "-" else read_lines(args.input)
        name = "stdin" if str(args.input) == "-" else str(args.input)
        texts += [(f"{name} line {number}", line) for number, line in enumerate(lines, 1)]
    if not texts:
        raise ValueError(f"{verb}: got no text; expected TEXT arguments or --input FILE")
    return texts
