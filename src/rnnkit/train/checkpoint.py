"""Checkpoints without pickle: tensors go to safetensors files, everything else to JSON.

A training checkpoint is a directory; ``LATEST`` names the newest complete one::

    checkpoint_dir/
      LATEST                        "step-000001200"
      step-000001200/
        model.safetensors           module.state_dict()
        optimizer.json              optimizer.state_dict() with each tensor replaced by {"__tensor__": key}
        optimizer.safetensors       ... the tensors those keys name (written only when there are any)
        scheduler.json (+ .safetensors), trainer.json (+ .safetensors), rng.json + rng.safetensors

The directory is written under a temporary name, flushed and renamed; only then is ``LATEST`` replaced
(atomically), and only then are older checkpoints deleted. A crash at any point leaves ``LATEST`` naming a
complete checkpoint. Saving the same step twice gives ``step-000001200-1``, ``-2``, ...

:func:`flatten_state` turns nested Python state (optimizer and scheduler state dicts, with int keys, tuples and
non-finite floats) into tensors plus a JSON skeleton; :func:`unflatten_state` gives back exactly the same
structure. Nothing here ever unpickles.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from .atomic import atomic_save_file, atomic_write_json, atomic_write_text, fsync_directory, temporary_path

__all__ = [
    "capture_rng_state",
    "flatten_state",
    "has_checkpoint",
    "latest_checkpoint",
    "load_model_weights",
    "load_training_state",
    "restore_rng_state",
    "save_model_weights",
    "save_training_state",
    "unflatten_state",
]

LATEST = "LATEST"
MODEL_FILE = "model.safetensors"
STATE_FORMAT = "rnnkit.state"
STATE_VERSION = 1
TAGS = ("__tensor__", "__tuple__", "__float__", "__dict__")
CHECKPOINT_NAME = re.compile(r"step-(\d{9,})(?:-(\d+))?")


def _cpu_copy(tensor: Tensor) -> Tensor:
    """A contiguous CPU copy that shares no storage (safetensors refuses shared or strided tensors)."""
    return tensor.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)


def flatten_state(obj: Any) -> tuple[dict[str, Tensor], Any]:
    """Split nested state into its tensors and a JSON-able skeleton that :func:`unflatten_state` inverts.

    Accepted: dicts (str or int keys), lists, tuples, tensors, int, float (also inf and nan), bool, None, str;
    NumPy scalars are stored as the Python scalar. Each tensor becomes ``{"__tensor__": key}`` (the key is
    its path, e.g. ``"state.0.exp_avg"``) and is copied to the CPU; a tuple becomes ``{"__tuple__": [...]}``,
    a non-finite float ``{"__float__": "nan"}``, and a dict with int keys (or one that could be mistaken for
    a tag) ``{"__dict__": [[key, value], ...]}``.

    Raises:
        ValueError: If ``obj`` holds anything else, naming where.
    """
    tensors: dict[str, Tensor] = {}

    def visit(value: Any, path: str) -> Any:
        if isinstance(value, Tensor):
            key, number = path or "tensor", 1
            while key in tensors:
                key, number = f"{path}#{number}", number + 1
            tensors[key] = _cpu_copy(value)
            return {"__tensor__": key}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}  # "nan", "inf", "-inf"
        if isinstance(value, (list, tuple)):
            items = [visit(item, f"{path}.{index}".lstrip(".")) for index, item in enumerate(value)]
            return {"__tuple__": items} if isinstance(value, tuple) else items
        if isinstance(value, Mapping):
            keys = list(value)
            if all(isinstance(key, str) for key in keys) and not (len(keys) == 1 and keys[0] in TAGS):
                return {key: visit(item, f"{path}.{key}".lstrip(".")) for key, item in value.items()}
            for key in keys:
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise ValueError(f"flatten_state: dict key {key!r} at {path or '<root>'} is a "
                                     f"{type(key).__name__}; expected str or int keys")
            return {"__dict__": [[key, visit(item, f"{path}.{key}".lstrip("."))] for key, item in value.items()]}
        raise ValueError(f"flatten_state: cannot store a {type(value).__name__} at {path or '<root>'}; expected "
                         "dicts, lists, tuples, tensors, int, float, bool, str or None")

    return tensors, visit(obj, "")


def unflatten_state(tensors: Mapping[str, Tensor], skeleton: Any) -> Any:
    """Rebuild the structure that :func:`flatten_state` split into ``tensors`` and ``skeleton``.

    Raises:
        ValueError: If the skeleton names a tensor that is missing or holds a malformed tag.
    """

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in TAGS:
            ((tag, content),) = node.items()
            if tag == "__tensor__" and isinstance(content, str):
                if content not in tensors:
                    raise ValueError(f"the skeleton names tensor {content!r}, which is missing")
                return tensors[content]
            if tag == "__tuple__" and isinstance(content, list):
                return tuple(visit(item) for item in content)
            if tag == "__float__" and content in ("nan", "inf", "-inf"):
                return float(content)
            if tag == "__dict__" and isinstance(content, list) and all(_is_pair(item) for item in content):
                return {key: visit(item) for key, item in content}
            raise ValueError(f"malformed {tag} entry: {content!r:.80}")
        return {key: visit(item) for key, item in node.items()}

    return visit(skeleton)


def _is_pair(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))


def _read_tensors(path: Path, what: str = "safetensors") -> dict[str, Tensor]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path}: not a {what} file: {error}") from None


def _some(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(key) for key in keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def save_model_weights(path: str | os.PathLike[str], module: nn.Module) -> None:
    """Write ``module.state_dict()`` to a safetensors file, atomically.

    Every tensor is copied, so tied weights (an embedding and an output layer sharing one Parameter) are
    stored once per name; :func:`load_model_weights` copies both into the shared Parameter, which stays tied.

    Raises:
        FileNotFoundError: If the directory of ``path`` does not exist.
        ValueError: If the state dict holds something that is not a tensor (``get_extra_state``).
    """
    tensors = {}
    for key, value in module.state_dict().items():
        if not isinstance(value, Tensor):
            raise ValueError(f"{path}: state_dict entry {key!r} is a {type(value).__name__}; only tensors are saved")
        tensors[key] = _cpu_copy(value)
    atomic_save_file(path, lambda temporary: save_file(tensors, temporary, metadata={"format": "pt"}))


def load_model_weights(path: str | os.PathLike[str], module: nn.Module, strict: bool = True) -> None:
    """Load weights written by :func:`save_model_weights` (or any safetensors state dict) into ``module``.

    Args:
        path: The safetensors file.
        module: Its parameters and buffers are overwritten in place (so tied Parameters stay tied).
        strict: Require the file's keys to equal the module's; with False, missing and extra keys are skipped.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: If the file is not a safetensors file, or its keys or shapes do not fit the module (listing
            up to 5 of each); the module is left unchanged.
    """
    path = Path(path)
    tensors = _read_tensors(path, "safetensors weights")
    expected = module.state_dict()
    problems = []
    if strict and (missing := sorted(set(expected) - set(tensors))):
        problems.append(f"missing keys {_some(missing)}")
    if strict and (unexpected := sorted(set(tensors) - set(expected))):
        problems.append(f"unexpected keys {_some(unexpected)}")
    wrong = [f"{key} {list(tensors[key].shape)} (model: {list(value.shape)})" for key, value in expected.items()
             if key in tensors and tensors[key].shape != value.shape]
    if wrong:
        problems.append(f"shape mismatches {_some(wrong)}")
    if problems:
        raise ValueError(f"{path}: the weights do not fit the model: {'; '.join(problems)}")
    module.load_state_dict(tensors, strict=strict)


def capture_rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's (global) and torch's random generators (CUDA's too, when available)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"] = {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back generator states from :func:`capture_rng_state`; CUDA states are skipped without a GPU.

    Raises:
        ValueError: If ``state`` is not such a state.
    """
    try:
        version, internal, gauss = state["python"]
        numpy_state = dict(state["numpy"])
        numpy_state["state"] = {**numpy_state["state"],
                                "key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32)}
        random.setstate((version, tuple(internal), gauss))
        np.random.set_state(numpy_state)
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            for device, device_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(device_state, device)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"not a random-generator state: {type(error).__name__}: {error}") from None


