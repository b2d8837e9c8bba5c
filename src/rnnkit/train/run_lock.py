"""One writer per run directory: an advisory lock file held for the whole run.

``RUN/.rnnkit.lock`` is locked with ``flock`` (exclusive, non-blocking) by the process that trains into ``RUN``
and holds that process's PID, so a second writer (a second ``--resume``, a second start with the same ``--out``)
gets a one-line error naming the holder instead of deleting its staging files. The kernel drops the lock when
its process ends however it ends (SIGKILL included): a lock file left by a dead process holds no lock, and the
next writer takes it over and writes its own PID. The file itself is never deleted (deleting a lock file that
another process may be opening is the classic race); it also marks a directory as made by rnnkit.

Where ``fcntl`` does not exist (Windows) the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".rnnkit.lock"

__all__ = ["LOCK_NAME", "RunLock", "RunLocked"]


class RunLocked(ValueError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """The lock of one run directory; :meth:`acquire` then :meth:`release` (or use it as a context manager)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._stream: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._stream is not None

    def acquire(self) -> RunLock:
        """Lock the run directory (which must exist) for this process.

        Raises:
            RunLocked: Another live process holds the lock; the message names its PID.
            ValueError: The lock file cannot be created (read-only directory, ...).
        """
        if self._stream is not None:
            return self
        try:
            stream = open(self.path, "a+", encoding="utf-8")  # never truncates another holder's PID
        except OSError as error:
            raise ValueError(f"--out {self.directory}: cannot create the lock file {self.path.name}: "
                             f"{error.strerror or error}") from None
        if fcntl is not None:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                stream.seek(0)
                holder = stream.read().strip()[:20] or "unknown"
                stream.close()
                raise RunLocked(f"--out {self.directory}: in use by another rnnkit process (PID {holder}, lock "
                                f"file {self.path}); wait for it to finish or stop it") from None
        try:  # ours now: a PID left by a dead holder is replaced
            stream.seek(0)
            stream.truncate()
            stream.write(f"{os.getpid()}\n")
            stream.flush()
        except OSError as error:
            stream.close()
            raise ValueError(f"--out {self.directory}: cannot write the lock file {self.path.name}: "
                             f"{error.strerror or error}") from None
        self._stream = stream
        return self

    def release(self) -> None:
        """Give the lock up (a no-op when not held); the file stays."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(OSError):
            if fcntl is not None:
                fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
        stream.close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
