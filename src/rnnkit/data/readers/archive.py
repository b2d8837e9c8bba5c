"""Reading members of a zip archive within bounds: no zip bomb, no traceback for a member zipfile cannot read.

A member is refused, with one line naming the archive and the member, when it is encrypted, packed with a
method zipfile does not support, larger unpacked than ``RNNKIT_MAX_MEMBER_BYTES``, packed more tightly than
``RNNKIT_MAX_ZIP_RATIO`` (unpacked / packed), when the archive's members together unpack to more than
``RNNKIT_MAX_UNPACKED_BYTES``, or when its bytes fail their CRC. The sizes the header claims are not trusted:
the member is read in pieces and refused as soon as it passes its limit (see :mod:`rnnkit.data.limits`).
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from pathlib import Path

from ..limits import limit

__all__ = ["ArchiveReader"]

SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
CHUNK = 1 << 20
RATIO_FLOOR = 1 << 20  # members under 1 MiB unpacked are never refused for their ratio (tiny texts pack well)


class ArchiveReader:
    """Reads the members of one open archive, keeping count of the bytes unpacked so far."""

    def __init__(self, archive: zipfile.ZipFile, path: Path) -> None:
        self.archive, self.path = archive, Path(path)
        self.unpacked = 0

    def _refuse(self, name: str, why: str) -> ValueError:
        return ValueError(f"{self.path}:{name}: {why}")

    def read(self, name: str) -> bytes:
        """The unpacked bytes of member ``name``.

        Raises:
            ValueError: The member is encrypted, unsupported, damaged or over a limit (one line).
        """
        info = self.archive.getinfo(name)
        if info.flag_bits & 0x1:
            raise self._refuse(name, "the member is encrypted; expected an archive without a password")
        if info.compress_type not in SUPPORTED:
            raise self._refuse(name, f"packed with compression method {info.compress_type}, which is not "
                                     "supported; expected stored, deflate, bzip2 or lzma")
        member_cap, ratio_cap = limit("RNNKIT_MAX_MEMBER_BYTES"), limit("RNNKIT_MAX_ZIP_RATIO")
        total_cap = limit("RNNKIT_MAX_UNPACKED_BYTES")
        self._check(name, info.file_size, info.compress_size, member_cap, ratio_cap, total_cap)
        pieces, size = [], 0
        try:
            with self.archive.open(info) as stream:
                while piece := stream.read(CHUNK):
                    size += len(piece)
                    self._check(name, size, info.compress_size, member_cap, ratio_cap, total_cap)
                    pieces.append(piece)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError,
                RuntimeError) as error:
            raise self._refuse(name, f"cannot be unpacked ({error}); the archive is damaged") from None
        self.unpacked += size
        return b"".join(pieces)

    def _check(self, name: str, size: int, packed: int, member_cap: int | None, ratio_cap: int | None,
               total_cap: int | None) -> None:
        if member_cap is not None and size > member_cap:
            raise self._refuse(name, f"unpacks to more than {member_cap:,} bytes (set RNNKIT_MAX_MEMBER_BYTES to "
                                     "raise the limit)")
        if ratio_cap is not None and size > RATIO_FLOOR and size > ratio_cap * max(packed, 1):
            raise self._refuse(name, f"unpacks to over {ratio_cap} times its packed size ({packed:,} bytes): a "
                                     "zip bomb? (set RNNKIT_MAX_ZIP_RATIO to raise the limit)")
        if total_cap is not None and self.unpacked + size > total_cap:
            raise self._refuse(name, f"the archive unpacks to more than {total_cap:,} bytes in all (set "
                                     "RNNKIT_MAX_UNPACKED_BYTES to raise the limit)")
