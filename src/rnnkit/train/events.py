"""TensorBoard scalars when the tensorboard package is installed, and silence when it is not.

tensorboard is an optional extra: :class:`EventWriter` writes through ``torch.utils.tensorboard.SummaryWriter``
if that imports, and otherwise does nothing, so training code calls it the same way either way::

    with EventWriter(run_dir / "events") as events:
        events.add_scalars(epoch, {"train_loss": 2.31, "valid_loss": 2.12}, prefix="epoch")
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from types import TracebackType
from typing import Any


def load_summary_writer() -> type | None:
    """``torch.utils.tensorboard.SummaryWriter``, or None when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises ImportError (not only ModuleNotFoundError) without tensorboard
        return None
    return SummaryWriter


class EventWriter:
    """Scalars for TensorBoard under ``log_dir``; a silent no-op without tensorboard or when disabled.

    Args:
        log_dir: the folder for the event files (made when the writer starts).
        enabled: False makes this a no-op even where tensorboard is installed (non-main ranks, ``--quiet``).
    """

    def __init__(self, log_dir: Path, enabled: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self._writer: Any = None
        if enabled:
            writer_class = load_summary_writer()
            if writer_class is not None:
                self._writer = writer_class(log_dir=str(self.log_dir))

    @property
    def available(self) -> bool:
        """True when scalars are really written (enabled, tensorboard installed, not closed)."""
        return self._writer is not None

    def add_scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        """Write each finite number of ``values`` at ``step``, tagged ``prefix/name`` (or ``name``).

        Values that are not numbers (strings, None, booleans) or not finite are skipped.
        """
        if self._writer is None:
            return
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                continue
            tag = f"{prefix.rstrip('/')}/{name}" if prefix else name
            self._writer.add_scalar(tag, float(value), global_step=step)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; calling it again does nothing."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
