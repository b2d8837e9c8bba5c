"""Run directories: what a training run leaves behind, and how it is recognised again.

    RUN/
      config.json        {"format": "rnnkit.run", "task": "lm", "model": {...}, "train": {...}, ...,
                          "versions": {...}}: every setting, so the run can be rebuilt and resumed
      vocab.json         the vocabulary (human-readable)
      model.safetensors  the weights that rk.load uses (best on validation)
      metrics.jsonl      one JSON object per epoch
      curves.png         learning curves
      checkpoint/        the latest training state, for --resume
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..text import Vocab
from ..train.atomic import atomic_write_json
from ..train.checkpoint import has_checkpoint, load_model_weights
from ..train.config import environment_versions

RUN_FORMAT = "rnnkit.run"
Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]  # one data file, or several


def create_run_dir(path: Path) -> Path:
    """Make ``path`` a new run directory; refuse one that already holds a run (never overwrite)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: exists and is not a directory; expected a new run directory")
    if (path / "config.json").exists():
        raise ValueError(f"--out {path}: already holds a run; pass --resume to continue it, or choose another --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_run_config(path: Path, task: str, sections: dict[str, Any]) -> None:
    atomic_write_json(Path(path) / "config.json",
                      {"format": RUN_FORMAT, "task": task, **sections, "versions": environment_versions()})


def read_run_config(path: Path, task: str | None = None) -> dict[str, Any]:
    """The run's config.json; errors name the directory and what was expected."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such run directory")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{path}: not an rnnkit run directory (no config.json)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path}: not a valid run config: {error}") from None
    if not isinstance(config, dict) or config.get("format") != RUN_FORMAT:
        raise ValueError(f"{config_path}: not an rnnkit run config (format is not {RUN_FORMAT!r})")
    if task is not None and config.get("task") != task:
        raise ValueError(f"{path}: a run of task {config.get('task')!r}; expected a {task!r} run")
    return config


def run_settings(run_dir: Path, config: Mapping[str, Any], sections: Mapping[str, type],
                 optional: Collection[str] = ()) -> dict[str, Any]:
    """One settings dataclass per section of a run's config (``{"model": ModelConfig, ...}``); a section named in
    ``optional`` (one added after runs were already made) gets its defaults when the config lacks it.

    A hand-edited or foreign config.json (a section missing, an unknown or mistyped field) is a ValueError that
    names the file, not a traceback.
    """
    try:
        return {name: cls(**config[name]) if name in config or name not in optional else cls()
                for name, cls in sections.items()}
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"{Path(run_dir) / 'config.json'}: not a valid {config.get('task')!r} run config "
                         f"({type(error).__name__}: {error})") from None


def resumed_run(out: Path, task: str, sections: Mapping[str, type], epochs: int | None = None,
                checkpoints: Sequence[str] = ("checkpoint",), optional: Collection[str] = ()
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """What continuing the run in ``out`` needs: its settings (one dataclass per section, with ``train.epochs``
    replaced by ``epochs`` when given, to extend a run; ``optional`` as for :func:`run_settings`) and its saved
    ``data`` section (the paths of the ``train``, ``valid`` and ``test`` data and whatever else the task recorded
    there).

    Raises:
        FileNotFoundError, ValueError: ``out`` is not a run of ``task``, its config is broken, or none of the
            ``checkpoints`` folders (relative to ``out``) holds a checkpoint.
    """
    out = Path(out)
    saved = read_run_config(out, task)
    settings = run_settings(out, saved, sections, optional)
    if not any(has_checkpoint(out / folder) for folder in checkpoints):
        raise ValueError(f"--out {out}: no checkpoint to resume from")
    if epochs is not None:
        settings["train"] = dataclasses.replace(settings["train"], epochs=epochs)
    data = saved.get("data")
    if not isinstance(data, dict) or "train" not in data:
        raise ValueError(f"{out / 'config.json'}: not a valid {task!r} run config (no data paths)")
    return settings, data


def start_run(out: Path, resume: bool, vocabularies: Mapping[str, Vocab] | None = None,
              derived: Mapping[str, Any] | None = None) -> None:
    """Make ``out`` a new run directory and save each vocabulary there (``{"vocab.json": vocab, ...}``); or, when
    resuming, check that the data still gives the run's saved vocabularies and the config.json values in
    ``derived`` (what the task derives from its data, e.g. ``{"labels": [...]}``)."""
    out, vocabularies = Path(out), vocabularies or {}
    if not resume:
        create_run_dir(out)  # only now, with every file read and checked: never a half-made run directory
        for name, vocab in vocabularies.items():
            vocab.save(out / name)
        return
    saved = read_run_config(out)
    for name, value in (derived or {}).items():
        check_unchanged(out, name, saved.get(name), value)
    for name, vocab in vocabularies.items():
        check_unchanged(out, name, Vocab.load(out / name).itos, vocab.itos)


def check_unchanged(out: Path, name: str, saved: Any, rebuilt: Any) -> None:
    """A ValueError when what the data gives now (``rebuilt``, e.g. the vocabulary's tokens or the labels) is not
    what the run was trained with (``saved``): the data files changed since the run began."""
    if saved != rebuilt:
        raise ValueError(f"--resume {out}: the training data no longer gives the run's {name}; it changed since "
                         "the run began (start a new run with --out)")


def absolute_paths(paths: Paths | None) -> str | list[str] | None:
    """The data paths as the run's config.json records them: resolved, one string for one path, a list for
    several, None for none."""
    if paths is None:
        return None
    if isinstance(paths, str | os.PathLike):
        return str(Path(paths).resolve())
    return [str(Path(path).resolve()) for path in paths]


def best_epoch(history: list[dict[str, Any]], monitor: str = "valid_error") -> int | None:
    """The first epoch with the lowest monitored error: the one whose weights the trainer kept."""
    best, epoch = math.inf, None
    for record in history:
        if record.get(monitor, math.inf) < best:
            best, epoch = record[monitor], record["epoch"]
    return epoch


def describe_paths(paths: Paths) -> str:
    """The data paths for an error message: space-separated, as they were given."""
    if isinstance(paths, str | os.PathLike):
        return str(paths)
    return " ".join(str(path) for path in paths)


def fit_keeping_best(trainer: Any, network: Any, out: Path, wait: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run ``trainer.fit()``, then load the weights it kept (the best epoch on its monitored metric, saved as
    ``out/model.safetensors``) into ``network``; ``wait()`` runs in between (under torchrun: until rank 0, which
    alone writes, has saved them).

    Returns:
        The last epoch's record plus ``best_epoch`` (where the loaded weights come from) and ``train_seconds``.
    """
    trainer.fit()
    if wait is not None:
        wait()
    history = trainer.state.history
    results: dict[str, Any] = dict(history[-1]) if history else {}
    results["best_epoch"] = best_epoch(history, trainer.monitor)
    results["train_seconds"] = trainer.state.seconds
    load_model_weights(Path(out) / "model.safetensors", network)
    return results
