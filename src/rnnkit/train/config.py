"""Training settings, and config files that map onto any frozen dataclass one key to one field.

A config is a frozen dataclass that checks itself in ``__post_init__``. Files and command-line flags fill it
through the same generic helpers, so every config (training, model, task) behaves alike::

    values = load_config_file("run.toml")                  # {"train": {...}, "model": {...}} or flat
    config = merge_config(TrainConfig, values.get("train", {}), {"lr": args.lr, "epochs": None})

An unknown key is an error that lists the valid ones; a value of the wrong type is an error that names the
key, the value and the type expected. Values are taken as TOML/YAML/JSON give them: an ``int`` field takes an
integer (``3.0`` too, but not ``3.5`` or ``true``), a ``float`` field any number, a ``bool`` field only
``true``/``false``, an ``X | None`` field also ``null`` (JSON/YAML; TOML has no null: leave the key out).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
import platform
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "TrainConfig",
    "flag_of",
    "setting",
    "config_from_mapping",
    "config_to_dict",
    "environment_versions",
    "load_config_file",
    "merge_config",
    "validate_field_types",
]

ConfigT = TypeVar("ConfigT")
NONE_TYPE = type(None)
SIMPLE_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def setting(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = "", choices: tuple | None = None,
            parse: Any = None, switches: Mapping[str, Any] | None = None,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A settings-dataclass field that also describes its command-line flag (read by ``rnnkit.cli.flags``).

    Args:
        default: The field's default (or ``default_factory``).
        help: One line for ``--help``; the default and the choices are appended there, not written here.
        flag: The option string; ``""`` derives it from the field name (``hidden_size`` -> ``--hidden-size``);
            None for a field that no flag sets (derived from the data, e.g. a model's input size).
        choices: The values the flag accepts (shown in ``--help``, checked by argparse).
        parse: A function from the flag's text to the value (e.g. comma-separated column names to a tuple).
        switches: More flags without a value, each setting the field to a constant (``{"--keep-case": False}``).
    """
    metadata = {"help": help, "flag": flag, "choices": choices, "parse": parse, "switches": dict(switches or {})}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str | None:
    """The option string of a settings field (see :func:`setting`); None when no flag sets it."""
    flag = field.metadata.get("flag", "")
    if flag is None:
        return None
    return flag or "--" + field.name.replace("_", "-")


class _MismatchError(Exception):
    """A value does not fit a type hint (internal; turned into a ValueError with the key's name)."""


def _describe(hint: Any) -> str:
    """What a value for ``hint`` must be, in words: ``int | None`` -> ``"an integer or null"``."""
    origin, arguments = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        words = " or ".join(_describe(argument) for argument in arguments if argument is not NONE_TYPE)
        return words + (" or null" if NONE_TYPE in arguments else "")
    if origin is Literal:
        return "one of " + ", ".join(repr(argument) for argument in arguments)
    if origin in (list, tuple):
        item = arguments[0] if arguments else Any
        return "a list" if item is Any else f"a list, each item {_describe(item)}"
    if hint in SIMPLE_TYPE_NAMES:
        return SIMPLE_TYPE_NAMES[hint]
    if hint is Path:
        return "a path (a string)"
    return f"a {getattr(hint, '__name__', hint)}"


def _coerce(value: Any, hint: Any) -> Any:
    """Return ``value`` converted to fit ``hint`` (int -> float, list -> tuple, str -> Path) or raise _MismatchError."""
    origin, arguments = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and NONE_TYPE in arguments:
            return None
        for argument in arguments:
            if argument is not NONE_TYPE:
                try:
                    return _coerce(value, argument)
                except _MismatchError:
                    pass
        raise _MismatchError
    if origin is Literal:
        if any(value == option and type(value) is type(option) for option in arguments):
            return value
        raise _MismatchError
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _MismatchError
        if origin is tuple and arguments and arguments[-1] is not Ellipsis:  # tuple[int, str]: fixed length
            if len(arguments) != len(value):
                raise _MismatchError
            return tuple(_coerce(item, argument) for item, argument in zip(value, arguments, strict=True))
        items = [_coerce(item, arguments[0]) if arguments else item for item in value]
        return tuple(items) if origin is tuple else items
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _MismatchError
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _MismatchError
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _MismatchError
    if hint is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise _MismatchError
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise _MismatchError
    return value  # an annotation we do not know: the dataclass's own checks judge the value


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"expected a dataclass type; got {cls!r}")
    hints = get_type_hints(cls)
    return {field.name: hints.get(field.name, Any) for field in dataclasses.fields(cls) if field.init}


