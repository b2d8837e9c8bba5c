"""Fetching one file over HTTP(S): resumable, verified, never half-written.

The bytes go to ``NAME.part`` beside the target. A ``.part`` left by an interrupted download is continued with an
HTTP ``Range`` request (a server that ignores it sends the whole file, which then replaces the part). Only once the
whole file is there and its checksum matches is it handed on; a mismatch deletes the part and raises one line.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

CHUNK_BYTES = 1 << 20
ALGORITHMS = ("sha256", "sha1", "md5")  # strongest first: the registry names the one the origin published


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of the file at ``path`` (read in chunks: data sets can be large)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def check_digest(path: Path, algorithm: str, expected: str, origin: str) -> None:
    """Raise ``ValueError`` (one line) and delete ``path`` unless its digest is ``expected``."""
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        path.unlink(missing_ok=True)
        raise ValueError(f"{origin}: {algorithm.upper()} mismatch: expected {expected}, got {actual}; "
                         "the download was deleted and nothing was kept (run the command again)")


def _open(url: str, offset: int):
    """The HTTP response for ``url`` from byte ``offset`` on (None when the part already holds every byte)."""
    request = urllib.request.Request(url, headers={"User-Agent": "rnnkit (python urllib)"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=60)  # noqa: S310 - the registry's own https URLs
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # range not satisfiable: the part is already complete
            return None
        raise ValueError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ValueError(f"{url}: cannot download: {reason}") from None


def _resumed_from(response, offset: int) -> int:
    """Where the response's bytes start: ``offset`` for a 206 answer to our range, 0 for a whole file."""
    if response.status != 206:
        return 0
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) != offset:
        raise ValueError(f"{response.url}: the server answered range {offset}- with "
                         f"{response.headers.get('Content-Range')!r}")
    return offset


def download(url: str, target: Path, *, algorithm: str | None, expected: str | None, size: int | None = None,
             label: str = "", progress: bool = True) -> Path:
    """Download ``url`` to ``target.part``, continuing an earlier part, and verify it.

    Args:
        url: Where the file is (http or https).
        target: The file it will become; the caller moves ``target.part`` there (or unpacks it).
        algorithm: ``"sha256"``, ``"sha1"`` or ``"md5"``: the checksum the origin's bytes are known by; None for
            an archive whose unpacked files the caller verifies (such a part is never continued: it is fetched
            whole each time, as nothing could tell a good part from a bad one).
        expected: That checksum, in hex (None with ``algorithm=None``).
        size: The file's size in bytes, for the progress bar when the server does not say.
        label: The name on the progress bar.
        progress: Draw a tqdm progress bar on stderr.

    Returns:
        The verified ``target.part``.

    Raises:
        ValueError: The server refused, the connection failed (the part is kept, to be continued), or the
            checksum does not match (the part is deleted).
    """
    from tqdm import tqdm

    partial = target.with_name(target.name + ".part")
    if algorithm is None:
        partial.unlink(missing_ok=True)
    offset = partial.stat().st_size if partial.exists() else 0
    response = _open(url, offset)
    if response is not None:
        with response:
            start = _resumed_from(response, offset)
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else size
            with open(partial, "ab" if start else "wb") as stream, tqdm(
                    total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label or target.name,
                    disable=not progress, file=sys.stderr, leave=False) as bar:
                problem = None
                try:
                    while chunk := response.read(CHUNK_BYTES):
                        stream.write(chunk)
                        bar.update(len(chunk))
                except (OSError, http.client.HTTPException) as error:
                    problem = error
                stream.flush()
                os.fsync(stream.fileno())
                if problem is not None or (total is not None and length is not None and stream.tell() < total):
                    # the part is kept: the next run asks for the rest (Range) and checks the whole file
                    raise ValueError(f"{url}: download interrupted after {stream.tell()} bytes"
                                     f"{f' ({problem})' if problem else ''}; run the command again to continue it")
    if algorithm is not None:
        check_digest(partial, algorithm, expected or "", url)
    return partial
