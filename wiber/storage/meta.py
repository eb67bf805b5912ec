"""Durable small metadata: the Raft hard state (term, vote, commit) or anything msgpack-able.

File format: b"WMT1" | crc32 u32 of the payload | payload length u32 | msgpack payload. Each
save replaces the whole file atomically (write-new, fsync, rename, fsync dir), so a crash
leaves the old or the new value; bytes that do not verify raise `CorruptFileError`.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any, Final

import msgpack

from wiber.storage.errors import CorruptFileError
from wiber.storage.files import atomic_write

MAGIC: Final = b"WMT1"
_HEAD: Final = struct.Struct("<4sII")


class MetaStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The saved dict, or None when nothing was ever saved."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if len(blob) < _HEAD.size:
            raise CorruptFileError(self.path, f"{len(blob)} bytes, shorter than the header")
        magic, crc, length = _HEAD.unpack_from(blob)
        payload = blob[_HEAD.size :]
        if magic != MAGIC:
            raise CorruptFileError(self.path, f"bad magic {magic!r}")
        if length != len(payload):
            raise CorruptFileError(self.path, f"length {length} but {len(payload)} payload bytes")
        if zlib.crc32(payload) != crc:
            raise CorruptFileError(self.path, "crc mismatch")
        try:
            value = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as error:
            raise CorruptFileError(self.path, f"undecodable payload: {error}") from error
        if not isinstance(value, dict):
            raise CorruptFileError(self.path, f"payload is a {type(value).__name__}, not a map")
        return value

    def save(self, value: dict[str, Any]) -> None:
        """Replace the stored dict atomically; durable on return."""
        payload = msgpack.packb(value, use_bin_type=True)
        atomic_write(self.path, _HEAD.pack(MAGIC, zlib.crc32(payload), len(payload)) + payload)