def _mismatch_message(name: str, value: Any, hint: Any) -> str:
    return f"{name}: got {value!r} ({type(value).__name__}); expected {_describe(hint)}"


def validate_field_types(config: Any) -> None:
    """Check every field of a dataclass instance against its type hint; for ``__post_init__``.

    Lossless conversions are written back (an int in a float field becomes a float, a list in a tuple field a
    tuple), also on frozen dataclasses, so the saved config always has the declared types.

    Raises:
        ValueError: ``"<field>: got <value> (<type>); expected <what>"`` for the first field that does not fit.
    """
    for name, hint in _field_hints(type(config)).items():
        value = getattr(config, name)
        try:
            converted = _coerce(value, hint)
        except _MismatchError:
            raise ValueError(_mismatch_message(name, value, hint)) from None
        if converted is not value:
            object.__setattr__(config, name, converted)


def _coerce_mapping(cls: type, mapping: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check the keys of ``mapping`` against the fields of ``cls`` and convert each value to its field's type."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{source}: expected a mapping of settings; got {type(mapping).__name__}")
    hints = _field_hints(cls)
    unknown = [key for key in mapping if key not in hints]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        close = difflib.get_close_matches(str(unknown[0]), list(hints), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} {names}; "
                         f"valid keys: {', '.join(sorted(hints))}{hint}")
    values = {}
    for key, value in mapping.items():
        try:
            values[key] = _coerce(value, hints[key])
        except _MismatchError:
            raise ValueError(f"{source}: {_mismatch_message(key, value, hints[key])}") from None
    return values


