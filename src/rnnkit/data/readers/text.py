"""Plain-text files: read them whole or as lines, with errors a user can act on.

``read_text`` refuses what is not text before anything downstream trips over it: a missing path, a directory,
an empty file, a binary file (a NUL byte in its first 8 KiB), or bytes that are not valid in the encoding (the
error gives the byte offset and line, and how to pick another encoding). Line endings ``\\r\\n`` and ``\\r`` become
``\\n``, and a UTF-8 byte-order mark is dropped, so the same text reads the same from any platform.
"""

from __future__ import annotations

import codecs
import gzip
import os
from pathlib import Path

__all__ = ["read_lines", "read_text"]

_BINARY_PROBE_BYTES = 8192
# Encodings whose text holds NUL bytes by design: the binary-file probe does not apply to them.
_WIDE_CODECS = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})


def _codec_name(encoding: str) -> str:
    """The canonical codec name of ``encoding``, or a ValueError naming it."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # e.g. "rot13", "base64" are not
        raise ValueError(
            f"encoding: unknown text encoding {encoding!r}; expected a codec name such as 'utf-8' or 'latin-1'"
        )
    return info.name


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a text file")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise ValueError(f"{path}: permission denied; expected a readable text file") from None
    if path.suffix == ".gz":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: not a valid gzip file ({error}); expected gzip-compressed text") from None
    return data


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Read a whole text file, with line endings normalised to ``"\\n"``.

    Args:
        path: The file to read; a ``.gz`` file is decompressed first.
        encoding: Its encoding, any name Python's ``codecs`` knows (``"utf-8"``, ``"latin-1"``, ``"cp1252"``, ...).

    Returns:
        The text, with ``\\r\\n`` and lone ``\\r`` replaced by ``\\n`` and a leading byte-order mark removed.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``encoding`` is unknown, ``path`` is a directory, the file is empty or only whitespace,
            holds a NUL byte in its first 8 KiB (a binary file; not checked for UTF-16/32), or is not valid in
            ``encoding`` (the message gives the byte offset and line of the first bad byte).
    """
    codec = _codec_name(encoding)
    path = Path(path)
    data = _read_bytes(path)
    empty = ValueError(f"{path}: the file is empty; expected text")
    if not data:
        raise empty
    if codec not in _WIDE_CODECS:
        nul = data.find(b"\x00", 0, _BINARY_PROBE_BYTES)
        if nul >= 0:
            raise ValueError(f"{path}: looks like a binary file (NUL byte at offset {nul}); expected text")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        offset = error.start
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(
            f"{path}: invalid {encoding} at byte offset {offset} (line {line}); pass --encoding to read it with "
            "another encoding, e.g. --encoding latin-1"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise empty
    return text


def read_lines(path: str | os.PathLike[str], encoding: str = "utf-8") -> list[str]:
    """Read a text file as a list of lines, without their newlines; empty lines are kept.

    A final newline ends the last line rather than starting an empty one: ``"a\\n\\nb\\n"`` gives
    ``["a", "", "b"]``. A byte-order mark at the start of any line (files joined with ``cat``) is removed.
    Errors as :func:`read_text`.
    """
    text = read_text(path, encoding)
    lines = [line.removeprefix("\ufeff") for line in text.split("\n")]  # files joined with cat keep their BOMs
    if text.endswith("\n"):
        lines.pop()
    return lines
