"""The task contract: what every task declares (:class:`Task`), and the set-up and close every task shares.

A task is the one place that knows which reader, model, loss and metrics go together. Everything else about a
training run is the same for all of them and lives here::

    run = prepare_run("classify", out, SETTINGS, data=data, settings={"text": text, ...}, resume=resume, ...)
        # data check, resumed settings and data paths, device, seed, torchrun process group
    ... read run.data, build the vocabulary and the network (the task's own part) ...
    run.start({"text": ..., "labels": labels}, vocabularies={"vocab.json": vocab}, derived={"labels": labels})
        # a new run directory (rank 0), or the check that the data still gives the resumed run's vocabularies
    results = run.fit(network, batch_loss, batches, evaluate=evaluate, monitor="valid_error", steps_per_epoch=n)
        # Trainer with DDP, bf16 autocast, callbacks, resume; the best epoch's weights loaded back
    return finish_run(run, results, title="lstm classifier")   # learning curves (rank 0), leave the group

``TASKS`` (in :mod:`rnnkit.tasks`) holds one :class:`Task` per task; the CLI builds ``rnnkit train TASK`` and
dispatches the verbs from it, and ``rk.load`` finds the predictor class there.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..text import Vocab
from ..train.checkpoint import has_checkpoint
from ..train.config import TrainConfig, config_to_dict
from ..train.distributed import (
    DistributedContext,
    barrier,
    setup_distributed,
    shard_batch,
    teardown_distributed,
    wrap_model,
)
from ..train.plots import plot_learning_curves
from ..train.run_lock import RunLock
from ..train.trainer import EvaluateFn, LossFn, ShardFn, Trainer
from .run_dir import (
    absolute_paths,
    check_new_out,
    describe_paths,
    fit_keeping_best,
    resumed_run,
    rewrite_metrics,
    start_run,
    write_run_config,
)

IN_MEMORY = "<in memory>"  # what config.json records for data handed over as Python objects, not paths
# TrainConfig fields that only stream training (language models: truncated BPTT windows) uses: the other tasks
# hide their flags
STREAM_SETTINGS = frozenset({"train.bptt", "train.bptt_k1"})
SEED_HELP = "random seed (also of the validation split)"  # tasks that hold out a validation share


@dataclass(frozen=True)
class Task:
    """What a task declares, for the CLI, ``rk.load`` and the contract tests.

    Attributes:
        name: The task's name: ``rnnkit train NAME`` and the ``task`` of its runs' config.json.
        summary: One line for ``rnnkit train --help``.
        description: The paragraph of ``rnnkit train NAME --help``.
        settings: Config section -> settings dataclass (``{"model": ClassifierConfig, "train": TrainConfig}``);
            their fields (with :func:`~rnnkit.train.config.setting` metadata) are the task's flags.
        train: ``train(out, *, data, valid, test, resume, epochs, callbacks, **sections)`` -> final metrics.
        predictor: The class whose ``load(run_dir, device)`` gives a trained run's verbs.
        verbs: The predictor's verbs the CLI offers for this task's runs (``predict``, ``score``, ...).
        data_help: Help of ``--data``, ``--valid`` and ``--test``.
        several_files: ``--data`` (and ``--valid``, ``--test``) take several paths (e.g. a file per class).
        data_required: False for a task with built-in data to train on without ``--data`` (language models).
        path_type: How a data path is taken from the command line (``str`` for glob patterns).
        extra_data: More data flags: flag -> (keyword of ``train``, help), e.g. DNA's ``--labels``.
        hidden: ``"section.field"`` settings the task has no flag for (e.g. ``train.bptt`` outside language models).
        flag_help: The task's own help of a shared flag (``{"--batch-size": "sentence pairs per batch"}``).
    """

    name: str
    summary: str
    description: str
    settings: Mapping[str, type]
    train: Callable[..., dict[str, Any]]
    predictor: type
    verbs: tuple[str, ...]
    data_help: tuple[str, str, str]
    several_files: bool = True
    data_required: bool = True
    path_type: Callable[[str], Any] = Path
    extra_data: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    flag_help: Mapping[str, str] = field(default_factory=dict)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels only."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)


def check_device(device: str) -> None:
    """A ValueError for a CUDA device on a machine (or a torch build) without one."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this torch has no CUDA device available; expected --device cpu")


def is_path_like(data: Any) -> bool:
    """Whether ``data`` names files (a path, or a sequence of paths) rather than holding the data itself."""
    if isinstance(data, str | os.PathLike):
        return True
    return isinstance(data, Sequence) and bool(data) and all(isinstance(item, str | os.PathLike) for item in data)


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (``...`` marks a cut): how an error quotes a bad item."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_data(flag: str, data: Any) -> str:
    """A data argument as an error message names it: ``--data PATHS`` for files, ``data`` for data in memory."""
    return f"{flag} {describe_paths(data)}" if is_path_like(data) else flag.lstrip("-")