def config_from_mapping(cls: type[ConfigT], mapping: Mapping[str, Any], source: str = "config") -> ConfigT:
    """Build the dataclass ``cls`` from a mapping of field names to values (missing keys keep their defaults).

    Args:
        cls: Any dataclass type, e.g. :class:`TrainConfig`.
        mapping: Values as a config file gives them (see the module docstring for the accepted types).
        source: Where the values come from, put in front of every error message (e.g. the file's path).

    Raises:
        ValueError: For an unknown key (listing the valid keys), a missing key without a default, a value of
            the wrong type, or a value that the dataclass's own checks refuse; the message starts with ``source``.
    """
    values = _coerce_mapping(cls, mapping, source)
    try:
        return _build(cls, values)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def _build(cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """``cls(**values)``, with a ValueError (not a TypeError) for fields that have no default and no value."""
    missing = [field.name for field in dataclasses.fields(cls) if field.init and field.name not in values
               and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
                         "these settings have no default")
    return cls(**values)


def merge_config(cls: type[ConfigT], file_values: Mapping[str, Any], overrides: Mapping[str, Any], *,
                 source: str = "config file") -> ConfigT:
    """Build ``cls`` from a config file's values with command-line ``overrides`` on top.

    An override whose value is None means "flag not given" and is ignored, so an override cannot set an
    ``X | None`` field back to None; give such a flag an explicit value meaning "off" in the CLI instead.

    Raises:
        ValueError: As :func:`config_from_mapping`; errors in the file's values start with ``source``,
            errors in overrides with ``"overrides"``.
    """
    values = _coerce_mapping(cls, file_values, source)
    values.update(_coerce_mapping(cls, {key: value for key, value in overrides.items() if value is not None},
                                  "overrides"))
    return _build(cls, values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The fields of a dataclass instance as a JSON-ready dict (tuples become lists, paths strings)."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return str(value) if isinstance(value, Path) else value

    return plain(dataclasses.asdict(config))


def environment_versions() -> dict[str, str]:
    """Versions of Python, torch, numpy and rnnkit, and the platform: stored next to the config of a run."""
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import torch

    try:
        rnnkit_version = version("rnnkit")
    except PackageNotFoundError:  # a source tree that is not installed
        rnnkit_version = "0.0.0+unknown"
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "rnnkit": rnnkit_version, "platform": platform.platform()}


def _parse_config_text(path: Path, text: str) -> Any:
    """Parse ``text`` by the suffix of ``path``; ValueError naming the path (and line) if it does not parse."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:  # the message ends with "(at line L, column C)"
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(f"{path}: reading YAML needs pyyaml: pip install 'rnnkit[yaml]' "
                             "(or write the config as TOML or JSON)") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
        return {} if document is None else document  # an empty file is an empty config
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: "
                             f"{error.msg}") from None
    raise ValueError(f"{path}: unknown config file type {path.suffix!r}; expected .toml, .yaml, .yml or .json")


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML, YAML or JSON config file (by its suffix) into a dict, as it is.

    A file may be flat (``lr = 0.01``) or hold sections (``[train]``, ``[model]``); picking the section
    for each config is the caller's part.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: If the suffix is unknown, the file does not parse (naming the line where the parser
            says), it is not UTF-8, its top level is not a mapping, or YAML is asked for without pyyaml.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such config file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a .toml, .yaml or .json config file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    document = _parse_config_text(path, text)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the top level must be a mapping of settings; got {type(document).__name__}")
    return document


DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?")


def _check(condition: bool, name: str, value: Any, expected: str) -> None:
    if not condition:
        raise ValueError(f"{name}: got {value!r}; expected {expected}")


def _positive_number(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of the training loop; saved as ``config.json`` in every run directory.

    Attributes:
        epochs: Passes over the training data.
        batch_size: Sequences per batch.
        lr: Base learning rate.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adamw"``.
        momentum: SGD momentum, in [0, 1).
        weight_decay: Decoupled (AdamW) or L2 (SGD) weight decay, >= 0.
        clip_norm: Clip the global gradient norm to this; None turns it off.
        clip_value: Clip each gradient element to [-clip_value, clip_value]; None turns it off.
        bptt: Truncated BPTT: time steps backpropagated through (k2 in Williams & Peng).
        bptt_k1: Time steps between truncations (k1); None means ``bptt``, the usual non-overlapping windows.
        schedule: ``"none"``, ``"plateau"`` (multiply the rate by ``lr_decay`` when the monitored metric has
            not improved for more than ``plateau_patience`` epochs), ``"step"`` (multiply it by ``lr_decay``
            at the end of every epoch from epoch ``decay_start`` on, as Zaremba et al. 2014) or ``"cosine"``
            (per step, to zero).
        decay_start: The first epoch (1-based) whose end decays the rate under ``schedule = "step"``.
        lr_decay: The plateau factor, in (0, 1).
        plateau_patience: Epochs without improvement tolerated before a plateau decay.
        warmup_steps: Optimizer steps of linear warm-up from 0 to ``lr``.
        early_stopping_patience: Epochs without improvement tolerated; the next one without improvement stops
            the run (patience 2: the third epoch in a row without a better value stops it, as
            ``plateau_patience`` counts for a decay). None never stops early.
        seed: Seeds Python, NumPy and torch; batches depend only on (seed, epoch).
        deterministic: Ask torch for deterministic kernels (slower on GPU).
        bf16: bfloat16 autocast for the forward pass.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_steps_per_epoch: Cut each epoch short after this many batches (smoke tests); None = all.
        max_seconds: Time budget of the whole run in seconds of training: the run ends (as if its epochs were
            done, with evaluation and a checkpoint) at the first batch boundary past it; None = no limit.
        log_every: Log training metrics every this many steps.
        quiet: No progress output.
        divergence_factor: Stop (exit 1, last good checkpoint kept) when the smoothed step loss rises above this
            many times its starting value (:mod:`rnnkit.train.divergence`); None turns it off.
        divergence_warmup: Optimizer steps before the divergence checks look.
        stall_steps: Stop when the smoothed loss is still no lower than its start (a uniform guess) after this
            many steps; None (the default) never does.
    """

    epochs: int = setting(10, help="passes over the training data")
    batch_size: int = setting(32, help="sequences per batch")
    lr: float = setting(1e-3, help="learning rate")
    optimizer: str = setting("adamw", help="optimiser (sgd uses --momentum)", choices=("sgd", "adamw"))
    momentum: float = setting(0.0, help="SGD momentum")
    weight_decay: float = setting(0.0, help="weight decay")
    clip_norm: float | None = setting(1.0, flag="--clip", help="clip the gradients' global norm to this")
    clip_value: float | None = setting(None, help="clip each gradient value to [-X, X]")
    bptt: int = setting(64, help="steps of backpropagation through time per window (k2)")
    bptt_k1: int | None = setting(None, help="steps between truncations (k1 < k2: overlapping windows)")
    schedule: str = setting("none", choices=("none", "plateau", "step", "cosine"),
                            help="learning-rate schedule: plateau (decay after --plateau-patience epochs without "
                                 "improvement), step (decay every epoch from --decay-start), cosine (per step, to "
                                 "zero)")
    lr_decay: float = setting(0.25, help="learning-rate factor of a plateau or step decay")
    plateau_patience: int = setting(0, help="epochs without improvement before a decay")
    decay_start: int = setting(1, help="schedule step: first epoch whose end decays the rate")
    warmup_steps: int = setting(0, help="linear learning-rate warm-up")
    early_stopping_patience: int | None = setting(None, flag="--patience",
                                                  help="epochs without improvement tolerated (the next stops the run)")
    seed: int = setting(0, help="random seed")
    deterministic: bool = setting(False, help="deterministic algorithms only")
    bf16: bool = setting(False, help="bfloat16 autocast")
    device: str = setting("cpu", help="cpu or cuda")
    max_steps_per_epoch: int | None = setting(None, help="cap the batches of an epoch")
    max_seconds: float | None = setting(None, help="training time budget in seconds")
    log_every: int = setting(50, help="steps between progress lines when not on a terminal")
    quiet: bool = setting(False, help="no progress output")
    divergence_factor: float | None = setting(10.0, help="stop when the smoothed loss exceeds this many times its "
                                                          "starting value (the last good checkpoint is kept)")
    divergence_warmup: int = setting(50, help="steps before the divergence checks look")
    stall_steps: int | None = setting(None, help="stop when the loss is no lower than at the start after this many "
                                                 "steps")

    def __post_init__(self) -> None:
        validate_field_types(self)
        for name in ("epochs", "batch_size", "bptt", "log_every"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "a positive integer")
        _check(self.decay_start >= 1, "decay_start", self.decay_start, "a positive epoch number")
        for name in ("plateau_patience", "warmup_steps"):
            _check(getattr(self, name) >= 0, name, getattr(self, name), "an integer >= 0")
        _check(_positive_number(self.lr), "lr", self.lr, "a finite number > 0")
        _check(self.optimizer in ("sgd", "adamw"), "optimizer", self.optimizer, "one of 'sgd', 'adamw'")
        _check(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        _check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", self.weight_decay,
               "a finite number >= 0")
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            _check(value is None or _positive_number(value), name, value, "a finite number > 0, or null for off")
        _check(self.bptt_k1 is None or 1 <= self.bptt_k1 <= self.bptt, "bptt_k1", self.bptt_k1,
               f"an integer in [1, bptt] = [1, {self.bptt}], or null for bptt")
        _check(self.schedule in ("none", "plateau", "step", "cosine"), "schedule", self.schedule,
               "one of 'none', 'plateau', 'step', 'cosine'")
        _check(0 < self.lr_decay < 1, "lr_decay", self.lr_decay, "a factor in (0, 1)")
        _check(self.early_stopping_patience is None or self.early_stopping_patience >= 0,
               "early_stopping_patience", self.early_stopping_patience, "an integer >= 0, or null for never")
        _check(0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)")
        _check(DEVICE_PATTERN.fullmatch(self.device) is not None, "device", self.device,
               "'cpu', 'cuda' or 'cuda:N'")
        _check(self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1, "max_steps_per_epoch",
               self.max_steps_per_epoch, "a positive integer, or null for all")
        _check(self.max_seconds is None or self.max_seconds > 0, "max_seconds", self.max_seconds,
               "a positive number of seconds, or null for no limit")
        _check(self.divergence_factor is None or (_positive_number(self.divergence_factor)
                                                  and self.divergence_factor > 1), "divergence_factor",
               self.divergence_factor, "a finite number > 1, or null for off")
        _check(self.divergence_warmup >= 0, "divergence_warmup", self.divergence_warmup, "an integer >= 0")
        _check(self.stall_steps is None or self.stall_steps >= 1, "stall_steps", self.stall_steps,
               "a positive integer, or null for never")

    @property
    def truncation_interval(self) -> int:
        """Time steps between truncations (k1): ``bptt_k1``, or ``bptt`` when that is None."""
        return self.bptt if self.bptt_k1 is None else self.bptt_k1
