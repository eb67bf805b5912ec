"""sync() from a worker thread while the main thread appends: durable_index never claims more
than the fsyncs covered.

Method: os.fdatasync is replaced by a recorder that notes, at the moment of the call, the
highest index whose frame is complete in the file being synced, then sleeps a little so that
appends land during the "fsync". A sync that read `last_index` after its fsync, or trusted a
fsync voided by a truncation, would claim records that were not on disk yet.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.storage.frames import make_records
from wiber.storage import SegmentedLog
from wiber.storage.record import HEADER, frame_error

REAL_FDATASYNC = os.fdatasync


def complete_index(fd: int) -> int:
    """The highest record index fully present in the file behind `fd` (0 when none)."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    pos, last = 0, 0
    while pos < len(data) and frame_error(data, pos, len(data)) is None:
        _crc, length, index, *_rest = HEADER.unpack_from(data, pos)
        pos, last = pos + 8 + length, index
    return last


class SyncRecorder:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.synced = 0  # the highest index any fdatasync has covered

    def __call__(self, fd: int) -> None:
        covered = complete_index(fd)
        time.sleep(self.delay)
        REAL_FDATASYNC(fd)
        with self.lock:
            self.synced = max(self.synced, covered)


def test_durable_index_never_exceeds_what_was_synced(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = SyncRecorder(delay=0.002)
    monkeypatch.setattr(os, "fdatasync", recorder)
    log = SegmentedLog.open(log_dir, segment_bytes=4000, index_interval_bytes=256)
    stop = threading.Event()
    returned: list[int] = []

    def worker() -> None:
        while not stop.is_set():
            returned.append(log.sync())

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for first in range(1, 3001, 10):
            log.append(make_records(first, 10))
            durable = log.durable_index
            with recorder.lock:
                assert durable <= recorder.synced
            assert durable <= log.last_index
    finally:
        stop.set()
        thread.join()
    assert returned == sorted(returned)
    assert 0 < returned[-1] <= 3000
    assert len(log.segment_paths()) > 5  # rolls happened while syncing
    assert log.sync() == 3000
    assert log.read(1, 3001) == make_records(1, 3000)
    log.close()


def test_a_truncation_during_sync_voids_its_claim(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SegmentedLog.open(log_dir)
    entered, release = threading.Event(), threading.Event()
    main = threading.current_thread()

    def blocking_fdatasync(fd: int) -> None:
        if threading.current_thread() is not main:
            entered.set()
            release.wait(10)
        REAL_FDATASYNC(fd)

    monkeypatch.setattr(os, "fdatasync", blocking_fdatasync)
    log.append(make_records(1, 10))
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(log.sync()))
    thread.start()
    assert entered.wait(10)
    log.truncate_suffix(5)  # durable: 1..4 are synced by the truncation itself
    log.append(make_records(5, 20, term=2))  # written, not synced
    release.set()
    thread.join()
    assert result == [4]
    assert log.durable_index == 4
    assert log.sync() == 24
    log.close()
