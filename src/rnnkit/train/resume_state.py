"""Checking the counters a checkpoint's ``trainer.json`` gives back before a resumed run trusts them.

A hand-edited or damaged ``trainer.json`` (a key missing or unknown, a value of the wrong type, ``history: null``,
a history that does not match the epoch counter) is a one-line ValueError naming the file, raised before any
training, never a traceback in the middle of an epoch or a run that silently restarts its counters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .config import config_from_mapping

StateT = TypeVar("StateT")

__all__ = ["checked_trainer_state"]


def checked_trainer_state(cls: type[StateT], saved: Mapping[str, Any], source: Path | str) -> StateT:
    """``cls(**saved)`` after checking that ``saved`` has every field of the dataclass ``cls``, of its type, and
    that its ``history`` holds one record (a mapping with ``epoch`` 1, 2, ...) per finished ``epoch``.

    Raises:
        ValueError: ``"<source>: broken checkpoint file: ..."``.
    """
    names = [field.name for field in dataclasses.fields(cls) if field.init]  # type: ignore[arg-type]
    missing = [name for name in names if name not in saved]
    if missing:
        raise ValueError(f"{source}: broken checkpoint file: missing {', '.join(map(repr, missing))}")
    try:
        state = config_from_mapping(cls, saved, str(source))
    except (ValueError, TypeError) as error:
        raise ValueError(f"broken checkpoint file: {error}" if str(error).startswith(str(source))
                         else f"{source}: broken checkpoint file: {error}") from None
    epoch, batch, step = (getattr(state, name, 0) for name in ("epoch", "batch", "step"))
    if min(epoch, batch, step) < 0:
        raise ValueError(f"{source}: broken checkpoint file: negative counter (epoch {epoch}, batch {batch}, "
                         f"step {step})")
    history = getattr(state, "history", [])
    epochs = [record.get("epoch") if isinstance(record, Mapping) else None for record in history]
    if epochs != list(range(1, epoch + 1)):
        raise ValueError(f"{source}: broken checkpoint file: history has epochs {epochs[:5]!r:.60} for {epoch} "
                         "finished epochs")
    return state