def _save_state(directory: Path, name: str, obj: Any) -> None:
    """Write ``name.json`` (the skeleton) and, when there are tensors, ``name.safetensors``."""
    tensors, skeleton = flatten_state(obj)
    tensor_file = f"{name}.safetensors" if tensors else None
    if tensors:
        atomic_save_file(directory / f"{name}.safetensors", lambda temporary: save_file(tensors, temporary))
    document = {"format": STATE_FORMAT, "version": STATE_VERSION, "tensors": tensor_file, "state": skeleton}
    atomic_write_json(directory / f"{name}.json", document)


def _load_state(directory: Path, name: str) -> Any:
    """Read what :func:`_save_state` wrote; ValueError naming the file if it is missing or broken."""
    path = directory / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"{path}: missing from the checkpoint")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: broken checkpoint file: {error}") from None
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT or "state" not in document:
        raise ValueError(f"{path}: broken checkpoint file: expected a JSON object with \"format\": {STATE_FORMAT!r}")
    if document.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: unsupported version {document.get('version')!r}; expected {STATE_VERSION}")
    tensor_file = document.get("tensors")
    if tensor_file not in (None, f"{name}.safetensors"):
        raise ValueError(f"{path}: broken checkpoint file: unexpected tensor file {tensor_file!r}")
    tensors = {}
    if tensor_file is not None:
        if not (directory / tensor_file).is_file():
            raise ValueError(f"{directory / tensor_file}: missing from the checkpoint")
        tensors = _read_tensors(directory / tensor_file)
    try:
        return unflatten_state(tensors, document["state"])
    except ValueError as error:
        raise ValueError(f"{path}: broken checkpoint file: {error}") from None


