"""The segmented log: the Raft log of one node, on disk.

Theory of operation. Records (one per Raft entry) are appended to the last segment file with
one write() per batch; when the next record would not fit in `segment_bytes`, the segment is
fsynced ("rolled") and a new file starts at the next index. Everything else the log knows
(where each segment starts, the sparse offset/time points, the run-length term index) is
rebuilt on open by reading and CRC-checking every record, so nothing but the segment files
needs to be kept consistent on disk.

Durability. `append()` writes to the page cache (and, under `always`, fsyncs before returning).
`sync()` fsyncs the last segment and returns the highest index now durable; it may run in one
worker thread while the event-loop thread appends and reads: it takes the lock only to note
(a duplicate of the last segment's fd, the last index) and again to publish the result, never
during the fsync, and a truncation or reset in between voids its claim. Earlier segments are
durable because a roll fsyncs the segment it closes and the directory before the next segment
gets a record.

Crash safety of structural changes: segments are removed newest-first when cutting the tail
(truncate_suffix, reset) and oldest-first when cutting the head (delete_prefix), so a crash in
the middle leaves a contiguous run of segments: a prefix or a suffix of what was there. After a
crash during `reset()` the log holds a prefix of its old records; the caller, which knows the
snapshot, checks `term(snapshot.index)` and calls `reset()` again when it does not match.

Recovery. A bad frame in the last segment with no valid record after it is a torn tail: it and
everything after it are cut. A bad frame anywhere else, a valid record with the wrong index, or
a gap between segments is corruption: `CorruptLogError` names the file and byte offset.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from wiber.storage.errors import CorruptLogError, LogUsageError, OutOfRangeError, StorageError
from wiber.storage.files import fsync_dir
from wiber.storage.policy import FsyncPolicy
from wiber.storage.record import Record, check_fields, encode_batch
from wiber.storage.segment import Segment, parse_segment_name, segment_name
from wiber.storage.terms import TermIndex

LOCK_NAME: Final = "LOCK"
GROUP_COMMIT: Final = FsyncPolicy("group")
_NO_LIMIT: Final = 1 << 62


class SegmentedLog:
    def __init__(
        self,
        directory: Path,
        segments: list[Segment],
        terms: TermIndex,
        *,
        fsync: FsyncPolicy,
        segment_bytes: int,
        interval: int,
        lock_fd: int,
    ) -> None:
        self.directory = directory
        self.fsync_policy = fsync
        self._segments = segments
        self._bases = [s.base for s in segments]
        self._terms = terms
        self._segment_bytes = segment_bytes
        self._interval = interval
        self._lock_fd = lock_fd
        self._lock = threading.Lock()  # guards the segment list, `_durable` and `_epoch`
        self._durable = segments[-1].last_index
        self._epoch = 0  # bumped when records may vanish, voiding a sync() in flight
        self._closed = False
        self.recovered_bytes = sum(s.recovered_bytes for s in segments)

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        segment_bytes: int = 64 << 20,
        fsync: FsyncPolicy = GROUP_COMMIT,
        index_interval_bytes: int = 4096,
    ) -> SegmentedLog:
        """Open (creating if needed) the log in `directory` and recover it."""
        if segment_bytes < 1 or index_interval_bytes < 0:
            raise LogUsageError("segment_bytes must be >= 1 and index_interval_bytes >= 0")
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_directory(directory)
        segments: list[Segment] = []
        try:
            terms = TermIndex()
            segments = _load_segments(directory, index_interval_bytes, terms)
            if not segments:
                segments.append(Segment.create(directory, 1, index_interval_bytes))
                fsync_dir(directory)
            elif fsync.fsyncs:
                # The previous process may have died with records only in the page cache.
                os.fdatasync(segments[-1].fd)
        except BaseException:
            for segment in segments:
                segment.close()
            os.close(lock_fd)
            raise
        return cls(
            directory,
            segments,
            terms,
            fsync=fsync,
            segment_bytes=segment_bytes,
            interval=index_interval_bytes,
            lock_fd=lock_fd,
        )

    # -- state --------------------------------------------------------------------------

    @property
    def first_index(self) -> int:
        return self._segments[0].base

    @property
    def last_index(self) -> int:
        return self._segments[-1].last_index

    @property
    def durable_index(self) -> int:
        """The highest index known synced (never more than was fsynced, except under never)."""
        return self._durable

    def segment_paths(self) -> list[Path]:
        return [s.path for s in self._segments]

    # -- writing ------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> None:
        """Append records whose indexes continue `last_index`; under `always`, sync first."""
        if not records:
            return
        batch = list(records)
        with self._lock:
            self._check_open()
            first = self.last_index + 1
            for k, record in enumerate(batch):
                if record.index != first + k:
                    raise LogUsageError(f"append of index {record.index}, expected {first + k}")
            try:
                buf, ends = encode_batch(batch)
            except struct.error:
                raise LogUsageError(_first_bad_field(batch)) from None
            self._write_batch(batch, buf, ends)
            self._terms.note_all(batch)
        if self.fsync_policy.syncs_each_append:
            self.sync()

    def _write_batch(self, batch: list[Record], buf: bytearray, ends: list[int]) -> None:
        view = memoryview(buf)
        try:
            start = 0
            while start < len(batch):
                segment = self._segments[-1]
                offset = ends[start - 1] if start else 0
                stop = bisect_right(ends, offset + self._segment_bytes - segment.size, lo=start)
                if stop == start:
                    if segment.size > 0:
                        self._roll()
                        continue
                    stop = start + 1  # a record bigger than a segment gets one to itself
                self._write_to(segment, view[offset : ends[stop - 1]], batch, ends, start, stop)
                start = stop
        finally:
            view.release()

    def _write_to(
        self,
        segment: Segment,
        chunk: memoryview,
        batch: list[Record],
        ends: list[int],
        start: int,
        stop: int,
    ) -> None:
        offset = ends[start - 1] if start else 0
        size = segment.size
        try:
            segment.write(chunk, batch[start:stop], ends[start:stop], offset)
        except OSError as error:
            # A partial frame left past the end could be mistaken for records on recovery.
            os.ftruncate(segment.fd, size)
            raise StorageError(f"{segment.path}: append failed: {error}") from error

    def _roll(self) -> None:
        """Close the last segment durably and start the next one (lock held)."""
        old = self._segments[-1]
        os.fdatasync(old.fd)
        new = Segment.create(self.directory, old.last_index + 1, self._interval)
        fsync_dir(self.directory)
        self._segments.append(new)
        self._bases.append(new.base)
        self._durable = max(self._durable, old.last_index)

    def sync(self) -> int:
        """Fsync everything appended so far; return the highest index now durable.

        Safe to call from one worker thread while append() and read() run on another.
        """
        with self._lock:
            self._check_open()
            target = self.last_index
            if target <= self._durable:
                return self._durable
            if not self.fsync_policy.fsyncs:
                self._durable = target
                return target
            fd = os.dup(self._segments[-1].fd)
            epoch = self._epoch
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        with self._lock:
            if epoch == self._epoch and target > self._durable:
                self._durable = target
            return self._durable

    # -- reading ------------------------------------------------------------------------

    def term(self, index: int) -> int:
        self._check_range(index, index + 1)
        return self._terms.term(index)

    def read(
        self, lo: int, hi: int, *, max_bytes: int | None = None, max_count: int | None = None
    ) -> list[Record]:
        """Records in [lo, hi), stopping before `max_bytes` of frames or `max_count` records,
        but always at least one when lo < hi."""
        if lo >= hi:
            return []
        self._check_range(lo, hi)
        if max_count is not None and max_count < 1:
            raise LogUsageError(f"max_count must be >= 1, got {max_count}")
        byte_limit = _NO_LIMIT if max_bytes is None else max_bytes
        count_limit = _NO_LIMIT if max_count is None else max_count
        out: list[Record] = []
        used = 0
        for segment in self._segments[bisect_right(self._bases, lo) - 1 :]:
            if segment.last_index < segment.base:
                break
            used = segment.read_into(
                max(lo, segment.base),
                hi,
                out,
                max_bytes=byte_limit,
                max_count=count_limit,
                used=used,
            )
            if out[-1].index < min(hi - 1, segment.last_index):
                break  # a limit stopped the read inside this segment
            if out[-1].index == hi - 1:
                break
        return out

    def find_time(self, timestamp: int) -> int | None:
        """The first index whose max-so-far timestamp is >= `timestamp` (that is, the first
        record stamped at or after it), or None."""
        for segment in self._segments:
            found = segment.find_time(timestamp)
            if found is not None:
                return found
        return None

    # -- cutting ------------------------------------------------------------------------

    def truncate_suffix(self, from_index: int) -> None:
        """Drop every record with index >= from_index (a Raft conflict); durable on return."""
        with self._lock:
            self._check_open()
            if not self.first_index <= from_index <= self.last_index + 1:
                raise OutOfRangeError(
                    f"truncate_suffix({from_index}) outside [{self.first_index}, "
                    f"{self.last_index + 1}]"
                )
            if from_index == self.last_index + 1:
                return
            k = bisect_right(self._bases, from_index) - 1
            dropped = self._segments[k + 1 :]
            for segment in reversed(dropped):
                segment.close()
                os.unlink(segment.path)
            del self._segments[k + 1 :], self._bases[k + 1 :]
            kept = self._segments[k]
            kept.truncate_from(from_index)
            self._terms.truncate(from_index)
            self._epoch += 1
            if self.fsync_policy.fsyncs:
                os.fdatasync(kept.fd)
                if dropped:
                    fsync_dir(self.directory)
            if self.fsync_policy.fsyncs:
                self._durable = from_index - 1  # the fdatasync above covered the kept records
            else:
                self._durable = min(self._durable, from_index - 1)

    def delete_prefix(self, before_index: int) -> None:
        """Retention: delete whole segments whose records are all below `before_index`. The
        last segment always stays, so first_index never passes last_index + 1."""
        with self._lock:
            self._check_open()
            drop = 0
            while drop < len(self._segments) - 1 and self._segments[drop].last_index < before_index:
                drop += 1
            if drop == 0:
                return
            for segment in self._segments[:drop]:
                segment.close()
                os.unlink(segment.path)
            del self._segments[:drop], self._bases[:drop]
            self._terms.forget_before(self.first_index)
            if self.fsync_policy.fsyncs:
                fsync_dir(self.directory)

    def reset(self, next_index: int) -> None:
        """Drop every record; the next append starts at `next_index` (after a snapshot)."""
        if next_index < 1:
            raise LogUsageError(f"reset({next_index}): the next index must be >= 1")
        with self._lock:
            self._check_open()
            for segment in reversed(self._segments):
                segment.close()
                os.unlink(segment.path)
            self._segments, self._bases = [], []
            if self.fsync_policy.fsyncs:
                fsync_dir(self.directory)
            segment = Segment.create(self.directory, next_index, self._interval)
            fsync_dir(self.directory)
            self._segments, self._bases = [segment], [next_index]
            self._terms.clear()
            self._epoch += 1
            self._durable = next_index - 1

    def close(self) -> None:
        """Close the files (no fsync: call sync() first to make appends durable)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for segment in self._segments:
                segment.close()
            os.close(self._lock_fd)

    # -- helpers ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"{self.directory}: the log is closed")

    def _check_range(self, lo: int, hi: int) -> None:
        if lo < self.first_index or hi > self.last_index + 1:
            raise OutOfRangeError(
                f"indexes [{lo}, {hi}) outside the log's [{self.first_index}, "
                f"{self.last_index + 1})"
            )


def _lock_directory(directory: Path) -> int:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(f"{directory}: the log is already open (locked)") from None
    return fd


def _load_segments(directory: Path, interval: int, terms: TermIndex) -> list[Segment]:
    names = (parse_segment_name(name) for name in os.listdir(directory))
    bases = sorted(base for base in names if base is not None)
    segments: list[Segment] = []
    try:
        for k, base in enumerate(bases):
            path = directory / segment_name(base)
            if segments and base != segments[-1].last_index + 1:
                raise CorruptLogError(
                    path,
                    0,
                    f"starts at index {base} but the previous segment ends at "
                    f"{segments[-1].last_index}",
                )
            is_last = k == len(bases) - 1
            segments.append(Segment.load(path, base, interval, terms, is_last=is_last))
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return segments


def _first_bad_field(batch: list[Record]) -> str:
    for record in batch:
        reason = check_fields(record)
        if reason is not None:
            return f"record {record.index}: {reason}"
    return "a record field does not fit its on-disk type"
