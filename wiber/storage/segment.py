"""One segment file of the log: its records, recovery, and its sparse offset and time index.

A segment holds the records with indexes [base, last_index] back to back (see `record.py`), in
a file named by `base` zero-padded to 20 digits, like Kafka's. The sparse index is rebuilt in
memory on open (not persisted): one point per `interval` bytes of frames, each point holding
(record index, byte position, max timestamp of the segment's records before the point). The
same points serve reads by index and lookups by time.
"""

from __future__ import annotations

import os
import struct
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from wiber.invariant import invariant
from wiber.storage.errors import CorruptLogError
from wiber.storage.files import write_all
from wiber.storage.record import HEADER, HEADER_SIZE, LENGTH_BASE, Record, frame_error
from wiber.storage.terms import TermIndex

SUFFIX: Final = ".log"
NO_TS: Final = -(1 << 63) - 1  # below every i64 timestamp: "no record yet"
READ_CHUNK: Final = 64 << 10
# How many indexes after the last good record recovery looks for when deciding whether a bad
# frame is a torn tail (nothing valid after it) or corruption in the middle.
RESYNC_CANDIDATES: Final = 256
_LENGTH: Final = struct.Struct("<I")
_INDEX: Final = struct.Struct("<Q")
_TIMESTAMP: Final = struct.Struct("<q")


def segment_name(base: int) -> str:
    return f"{base:020d}{SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    stem = name.removesuffix(SUFFIX)
    if stem == name or len(stem) != 20 or not stem.isdigit():
        return None
    return int(stem)