def _order(name: str) -> tuple[int, int]:
    match = CHECKPOINT_NAME.fullmatch(name)
    return (int(match[1]), int(match[2] or 0)) if match else (-1, -1)


def _checkpoint_names(checkpoint_dir: Path) -> list[str]:
    return [entry.name for entry in checkpoint_dir.iterdir()
            if entry.is_dir() and CHECKPOINT_NAME.fullmatch(entry.name)]


def save_training_state(checkpoint_dir: str | os.PathLike[str], *, model: nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: Any = None, trainer_state: Mapping[str, Any], keep: int = 1) -> Path:
    """Write a complete checkpoint as a new ``step-{step:09d}`` directory, point ``LATEST`` at it, prune old ones.

    Args:
        checkpoint_dir: Holds the checkpoints and ``LATEST``; created if missing.
        model: Its state dict goes to ``model.safetensors``.
        optimizer: Its state dict (int keys, tuples and all) goes to ``optimizer.json`` + ``.safetensors``.
        scheduler: Anything with ``state_dict()`` (an LR scheduler), or None.
        trainer_state: Counters and anything else to resume with, e.g. a carried hidden state (tensors are
            fine); must hold ``"step"``, the int that names the directory.
        keep: How many checkpoints to keep, the new one included; older (and abandoned) ones are deleted.

    Returns:
        The new checkpoint directory.

    Raises:
        ValueError: If ``trainer_state["step"]`` is not an int >= 0, ``keep < 1``, or some state cannot be stored.
    """
    step = trainer_state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"save_training_state: trainer_state['step'] must be an int >= 0; got {step!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"save_training_state: keep must be an int >= 1; got {keep!r}")
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    same_step = [_order(name)[1] for name in _checkpoint_names(checkpoint_dir) if _order(name)[0] == step]
    name = f"step-{step:09d}" + (f"-{max(same_step) + 1}" if same_step else "")
    final = checkpoint_dir / name
    staging = temporary_path(final)
    staging.mkdir()
    try:
        _save_state(staging, "rng", capture_rng_state())
        save_model_weights(staging / MODEL_FILE, model)
        _save_state(staging, "optimizer", optimizer.state_dict())
        if scheduler is not None:
            _save_state(staging, "scheduler", scheduler.state_dict())
        _save_state(staging, "trainer", dict(trainer_state))
        fsync_directory(staging)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_directory(checkpoint_dir)
    atomic_write_text(checkpoint_dir / LATEST, name + "\n")
    _prune(checkpoint_dir, name, keep)
    return final


