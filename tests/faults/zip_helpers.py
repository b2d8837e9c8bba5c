"""Hostile zip archives for the fault tests: bombs, encrypted and unsupported members, broken CRCs."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def class_folders_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def plain_members(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    members = {f"data/{label}/{index}.txt": f"{label} text number {index}".encode()
               for label in ("pos", "neg") for index in range(3)}
    return members | (extra or {})


def _patch_headers(path: Path, member: str, offsets: tuple[int, int], value: int, size: str) -> None:
    """Write ``value`` at offset ``offsets[0]`` of ``member``'s local header and ``offsets[1]`` of its central one."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset, name_at in ((LOCAL, offsets[0], 30), (CENTRAL, offsets[1], 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at:start + name_at + len(name)] == name:
                struct.pack_into(size, data, start + offset, value)
            start += 4
    path.write_bytes(bytes(data))


def mark_encrypted(path: Path, member: str) -> None:
    with zipfile.ZipFile(path) as archive:
        flags = archive.getinfo(member).flag_bits
    _patch_headers(path, member, (6, 8), flags | 0x1, "<H")


def mark_method(path: Path, member: str, method: int) -> None:
    _patch_headers(path, member, (8, 10), method, "<H")


def break_crc(path: Path, member: str) -> None:
    with zipfile.ZipFile(path) as archive:
        crc = archive.getinfo(member).CRC
    _patch_headers(path, member, (14, 16), crc ^ 0xFFFF, "<I")
