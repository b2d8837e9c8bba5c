"""Resource limits on what rnnkit reads and builds, so a hostile or mistaken input is refused, not obeyed.

Each limit has a default that no ordinary input comes near and an environment variable that changes it (a
positive integer; ``0`` switches the limit off)::

    RNNKIT_MAX_MEMBER_BYTES     64 MiB     one archive member, unpacked
    RNNKIT_MAX_ZIP_RATIO        200        unpacked / packed size of one archive member (a zip bomb: ~1000)
    RNNKIT_MAX_UNPACKED_BYTES   1 GiB      all members of one archive, unpacked
    RNNKIT_MAX_LINE_BYTES       4000000    one line of a text file (input to predict on, labelled data)
    RNNKIT_MAX_PARAMETERS       2000000000 parameters of a model, counted before any memory is taken
    RNNKIT_MAX_GENERATE_LENGTH  1000000    tokens one ``generate`` call produces
    RNNKIT_MAX_ABS_VALUE        1e15       magnitude of a value of a time series (1e300 overflows its statistics)
    RNNKIT_FOLLOW_SYMLINKS      0          1: follow symbolic links inside data folders (refused by default)

Every refusal is a one-line ValueError naming the input, the limit and the variable that raises it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["LIMITS", "check_count", "check_symlink", "follow_symlinks", "limit", "read_capped_lines"]

LIMITS = {
    "RNNKIT_MAX_MEMBER_BYTES": 64 * 2**20,
    "RNNKIT_MAX_ZIP_RATIO": 200,
    "RNNKIT_MAX_UNPACKED_BYTES": 2**30,
    "RNNKIT_MAX_LINE_BYTES": 4_000_000,
    "RNNKIT_MAX_PARAMETERS": 2_000_000_000,
    "RNNKIT_MAX_GENERATE_LENGTH": 1_000_000,
    "RNNKIT_MAX_ABS_VALUE": 10**15,
}


def limit(name: str) -> int | None:
    """The limit ``name`` (a key of :data:`LIMITS`): its environment variable or its default; None when off."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return LIMITS[name]
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r:.40}: expected a whole number (0 switches the limit off)") from None
    if value < 0:
        raise ValueError(f"{name}={value}: expected a whole number >= 0 (0 switches the limit off)")
    return value or None


def check_count(what: str, count: float, name: str, unit: str = "") -> None:
    """A ValueError when ``count`` exceeds the limit ``name``: ``"{what}: {count} exceeds the limit of ..."``."""
    cap = limit(name)
    if cap is not None and count > cap:
        raise ValueError(f"{what}: {count:,.0f}{unit} exceeds the limit of {cap:,}{unit} (set {name} to raise it, "
                         "0 for none)")


def follow_symlinks() -> bool:
    """Whether data folders' symbolic links are followed (``RNNKIT_FOLLOW_SYMLINKS=1``)."""
    return os.environ.get("RNNKIT_FOLLOW_SYMLINKS", "0").strip() not in ("", "0", "false", "no")


def check_symlink(entry: Path, root: Path) -> None:
    """Refuse ``entry`` (found inside the data folder ``root``) when it, or a folder between it and ``root``, is
    a symbolic link: reading it would read outside the data (``pos/x.txt -> /etc/passwd``)."""
    if follow_symlinks():
        return
    current = entry
    while current != root and current != current.parent:
        if current.is_symlink():
            raise ValueError(f"{current}: a symbolic link inside the data folder {root} (to {os.readlink(current)}); "
                             "links are not followed (set RNNKIT_FOLLOW_SYMLINKS=1 to follow them)")
        current = current.parent


def read_capped_lines(stream: BinaryIO, where: str) -> Iterator[bytes]:
    """The lines of a binary stream (newline kept), refusing one longer than ``RNNKIT_MAX_LINE_BYTES`` before it
    is held in memory whole: a 50 MB line is read in one piece over the limit and refused there."""
    cap = limit("RNNKIT_MAX_LINE_BYTES")
    number = 0
    while True:
        number += 1
        line = stream.readline(cap + 2) if cap is not None else stream.readline()
        if not line:
            return
        if cap is not None and len(line.rstrip(b"\r\n")) > cap:
            raise ValueError(f"{where} line {number}: longer than {cap:,} bytes (set RNNKIT_MAX_LINE_BYTES to "
                             "raise the limit, 0 for none)")
        yield line


def stdin_lines() -> list[str]:
    """The lines of standard input (newlines and a leading byte-order mark removed), each refused when longer
    than ``RNNKIT_MAX_LINE_BYTES`` characters before more of it is read."""
    import sys

    cap = limit("RNNKIT_MAX_LINE_BYTES")
    lines = []
    while True:
        line = sys.stdin.readline(cap + 2) if cap is not None else sys.stdin.readline()
        if not line:
            return lines
        body = line.rstrip("\r\n")
        if cap is not None and len(body) > cap:
            raise ValueError(f"stdin line {len(lines) + 1}: longer than {cap:,} characters (set "
                             "RNNKIT_MAX_LINE_BYTES to raise the limit, 0 for none)")
        lines.append(body.removeprefix("\ufeff"))
