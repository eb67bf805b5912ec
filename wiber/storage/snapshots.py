"""Durable snapshots (the broker state as of a Raft index), newest one kept.

Each snapshot is one file `<index:020d>-<term:020d>.snap` written atomically:
b"WSN1" | crc32 u32 of everything after it | index u64 | term u64 | data length u64 | data.
`save()` makes the new file durable before deleting older ones, so a crash leaves at least one
complete snapshot. A final-named file that does not verify was damaged after it was written:
`load()` raises `CorruptFileError` rather than falling back to an older snapshot, because the
log below the newest snapshot may already be gone.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Final

from wiber.storage.errors import CorruptFileError, LogUsageError
from wiber.storage.files import TMP_SUFFIX, atomic_write

MAGIC: Final = b"WSN1"
SUFFIX: Final = ".snap"
_HEAD: Final = struct.Struct("<4sIQQQ")
_U64: Final = 1 << 64


class SnapshotStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def save(self, index: int, term: int, data: bytes) -> None:
        """Store a snapshot durably and delete every other one."""
        if not (0 <= index < _U64 and 0 <= term < _U64):
            raise LogUsageError(f"snapshot index {index} or term {term} out of range")
        body = struct.pack("<QQQ", index, term, len(data)) + data
        head = MAGIC + struct.pack("<I", zlib.crc32(body))
        path = self.directory / f"{index:020d}-{term:020d}{SUFFIX}"
        atomic_write(path, head + body)
        for other in self._files():
            if other != path:
                other.unlink()

    def load(self) -> tuple[int, int, bytes] | None:
        """The newest snapshot as (index, term, data), or None when there is none."""
        files = self._files()
        if not files:
            return None
        return _decode(files[-1])

    def _files(self) -> list[Path]:
        found: list[tuple[int, int, Path]] = []
        for name in os.listdir(self.directory):
            if name.endswith(TMP_SUFFIX):
                continue  # an interrupted save: never renamed, so never valid
            parsed = _parse_name(name)
            if parsed is not None:
                found.append((*parsed, self.directory / name))
        return [path for _index, _term, path in sorted(found)]


def _parse_name(name: str) -> tuple[int, int] | None:
    stem = name.removesuffix(SUFFIX)
    index, sep, term = stem.partition("-")
    if stem == name or not sep or not (index.isdigit() and term.isdigit()):
        return None
    return int(index), int(term)


def _decode(path: Path) -> tuple[int, int, bytes]:
    blob = path.read_bytes()
    if len(blob) < _HEAD.size:
        raise CorruptFileError(path, f"{len(blob)} bytes, shorter than the header")
    magic, crc, index, term, length = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise CorruptFileError(path, f"bad magic {magic!r}")
    if zlib.crc32(memoryview(blob)[8:]) != crc:
        raise CorruptFileError(path, "crc mismatch")
    if length != len(blob) - _HEAD.size:
        raise CorruptFileError(path, f"length {length} but {len(blob) - _HEAD.size} data bytes")
    if _parse_name(path.name) != (index, term):
        raise CorruptFileError(path, f"holds index {index} term {term}, unlike its name")
    return index, term, blob[_HEAD.size :]