class Segment:
    def __init__(self, path: Path, base: int, fd: int, interval: int) -> None:
        self.path = path
        self.base = base
        self.fd = fd
        self.size = 0
        self.last_index = base - 1
        self.max_ts = NO_TS
        self.recovered_bytes = 0  # bytes of torn tail cut on open
        self._interval = interval
        self._since_point = interval  # so the first record always gets a point
        self._point_index: list[int] = []
        self._point_pos: list[int] = []
        self._point_max_ts: list[int] = []

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, base: int, interval: int) -> Segment:
        path = directory / segment_name(base)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        return cls(path, base, fd, interval)

    @classmethod
    def load(
        cls, path: Path, base: int, interval: int, terms: TermIndex, *, is_last: bool
    ) -> Segment:
        """Open and verify every record; cut a torn tail of the last segment."""
        fd = os.open(path, os.O_RDWR)
        segment = cls(path, base, fd, interval)
        try:
            data = _read_all(fd)
            reason = segment._scan(data, terms)
            if reason is not None:
                segment._recover_tail(data, reason, is_last=is_last)
        except BaseException:
            os.close(fd)
            raise
        return segment

    def _scan(self, data: bytes, terms: TermIndex) -> str | None:
        """Index every valid record; return why the first bad frame is bad (None: no bad one)."""
        view = memoryview(data)
        crc32, unpack = zlib.crc32, HEADER.unpack_from
        n, pos, expect = len(data), 0, self.base
        try:
            while pos < n:
                if n - pos < HEADER_SIZE:
                    return f"{n - pos} bytes left, less than a record header"
                crc, length, index, term, ts, _kind = unpack(data, pos)
                end = pos + 8 + length
                if length < LENGTH_BASE or end > n:
                    return f"length {length} is impossible here ({n - pos} bytes left)"
                if crc32(view[pos + 4 : end]) != crc:
                    return "crc mismatch"
                if index != expect:
                    raise CorruptLogError(
                        self.path, pos, f"record has index {index}, expected {expect}"
                    )
                terms.note(index, term)
                self._note(index, pos, ts, end - pos)
                pos, expect = end, expect + 1
            return None
        finally:
            view.release()

    def _recover_tail(self, data: bytes, reason: str, *, is_last: bool) -> None:
        pos = self.size
        if not is_last:
            raise CorruptLogError(self.path, pos, f"{reason} (not in the last segment)")
        later = _find_valid_frame(data, pos, self.last_index)
        if later is not None:
            raise CorruptLogError(
                self.path, pos, f"{reason}, and a valid record follows at byte offset {later}"
            )
        os.ftruncate(self.fd, pos)
        os.fsync(self.fd)
        self.recovered_bytes = len(data) - pos

    # -- appending ----------------------------------------------------------------------

    def _note(self, index: int, pos: int, ts: int, frame: int) -> None:
        if self._since_point >= self._interval:
            self._point_index.append(index)
            self._point_pos.append(pos)
            self._point_max_ts.append(self.max_ts)
            self._since_point = 0
        self._since_point += frame
        if ts > self.max_ts:
            self.max_ts = ts
        self.size = pos + frame
        self.last_index = index

    def write(self, chunk: memoryview, records: list[Record], ends: list[int], lo: int) -> None:
        """Write `chunk` (the frames of `records`) at the end; `ends` are the frames' end
        offsets within the batch and `lo` the batch offset where `chunk` starts."""
        write_all(self.fd, chunk, self.size)
        # `_note` inlined: this runs once per appended record.
        interval, since, max_ts = self._interval, self._since_point, self.max_ts
        shift, prev = self.size - lo, lo
        for record, end in zip(records, ends, strict=True):
            if since >= interval:
                self._point_index.append(record.index)
                self._point_pos.append(prev + shift)
                self._point_max_ts.append(max_ts)
                since = 0
            since += end - prev
            if record.timestamp > max_ts:
                max_ts = record.timestamp
            prev = end
        self._since_point, self.max_ts = since, max_ts
        self.size, self.last_index = prev + shift, records[-1].index

    # -- reading ------------------------------------------------------------------------

    def _walk(self, index: int, stop: int) -> Iterator[tuple[int, int, bytes, int, int]]:
        """Yield (index, file position, chunk, offset in chunk, frame size) for each record in
        [nearest point at or before `index`, min(stop, last_index + 1))."""
        k = bisect_right(self._point_index, index) - 1
        invariant(k >= 0, f"{self.path}: no index point at or before {index}")
        i, pos = self._point_index[k], self._point_pos[k]
        stop = min(stop, self.last_index + 1)
        chunk, chunk_pos = b"", pos
        while i < stop:
            off = pos - chunk_pos
            if len(chunk) - off < HEADER_SIZE:
                chunk, chunk_pos, off = self._pread(pos, READ_CHUNK), pos, 0
            frame = 8 + _LENGTH.unpack_from(chunk, off + 4)[0]
            if len(chunk) - off < frame:
                chunk, chunk_pos, off = self._pread(pos, max(READ_CHUNK, frame)), pos, 0
            yield i, pos, chunk, off, frame
            i, pos = i + 1, pos + frame

    def _pread(self, pos: int, size: int) -> bytes:
        data = os.pread(self.fd, min(size, self.size - pos), pos)
        if len(data) < HEADER_SIZE:
            raise CorruptLogError(self.path, pos, "file is shorter than the records indexed")
        return data

    def read_into(
        self, lo: int, hi: int, out: list[Record], *, max_bytes: int, max_count: int, used: int
    ) -> int:
        """Append records of [lo, hi) to `out` while within the limits (at least one record in
        `out` overall); return the bytes now used.

        Hot path (replication and history reads): one tight loop, no per-record calls besides
        unpack, crc32 and the Record itself.
        """
        k = bisect_right(self._point_index, lo) - 1
        invariant(k >= 0, f"{self.path}: no index point at or before {lo}")
        index, pos = self._point_index[k], self._point_pos[k]
        stop = min(hi, self.last_index + 1)
        unpack, crc32 = HEADER.unpack_from, zlib.crc32
        chunk, off = b"", 0
        while index < stop:
            if len(chunk) - off < HEADER_SIZE:
                chunk, off = self._pread(pos, READ_CHUNK), 0
            crc, length, stored, term, ts, kind = unpack(chunk, off)
            frame = 8 + length
            if len(chunk) - off < frame:
                chunk, off = self._pread(pos, max(READ_CHUNK, frame)), 0
                if len(chunk) < frame:
                    raise CorruptLogError(self.path, pos, f"length {length} runs past the end")
            if index >= lo:
                if out and (used + frame > max_bytes or len(out) >= max_count):
                    break
                if stored != index or crc32(memoryview(chunk)[off + 4 : off + frame]) != crc:
                    raise CorruptLogError(self.path, pos, f"record {index} does not verify")
                out.append(Record(index, term, kind, ts, chunk[off + HEADER_SIZE : off + frame]))
                used += frame
            off, pos, index = off + frame, pos + frame, index + 1
        return used

    def position_of(self, index: int) -> int:
        if index > self.last_index:
            return self.size
        for i, pos, _chunk, _off, _frame in self._walk(index, index + 1):
            if i == index:
                return pos
        raise CorruptLogError(self.path, 0, f"index {index} not found")

    def find_time(self, timestamp: int) -> int | None:
        """The first index here whose record's timestamp is >= `timestamp`."""
        if self.max_ts < timestamp:
            return None
        k = max(bisect_left(self._point_max_ts, timestamp) - 1, 0)
        for i, _pos, chunk, off, _frame in self._walk(self._point_index[k], self.last_index + 1):
            if _TIMESTAMP.unpack_from(chunk, off + 24)[0] >= timestamp:
                return i
        raise CorruptLogError(self.path, 0, f"max timestamp {self.max_ts} not found")

    # -- cutting ------------------------------------------------------------------------

    def truncate_from(self, index: int) -> None:
        """Drop records >= index from the file and the indexes (the caller syncs)."""
        pos = self.position_of(index)
        cut = bisect_left(self._point_index, index)
        max_ts = NO_TS
        if cut > 0:
            max_ts = self._point_max_ts[cut - 1]
            for _i, _pos, chunk, off, _frame in self._walk(self._point_index[cut - 1], index):
                max_ts = max(max_ts, _TIMESTAMP.unpack_from(chunk, off + 24)[0])
        os.ftruncate(self.fd, pos)
        del self._point_index[cut:], self._point_pos[cut:], self._point_max_ts[cut:]
        self.size, self.last_index, self.max_ts = pos, index - 1, max_ts
        self._since_point = pos - self._point_pos[-1] if cut > 0 else self._interval

    def close(self) -> None:
        os.close(self.fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts, pos = [], 0
    while pos < size:
        part = os.pread(fd, size - pos, pos)
        if not part:
            break
        parts.append(part)
        pos += len(part)
    return b"".join(parts)


def _find_valid_frame(data: bytes, bad_pos: int, last_good: int) -> int | None:
    """Offset of a valid frame after `bad_pos` carrying one of the next indexes, or None.

    Searching for the index bytes (rather than trying every offset) keeps this fast on a long
    tail; the bound on candidates means a corrupt run of more than RESYNC_CANDIDATES records
    followed by valid ones would be taken for a torn tail.
    """
    limit = min(RESYNC_CANDIDATES, (len(data) - bad_pos) // HEADER_SIZE)
    for index in range(last_good + 1, last_good + 1 + limit):
        pattern = _INDEX.pack(index)
        hit = data.find(pattern, bad_pos + 9)
        while hit != -1:
            if frame_error(data, hit - 8, len(data)) is None:
                return hit - 8
            hit = data.find(pattern, hit + 1)
    return None