def recorded(data: Any) -> Any:
    """How config.json records a data argument: absolute paths, None, or :data:`IN_MEMORY`."""
    if data is None or is_path_like(data):
        return absolute_paths(data)
    return IN_MEMORY


@dataclass
class Run:
    """A training run being set up: its settings, data and process context (see :func:`prepare_run`).

    Attributes:
        task: The task's name.
        out: The run directory.
        settings: One settings dataclass per config section (the resumed run's own when resuming).
        data, valid, test: The data to train, validate and test on: paths (from the caller, or saved in the
            resumed run) or in-memory objects.
        saved_data: The ``data`` section of a resumed run's config.json (``{}`` for a new run).
        resume: Whether the run continues from its checkpoint.
        distributed: This process among the ``torchrun`` processes (one process: rank 0 of 1).
        device: Where the network trains (``cuda:LOCAL_RANK`` under torchrun on GPUs).
        callbacks: Trainer callbacks (see :mod:`rnnkit.train.callbacks`).
    """

    task: str
    out: Path
    settings: dict[str, Any]
    data: Any
    valid: Any
    test: Any
    saved_data: dict[str, Any]
    resume: bool
    distributed: DistributedContext
    device: torch.device
    callbacks: list[Any]
    trainer: Trainer | None = None
    lock: RunLock | None = None  # held by the writing process (rank 0) from set-up to finish_run
    _config: dict[str, Any] | None = None  # config.json's sections, from start()

    @property
    def train(self) -> TrainConfig:
        """The ``train`` section: epochs, batch size, optimiser, seed, device, bf16, ..."""
        return self.settings["train"]

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run directory and prints."""
        return self.distributed.is_main

    def start(self, sections: Mapping[str, Any], vocabularies: Mapping[str, Vocab] | None = None,
              derived: Mapping[str, Any] | None = None, data_extra: Mapping[str, Any] | None = None) -> None:
        """Make ``out`` a new run directory holding the vocabularies and config.json, or (resuming) check that
        the data still gives the run's vocabularies and the ``derived`` values (e.g. ``{"labels": [...]}``).

        Args:
            sections: What config.json holds besides format, task, data and versions: each settings section
                (dataclasses are written as dicts) and what the task derived from its data (labels, splits).
            vocabularies: File name -> vocabulary, saved in the run directory.
            derived: config.json keys whose values a resumed run's data must give again.
            data_extra: More entries of config.json's ``data`` section (example counts, a source description).
        """
        if self.is_main:
            start_run(self.out, self.resume, vocabularies, derived, lock=self.lock)
            given = {"train": self.data, "valid": self.valid, "test": self.test}
            extra = dict(data_extra or {})  # a task's own entries win (e.g. texts in memory that look like paths)
            data_section = {name: extra.pop(name) if name in extra else recorded(value)
                            for name, value in given.items()} | extra
            self._config = {name: _as_dict(value) for name, value in sections.items()} | {"data": data_section}
            if not self.resume:  # resuming: written once the checkpoint has loaded (a broken one changes nothing)
                write_run_config(self.out, self.task, self._config)
        barrier(self.distributed)  # the other ranks go on once the run directory exists

    def fit(self, network: nn.Module, loss_fn: LossFn, batches: Callable[[int], Any], *,
            evaluate: EvaluateFn | None = None, monitor: str = "valid_loss", steps_per_epoch: int | None = None,
            show_perplexity: bool = False, shard: ShardFn | None = shard_batch) -> dict[str, Any]:
        """Train ``network`` (on its device already) until the run's epochs are done; load the best epoch back.

        Under torchrun the network is wrapped in DDP and each rank trains on ``shard`` of every batch (None: the
        batches are already this rank's own). A run resumed with a checkpoint in ``out/checkpoint`` continues
        from it. Returns the last epoch's record plus ``best_epoch`` and ``train_seconds``.
        """
        trainer = Trainer(wrap_model(network, self.distributed), self.train, loss_fn, batches, evaluate=evaluate,
                          monitor=monitor, run_dir=self.out, steps_per_epoch=steps_per_epoch,
                          show_perplexity=show_perplexity, callbacks=self.callbacks, distributed=self.distributed,
                          shard=shard)
        self.trainer = trainer
        try:
            if self.resume and has_checkpoint(self.out / "checkpoint"):
                trainer.resume()
            if self.resume and self.is_main:  # the log holds the checkpoint's epochs: none replayed twice
                rewrite_metrics(self.out, trainer.state.history)
                if self._config is not None:
                    write_run_config(self.out, self.task, self._config)
            results = fit_keeping_best(trainer, network, self.out, wait=lambda: barrier(self.distributed))
        except BaseException:
            self.release()
            raise
        network.eval()
        return results

    def release(self) -> None:
        """Give up the run directory's lock (finish_run does; so does a failed fit)."""
        if self.lock is not None:
            self.lock.release()


def _as_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if callable(to_dict) else config_to_dict(value)
    return value


def prepare_run(task: str, out: str | os.PathLike[str], sections: Mapping[str, type], *, data: Any = None,
                valid: Any = None, test: Any = None, settings: Mapping[str, Any] | None = None,
                resume: bool = False, epochs: int | None = None, callbacks: Sequence[Any] = (),
                checkpoints: Sequence[str] = ("checkpoint",), optional: Collection[str] = (),
                data_required: bool = True) -> Run:
    """The set-up every task's ``train`` begins with.

    A new run needs ``data``; its settings are ``settings[name]`` or the defaults of ``sections[name]``. A resumed
    run takes the settings saved in ``out/config.json`` (``epochs`` may extend it) and its saved data paths; data
    that was handed over in memory must be given again. Then: the device is checked, the process group of
    ``torchrun`` joined (if any), and Python, NumPy and torch seeded with ``train.seed``.

    Args:
        task: The task's name, as in config.json.
        out: The run directory.
        sections: Config section -> settings dataclass.
        data, valid, test: Paths, or in-memory data in the form the task's ``train`` documents.
        settings: Section -> settings instance, for a new run (missing sections get defaults).
        resume: Continue the run in ``out``.
        epochs: With ``resume``: a new number of epochs.
        callbacks: Trainer callbacks.
        checkpoints: The folders (relative to ``out``) a resumable run has a checkpoint in.
        optional: Sections a resumed run's config may lack (added after runs were made): defaults then.
        data_required: False for a task that has built-in data to fall back on (language models).

    Raises:
        ValueError: A new run without data; a resumed run that is not one of ``task``, has no checkpoint, or was
            trained on in-memory data not given again; a CUDA device on a machine without one.
    """
    out = Path(out)
    saved_data: dict[str, Any] = {}
    lock = RunLock(out) if os.environ.get("RANK", "0") == "0" else None  # under torchrun rank 0 alone writes
    if resume:
        if lock is not None and out.is_dir():
            lock.acquire()  # before reading: no other writer changes the run under us
        try:
            values, saved_data = resumed_run(out, task, sections, epochs, checkpoints, optional)
            if data is None:
                data, valid, test = (_saved_path(saved_data.get(name), out) for name in ("train", "valid", "test"))
        except BaseException:
            if lock is not None:
                lock.release()
            raise
    else:
        if data is None and data_required:
            raise ValueError("data: missing; expected the training data (or resume=True to continue the run in out)")
        if lock is not None:  # rank 0, before the data is read: a user's directory is refused at once
            check_new_out(out)  # (under torchrun another rank may start after rank 0 has made the run here)
        values = {name: (settings or {}).get(name) or cls() for name, cls in sections.items()}
    train: TrainConfig = values["train"]
    try:
        check_device(train.device)
    except ValueError:
        if lock is not None:
            lock.release()
        raise
    distributed = setup_distributed(train.device)
    device = torch.device(train.device)
    if device.type == "cuda" and distributed.enabled:
        device = torch.device("cuda", distributed.local_rank)
    seed_everything(train.seed, train.deterministic)
    return Run(task, out, values, data, valid, test, saved_data, resume, distributed, device, list(callbacks),
               lock=lock)


def _saved_path(value: Any, out: Path) -> Any:
    """A data path saved in config.json back as a Path (or a list of them); in-memory data cannot come back."""
    if value == IN_MEMORY:
        raise ValueError(f"--resume {out}: the run was trained on in-memory data; pass the same data again "
                         "(data=..., resume=True) to continue it from Python")
    if value is None:
        return None
    if isinstance(value, list):
        return [Path(item) for item in value]
    return Path(value)


def finish_run(run: Run, results: dict[str, Any], title: str) -> dict[str, Any]:
    """The close every task shares: learning curves (``curves.png``, rank 0) and leaving the process group."""
    try:
        if run.is_main:
            plot_learning_curves(run.out / "metrics.jsonl", run.out / "curves.png", title=title)
    finally:
        run.release()
    teardown_distributed(run.distributed)
    return results
