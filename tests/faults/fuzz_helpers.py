"""The one property every reader must have: one-line error or correct records, never a traceback."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.faults.fault_counts import count

EXAMPLES = int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "25"))  # make test-faults: many more
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("RNNKIT_FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def outcome(call: Callable[[], Any], reader: str) -> list | None:
    """``call()``'s records (a generator is read to the end), or None when it raised a one-line user error.

    Anything else (another exception type, a multi-line message, a bare UnicodeDecodeError or JSONDecodeError
    that names no file) fails the test with its traceback: that is what the user would have seen.
    """
    count("inputs fuzzed")
    count(f"inputs fuzzed: {reader}")
    try:
        result = call()
        return list(result) if isinstance(result, Iterable) and not isinstance(result, str | bytes | dict) else result
    except (ValueError, FileNotFoundError) as error:
        assert not isinstance(error, UnicodeError | json.JSONDecodeError), f"raw {type(error).__name__}: {error}"
        message = str(error)
        assert message and "\n" not in message, f"not a one-line error: {message!r}"
        count("one-line errors")
        return None


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, and the valid file damaged: cut short, bytes flipped, lines dropped or repeated, a field
    added or removed, re-encoded (latin-1, UTF-16, a BOM), line endings changed."""

    def cut(data: bytes, at: float) -> bytes:
        return data[: int(len(data) * at)]

    def flip(data: bytes, where: list[tuple[float, int]]) -> bytes:
        buffer = bytearray(data)
        for at, value in where:
            if buffer:
                buffer[min(int(at * len(buffer)), len(buffer) - 1)] = value
        return bytes(buffer)

    def lines(data: bytes, keep: list[bool]) -> bytes:
        parts = data.split(b"\n")
        return b"\n".join(part for part, kept in zip(parts, keep + [True] * len(parts), strict=False) if kept)

    def column(data: bytes, row: int, extra: bytes) -> bytes:
        parts = data.split(b"\n")
        if parts:
            parts[row % len(parts)] += extra
        return b"\n".join(parts)

    def encoded(data: bytes, codec: str) -> bytes:
        text = data.decode("utf-8", errors="replace")
        return text.encode(codec, errors="replace") if codec != "bom" else b"\xef\xbb\xbf" + data

    fraction = st.floats(0, 1)
    return st.one_of(
        st.binary(max_size=300),
        st.just(valid),
        st.builds(cut, st.just(valid), fraction),
        st.builds(flip, st.just(valid), st.lists(st.tuples(fraction, st.integers(0, 255)), min_size=1, max_size=4)),
        st.builds(lines, st.just(valid), st.lists(st.booleans(), max_size=12)),
        st.builds(column, st.just(valid), st.integers(0, 20),
                  st.sampled_from([b",", b"\t", b",extra", b"\tx\ty", b" ", b"\x00", b"\r", b'"', b"\xff\xfe"])),
        st.builds(encoded, st.just(valid), st.sampled_from(["latin-1", "utf-16", "utf-32", "bom", "cp1252"])),
        st.builds(lambda data: data.replace(b"\n", b"\r\n"), st.just(valid)),
        st.builds(lambda data: data.replace(b"\n", b"\r"), st.just(valid)),
    )
