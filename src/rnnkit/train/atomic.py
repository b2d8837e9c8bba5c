"""Writing files so that a crash never leaves a half-written one behind.

Every writer here puts the bytes in a temporary file next to the target, flushes them to disk (``fsync``) and
then renames the temporary file onto the target with :func:`os.replace`, which is atomic on POSIX and Windows:
a reader sees either the old file or the new one, never a mixture. The temporary file is named
``.{name}.tmp-{pid}-{random}`` and is removed if anything fails before the rename.

:func:`append_jsonl` is the one exception: a metrics log grows by one line at a time and is flushed after each.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["append_jsonl", "atomic_save_file", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "readable_file_mode"]


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where the OS tells it (Linux), else set back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read the mask is to set it, and set it back at once
    os.umask(mask)
    return mask


def readable_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: ``0o666`` less the umask (``0o644`` under the usual 022)."""
    return 0o666 & ~current_umask()


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (new names, renames) to disk; a no-op where the OS cannot (Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(handle)


def temporary_path(path: Path) -> Path:
    """A fresh name in ``path``'s directory for a file (or directory) that will become ``path``."""
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def atomic_save_file(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Let ``writer`` write a temporary file, then fsync it and move it onto ``path`` atomically.

    Args:
        path: The file to create or replace.
        writer: Called with the temporary path (in the same directory as ``path``); it must create the file,
            e.g. ``lambda temporary: safetensors.torch.save_file(tensors, temporary)``.

    Raises:
        FileNotFoundError: If the directory of ``path`` does not exist, or ``writer`` created no file.
        Whatever ``writer`` raises; the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: directory {path.parent} does not exist")
    temporary = temporary_path(path)
    try:
        writer(temporary)
        if not temporary.is_file():
            raise FileNotFoundError(f"{path}: the writer created no file at {temporary}")
        # Some writers (safetensors) create their file private (0600); every file of a run is as readable
        # as config.json, which open() created: 0666 less the umask.
        os.chmod(temporary, readable_file_mode())
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_directory(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_save_file`)."""
    atomic_save_file(path, lambda temporary: temporary.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically; newlines are written as given (no translation)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON (keys in their given order, a final newline), atomically.

    Raises:
        TypeError: If ``obj`` holds something JSON cannot represent; nothing is written.
    """
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def append_jsonl(path: str | os.PathLike[str], record: Any) -> None:
    """Append ``record`` as one line of JSON to ``path`` (created if missing), then flush and fsync.

    The line is built completely before the file is opened, so a record that cannot be written as JSON
    leaves the file untouched. Non-finite floats are written as ``NaN``/``Infinity``, as Python's json does.
    """
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8", newline="\n") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())
