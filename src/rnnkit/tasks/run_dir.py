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
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..text import Vocab
from ..train.atomic import atomic_write_json, atomic_write_text
from ..train.checkpoint import has_checkpoint, load_model_weights
from ..train.config import environment_versions
from ..train.run_lock import LOCK_NAME, RunLock

RUN_FORMAT = "rnnkit.run"
Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]  # one data file, or several


def check_new_out(path: Path) -> None:
    """Refuse, before anything is read or made, an ``--out`` that cannot become a new run directory: a file, a
    directory that holds a run (``--resume`` continues it), or one that holds anything else (a user's files
    must never be replaced or appended to). An empty directory, or one that only holds what a run that died
    while starting left (its lock file, vocabularies), is fine."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: exists and is not a directory; expected a new run directory")
    if (path / "config.json").exists():
        raise ValueError(f"--out {path}: already holds a run; pass --resume to continue it, or choose another --out")
    if path.is_dir():
        try:
            entries = sorted(entry.name for entry in path.iterdir())
        except OSError as error:
            raise ValueError(f"--out {path}: cannot read the directory: {error.strerror or error}") from None
        if entries and LOCK_NAME not in entries:
            raise ValueError(f"--out {path}: exists and is not an rnnkit run directory (it holds {len(entries)} "
                             f"entries, e.g. {entries[0]!r}); choose a new or empty directory")
    else:
        for parent in path.parents:  # --out under a file: say so before any data is read
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"--out {path}: {parent} is a file, not a directory")
                break


def create_run_dir(path: Path, lock: RunLock | None = None) -> Path:
    """Make ``path`` a new run directory and take its ``lock``; refuse one that already holds a run or anything
    that is not a run (never overwrite). Errors of the file system (read-only, a file on the way, no space) are
    one-line ValueErrors naming ``--out``."""
    path = Path(path)
    check_new_out(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {path}: cannot create the run directory: {error.strerror or error}") from None
    if lock is not None:
        lock.acquire()
        try:
            check_new_out(path)  # again, now that no other writer can be making it
        except ValueError:
            lock.release()
            raise
    return path


def check_metrics_log(out: Path) -> None:
    """A ValueError naming the line when a run's ``metrics.jsonl`` is not one JSON object per line; a torn last
    line (a write cut off by a kill or a full disk: no final newline) is tolerated, as resuming rewrites it."""
    path = Path(out) / "metrics.jsonl"
    if not path.exists():
        return
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 ({error.reason} at byte {error.start}); expected one JSON object "
                         "per line") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
            if number == len(lines):  # the last line and no newline after it: torn, not damaged
                continue
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {number}: not a JSON object ({line[:40]!r}); expected one JSON object "
                             "per epoch")


def check_checkpoint_folder(folder: Path) -> None:
    """A ValueError when a checkpoint folder is damaged rather than empty: ``LATEST`` that is not a file, or
    checkpoints without ``LATEST`` (starting such a run from scratch would throw its epochs away)."""
    pointer = Path(folder) / "LATEST"
    if pointer.exists() and not pointer.is_file():
        raise ValueError(f"{pointer}: not a file; the run's checkpoint pointer is damaged (it should name one of the "
                         f"step-* folders beside it)")
    if not pointer.exists() and Path(folder).is_dir():
        saved = sorted(entry.name for entry in Path(folder).iterdir() if entry.name.startswith("step-"))
        if saved:
            raise ValueError(f"{pointer}: missing beside {len(saved)} checkpoint(s) ({saved[-1]}, ...); the run's "
                             f"checkpoint pointer is damaged: write the name of one of them into it to resume")


def rewrite_metrics(out: Path, history: Sequence[Mapping[str, Any]]) -> None:
    """Make ``metrics.jsonl`` exactly the epochs of the checkpoint being resumed (``history``): an epoch whose
    line was written before a kill stopped its checkpoint is replayed, and must not be logged twice."""
    path = Path(out) / "metrics.jsonl"
    if not history and not path.exists():
        return
    atomic_write_text(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in history))


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
        if (path / LOCK_NAME).exists():  # made by rnnkit, stopped before its config was written
            raise ValueError(f"{path}: a run stopped before it was set up (no config.json); start it again without "
                             "--resume")
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

    A run none of whose ``checkpoints`` folders (relative to ``out``) holds a checkpoint (stopped before its
    first one) starts from scratch, saying so on stderr.

    Raises:
        FileNotFoundError, ValueError: ``out`` is not a run of ``task``, its config or its metrics.jsonl is broken.
    """
    out = Path(out)
    saved = read_run_config(out, task)
    settings = run_settings(out, saved, sections, optional)
    check_metrics_log(out)
    for folder in checkpoints:
        check_checkpoint_folder(out / folder)
    if not any(has_checkpoint(out / folder) for folder in checkpoints):
        print(f"rnnkit: --resume {out}: no checkpoint yet (the run stopped before its first one); starting it "
              "from scratch", file=sys.stderr)
    if epochs is not None:
        settings["train"] = dataclasses.replace(settings["train"], epochs=epochs)
    data = saved.get("data")
    if not isinstance(data, dict) or "train" not in data:
        raise ValueError(f"{out / 'config.json'}: not a valid {task!r} run config (no data paths)")
    return settings, data


def start_run(out: Path, resume: bool, vocabularies: Mapping[str, Vocab] | None = None,
              derived: Mapping[str, Any] | None = None, lock: RunLock | None = None) -> None:
    """Make ``out`` a new run directory and save each vocabulary there (``{"vocab.json": vocab, ...}``); or, when
    resuming, check that the data still gives the run's saved vocabularies and the config.json values in
    ``derived`` (what the task derives from its data, e.g. ``{"labels": [...]}``)."""
    out, vocabularies = Path(out), vocabularies or {}
    if not resume:
        create_run_dir(out, lock)  # only now, with every file read and checked: never a half-made run directory
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
