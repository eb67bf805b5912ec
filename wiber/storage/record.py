"""Log records and their on-disk frame.

One frame per record, little-endian, no padding:

    offset  size  field
    0       4     crc32    zlib.crc32 of bytes [4, end): the length, the fields and the payload
    4       4     length   bytes after this field: 25 + len(payload)
    8       8     index    u64, the Raft log index
    16      8     term     u64
    24      8     timestamp  i64, the leader-stamped HLC (ms << 16 | logical)
    32      1     kind     u8 (wiber.core.types.EntryKind)
    33      n     payload

The CRC covers the length too, so a flipped length is caught like any other flipped byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

HEADER: Final = struct.Struct("<IIQQqB")
HEADER_SIZE: Final = HEADER.size  # 33
LENGTH_BASE: Final = HEADER_SIZE - 8  # what `length` counts besides the payload
CRC: Final = struct.Struct("<I")
MAX_PAYLOAD: Final = (1 << 31) - HEADER_SIZE
_U64: Final = 1 << 64
_I64: Final = 1 << 63


@dataclass(frozen=True, slots=True)
class Record:
    """One Raft entry on disk."""

    index: int  # Raft log index, dense, starting at 1 for a new log
    term: int
    kind: int  # 0..255 (wiber.core.types.EntryKind values)
    timestamp: int  # leader-stamped HLC (int64: ms << 16 | logical); feeds the time index
    payload: bytes

    def frame_size(self) -> int:
        return HEADER_SIZE + len(self.payload)


def check_fields(record: Record) -> str | None:
    """Why `record` cannot be framed, or None when it can."""
    if not 0 <= record.index < _U64 or not 0 <= record.term < _U64:
        return f"index {record.index} or term {record.term} does not fit in a u64"
    if not 0 <= record.kind <= 255:
        return f"kind {record.kind} is not in 0..255"
    if not -_I64 <= record.timestamp < _I64:
        return f"timestamp {record.timestamp} does not fit in an i64"
    if len(record.payload) > MAX_PAYLOAD:
        return f"payload of {len(record.payload)} bytes is too large"
    return None


def encode_batch(records: Sequence[Record]) -> tuple[bytearray, list[int]]:
    """Frame `records` into one buffer (one write() call); also return each frame's end offset.

    Hot path: one pack_into, one slice copy and one crc32 per record, no intermediate bytes.
    """
    total = HEADER_SIZE * len(records) + sum(len(r.payload) for r in records)
    buf = bytearray(total)
    view = memoryview(buf)
    ends: list[int] = []
    pack_header = HEADER.pack_into
    pack_crc = CRC.pack_into
    crc32 = zlib.crc32
    pos = 0
    for r in records:
        n = len(r.payload)
        end = pos + HEADER_SIZE + n
        pack_header(buf, pos, 0, LENGTH_BASE + n, r.index, r.term, r.timestamp, r.kind)
        buf[pos + HEADER_SIZE : end] = r.payload
        pack_crc(buf, pos, crc32(view[pos + 4 : end]))
        ends.append(end)
        pos = end
    view.release()
    return buf, ends


def frame_error(data: bytes | bytearray, pos: int, end: int) -> str | None:
    """Why the frame at `pos` (within data[:end]) does not verify, or None when it does."""
    if end - pos < HEADER_SIZE:
        return f"{end - pos} bytes left, less than a record header"
    crc, length = struct.unpack_from("<II", data, pos)
    if length < LENGTH_BASE:
        return f"length {length} is below the minimum {LENGTH_BASE}"
    if pos + 8 + length > end:
        return f"length {length} runs past the end of the file"
    with memoryview(data) as view:
        actual = zlib.crc32(view[pos + 4 : pos + 8 + length])
    if actual != crc:
        return f"crc mismatch (stored {crc:#010x}, computed {actual:#010x})"
    return None


def decode_at(data: bytes | bytearray, pos: int) -> tuple[Record, int]:
    """The record framed at `pos` (already verified by the caller) and the next frame's offset."""
    _crc, length, index, term, timestamp, kind = HEADER.unpack_from(data, pos)
    end = pos + 8 + length
    return Record(index, term, kind, timestamp, bytes(data[pos + HEADER_SIZE : end])), end
