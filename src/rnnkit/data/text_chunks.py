"""A text file read in chunks of whole lines, giving the same text as :func:`~rnnkit.data.readers.text.read_text`.

``read_text`` reads a file whole; a corpus larger than memory is read here in chunks of about ``chunk_bytes``
that end after a newline byte, with the same rules: ``\\r\\n`` and lone ``\\r`` become ``\\n``, a leading
byte-order mark is dropped, a NUL byte in the first 8 KiB, bytes invalid in the encoding and a file that is empty
or only whitespace are refused with the file (and byte offset, line) named. Cutting after ``\\n`` keeps every
tokenisation of :mod:`rnnkit.data.corpus` the same as on the whole text: characters are characters, words never
hold a newline, ``<eos>`` closes each line, and ``str.lower`` looks no further than a line (a newline is neither
cased nor case-ignorable). The byte offset after each chunk lets an interrupted pass resume there.

Only encodings that write ``\\n`` as the single byte 0x0A are read this way (UTF-8, Latin-1, cp1252, ...).
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .readers.text import _BINARY_PROBE_BYTES, _codec_name

__all__ = ["CHUNK_BYTES", "check_chunk_encoding", "iter_chunks"]

CHUNK_BYTES = 4 << 20


def check_chunk_encoding(encoding: str) -> str:
    """The codec name of ``encoding``, or a ValueError when it does not write a newline as the byte 0x0A."""
    codec = _codec_name(encoding)
    if "\n".encode(codec) != b"\n":
        raise ValueError(f"encoding: {encoding!r} does not write a newline as one byte; prepared corpora are read in "
                         "chunks of lines: expected an ASCII-compatible encoding such as 'utf-8' or 'latin-1'")
    return codec


def _open(path: Path) -> BinaryIO:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a text file")
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    except PermissionError:
        raise ValueError(f"{path}: permission denied; expected a readable text file") from None


def iter_chunks(path: str | Path, encoding: str = "utf-8", start: int = 0,
                chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[str, int]]:
    """Yield ``(text, end)``: the file's text in chunks of whole lines, and the byte offset after each.

    Args:
        path: A text file (``.gz``: read decompressed; offsets count decompressed bytes).
        encoding: An ASCII-compatible codec name (see :func:`check_chunk_encoding`).
        start: Resume at this byte offset (an ``end`` yielded before); 0 reads from the beginning.
        chunk_bytes: About how many bytes a chunk holds (a longer line makes a longer chunk).

    Raises:
        FileNotFoundError, ValueError: As :func:`~rnnkit.data.readers.text.read_text`, naming the file.
    """
    path = Path(path)
    codec = check_chunk_encoding(encoding)
    decode = codecs.getdecoder(codec)
    offset, lines, has_text = start, 0, start > 0
    try:
        with _open(path) as handle:
            if start:
                handle.seek(start)
            while True:
                try:
                    data = b"".join(handle.readlines(chunk_bytes))
                except (OSError, EOFError) as error:
                    raise ValueError(f"{path}: not a valid gzip file ({error}); expected gzip text") from None
                if not data:
                    break
                if offset == 0:
                    nul = data.find(b"\x00", 0, _BINARY_PROBE_BYTES)
                    if nul >= 0:
                        raise ValueError(f"{path}: looks like a binary file (NUL byte at offset {nul}); expected text")
                try:
                    text = decode(data)[0]
                except UnicodeDecodeError as error:
                    where = offset + error.start
                    line = lines + data.count(b"\n", 0, error.start) + 1
                    raise ValueError(f"{path}: invalid {encoding} at byte offset {where} (line {line}"
                                     f"{' after the resume point' if start else ''}); pass --encoding to read it "
                                     "with another encoding, e.g. --encoding latin-1") from None
                if offset == 0:
                    text = text.removeprefix("\ufeff")
                text = text.replace("\r\n", "\n").replace("\r", "\n")
                has_text = has_text or bool(text.strip())
                offset += len(data)
                lines += data.count(b"\n")
                yield text, offset
    except gzip.BadGzipFile as error:
        raise ValueError(f"{path}: not a valid gzip file ({error}); expected gzip-compressed text") from None
    if not has_text:
        raise ValueError(f"{path}: the file is empty; expected text")