def _prune(checkpoint_dir: Path, latest: str, keep: int) -> None:
    """Delete all checkpoints but ``latest`` and the ``keep - 1`` before it, and leftovers of crashed saves."""
    older = sorted((name for name in _checkpoint_names(checkpoint_dir) if _order(name) < _order(latest)),
                   key=_order, reverse=True)
    kept = {latest, *older[: keep - 1]}
    for entry in checkpoint_dir.iterdir():
        if entry.is_dir() and CHECKPOINT_NAME.fullmatch(entry.name) and entry.name not in kept:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith((".step-", f".{LATEST}.")) and ".tmp-" in entry.name:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def has_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> bool:
    """Whether ``checkpoint_dir`` has a ``LATEST`` pointer (a checkpoint to resume from)."""
    return (Path(checkpoint_dir) / LATEST).is_file()


def latest_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint directory that ``LATEST`` names.

    Raises:
        FileNotFoundError: If there is no ``LATEST``.
        ValueError: If ``LATEST`` does not name an existing checkpoint directory.
    """
    checkpoint_dir = Path(checkpoint_dir)
    pointer = checkpoint_dir / LATEST
    if not pointer.is_file():
        raise FileNotFoundError(f"{checkpoint_dir}: no checkpoint to resume from (LATEST missing)")
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not CHECKPOINT_NAME.fullmatch(name) or not (checkpoint_dir / name).is_dir():
        raise ValueError(f"{pointer}: names {name!r:.60}, which is not a checkpoint directory in {checkpoint_dir}")
    return checkpoint_dir / name


def load_training_state(checkpoint_dir: str | os.PathLike[str], *, model: nn.Module,
                        optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                        restore_rng: bool = True) -> dict[str, Any]:
    """Load the checkpoint that ``LATEST`` names into ``model`` (and ``optimizer``, ``scheduler``, the RNGs).

    Every file is read and checked before anything is changed. Tensors come back on the CPU: the optimizer
    moves its state to its parameters' device itself; move a carried hidden state yourself.

    Returns:
        The ``trainer_state`` given to :func:`save_training_state`, tuples and tensors included.

    Raises:
        FileNotFoundError: If there is no ``LATEST`` in ``checkpoint_dir``.
        ValueError: If a file of the checkpoint is missing or broken, or does not fit the model, optimizer or
            scheduler; the message names the file.
    """
    directory = latest_checkpoint(checkpoint_dir)
    if not (directory / MODEL_FILE).is_file():
        raise ValueError(f"{directory / MODEL_FILE}: missing from the checkpoint")
    parts = {name: _load_state(directory, name) for name, wanted in
             (("optimizer", optimizer), ("scheduler", scheduler), ("trainer", True), ("rng", restore_rng)) if wanted}
    if not isinstance(parts["trainer"], dict):
        raise ValueError(f"{directory / 'trainer.json'}: broken checkpoint file: expected a mapping")
    load_model_weights(directory / MODEL_FILE, model)
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        if target is not None:
            try:
                target.load_state_dict(parts[name])
            except (KeyError, TypeError, ValueError, RuntimeError) as error:
                raise ValueError(f"{directory / name}.json: does not fit the {name}: {error}") from None
    if restore_rng:
        try:
            restore_rng_state(parts["rng"])
        except ValueError as error:
            raise ValueError(f"{directory / 'rng.json'}: {error}") from None
    return parts["trainer"]
