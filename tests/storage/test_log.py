"""Unit tests of SegmentedLog: appends, reads and their limits, terms, time lookups, the three
ways of cutting the log, and misuse. Each test builds a small log (often with tiny segments so
that rolls happen) and compares against the records it appended."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storage.frames import make_records
from wiber.storage import (
    FsyncPolicy,
    LogUsageError,
    OutOfRangeError,
    Record,
    SegmentedLog,
    StorageError,
)
from wiber.storage.record import HEADER_SIZE


def open_log(directory: Path, *, segment_bytes: int = 300) -> SegmentedLog:
    return SegmentedLog.open(directory, segment_bytes=segment_bytes, index_interval_bytes=64)


def test_new_log_is_empty_from_index_one(log_dir: Path) -> None:
    log = open_log(log_dir)
    assert (log.first_index, log.last_index, log.durable_index) == (1, 0, 0)
    assert log.read(1, 1) == []
    assert log.find_time(0) is None
    log.close()


def test_appends_roll_segments_and_read_back_across_them(log_dir: Path) -> None:
    log = open_log(log_dir)
    records = make_records(1, 50)
    log.append(records[:1])
    log.append(records[1:])
    assert len(log.segment_paths()) > 3
    assert log.read(1, 51) == records
    assert log.read(17, 33) == records[16:32]
    log.close()
    reopened = open_log(log_dir)
    assert reopened.read(1, 51) == records
    assert [p.name for p in reopened.segment_paths()] == [p.name for p in log.segment_paths()]
    reopened.close()


def test_segment_files_are_named_by_base_index(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 30))
    names = [p.name for p in log.segment_paths()]
    assert names[0] == "00000000000000000001.log"
    bases = [int(name.removesuffix(".log")) for name in names]
    for base in bases:
        assert log.read(base, base + 1)[0].index == base
    log.close()


def test_read_limits(log_dir: Path) -> None:
    log = open_log(log_dir)
    records = make_records(1, 40)
    log.append(records)
    frame = records[9].frame_size()
    assert log.read(10, 41, max_count=4) == records[9:13]
    # A budget smaller than one record still returns one record.
    assert log.read(10, 41, max_bytes=1) == records[9:10]
    budget = sum(r.frame_size() for r in records[9:14])
    assert log.read(10, 41, max_bytes=budget) == records[9:14]
    assert log.read(10, 41, max_bytes=budget - 1) == records[9:13]
    assert log.read(10, 41, max_bytes=budget, max_count=2) == records[9:11]
    assert frame >= HEADER_SIZE
    with pytest.raises(LogUsageError):
        log.read(10, 41, max_count=0)
    log.close()


def test_reads_outside_the_log_are_clear_errors(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 10))
    log.delete_prefix(1)
    with pytest.raises(OutOfRangeError, match=r"\[1, 11\)"):
        log.read(5, 12)
    with pytest.raises(OutOfRangeError):
        log.read(0, 3)
    with pytest.raises(OutOfRangeError):
        log.term(11)
    with pytest.raises(IndexError):  # OutOfRangeError is also an IndexError
        log.term(0)
    log.close()


def test_append_must_continue_the_log(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 3))
    with pytest.raises(LogUsageError, match="expected 4"):
        log.append(make_records(5, 1))
    with pytest.raises(LogUsageError, match="expected 5"):
        log.append([*make_records(4, 1), *make_records(6, 1)])
    with pytest.raises(LogUsageError, match="kind 300"):
        log.append([Record(4, 1, 300, 0, b"")])
    assert log.last_index == 3
    assert log.read(1, 4) == make_records(1, 3)
    log.close()


def test_term_lookup_across_truncations(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 10, term=1))
    log.append(make_records(11, 10, term=3))
    log.truncate_suffix(15)
    log.append(make_records(15, 5, term=4))
    log.truncate_suffix(18)
    log.append(make_records(18, 3, term=6))
    expected = [1] * 10 + [3] * 4 + [4] * 3 + [6] * 3
    assert [log.term(i) for i in range(1, 21)] == expected
    log.close()
    reopened = open_log(log_dir)
    assert [reopened.term(i) for i in range(1, 21)] == expected
    reopened.close()


def test_truncate_suffix_drops_whole_segments_and_is_durable(log_dir: Path) -> None:
    log = open_log(log_dir)
    records = make_records(1, 60)
    log.append(records)
    segments = len(log.segment_paths())
    log.truncate_suffix(8)
    assert log.last_index == 7
    assert log.durable_index == 7
    assert len(log.segment_paths()) < segments
    assert all(p.exists() for p in log.segment_paths())
    assert sorted(log_dir.glob("*.log")) == log.segment_paths()
    log.append(make_records(8, 5, term=2))
    assert log.read(1, 13) == records[:7] + make_records(8, 5, term=2)
    with pytest.raises(OutOfRangeError):
        log.truncate_suffix(20)
    log.truncate_suffix(13)  # at last_index + 1: nothing to drop
    assert log.last_index == 12
    log.truncate_suffix(1)
    assert (log.first_index, log.last_index) == (1, 0)
    log.close()


def test_truncate_at_a_segment_base_keeps_an_empty_last_segment(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 40))
    base = int(log.segment_paths()[1].name.removesuffix(".log"))
    log.truncate_suffix(base)
    assert log.last_index == base - 1
    log.close()
    reopened = open_log(log_dir)
    assert reopened.last_index == base - 1
    reopened.append(make_records(base, 2, term=9))
    assert reopened.term(base + 1) == 9
    reopened.close()


def test_delete_prefix_keeps_segments_that_reach_the_cut(log_dir: Path) -> None:
    log = open_log(log_dir)
    records = make_records(1, 60)
    log.append(records)
    bases = [int(p.name.removesuffix(".log")) for p in log.segment_paths()]
    cut = bases[2] + 1  # inside the third segment: the first two go
    log.delete_prefix(cut)
    assert log.first_index == bases[2]
    assert log.read(bases[2], 61) == records[bases[2] - 1 :]
    with pytest.raises(OutOfRangeError):
        log.read(bases[2] - 1, 61)
    log.delete_prefix(cut)  # idempotent
    assert log.first_index == bases[2]
    log.close()
    reopened = open_log(log_dir)
    assert (reopened.first_index, reopened.last_index) == (bases[2], 60)
    assert reopened.term(bases[2]) == 1
    reopened.close()


def test_delete_prefix_never_removes_the_last_segment(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 40))
    last_base = int(log.segment_paths()[-1].name.removesuffix(".log"))
    log.delete_prefix(1000)
    assert log.first_index == last_base
    assert log.last_index == 40
    log.append(make_records(41, 1))
    assert log.read(41, 42) == make_records(41, 1)
    log.close()


def test_reset_starts_over_at_the_given_index(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 40))
    log.reset(100)
    assert (log.first_index, log.last_index, log.durable_index) == (100, 99, 99)
    with pytest.raises(LogUsageError):
        log.append(make_records(1, 1))
    log.append(make_records(100, 3, term=7))
    log.close()
    reopened = open_log(log_dir)
    assert (reopened.first_index, reopened.last_index) == (100, 102)
    assert reopened.read(100, 103) == make_records(100, 3, term=7)
    assert [p.name for p in reopened.segment_paths()] == ["00000000000000000100.log"]
    reopened.reset(1)
    assert (reopened.first_index, reopened.last_index) == (1, 0)
    with pytest.raises(LogUsageError):
        reopened.reset(0)
    reopened.close()


def test_find_time_uses_max_so_far(log_dir: Path) -> None:
    log = open_log(log_dir)
    stamps = [10, 20, 15, 30, 25, 25, 40, 5, 50]
    log.append([Record(i + 1, 1, 0, ts, b"p" * 20) for i, ts in enumerate(stamps)])
    assert log.find_time(0) == 1
    assert log.find_time(10) == 1
    assert log.find_time(16) == 2  # index 2's max-so-far is 20
    assert log.find_time(21) == 4
    assert log.find_time(26) == 4
    assert log.find_time(31) == 7
    assert log.find_time(41) == 9
    assert log.find_time(51) is None
    log.truncate_suffix(8)
    assert log.find_time(41) is None
    assert log.find_time(31) == 7
    log.close()


def test_sync_reports_the_durable_index(log_dir: Path) -> None:
    log = open_log(log_dir, segment_bytes=1 << 20)
    log.append(make_records(1, 5))
    assert log.durable_index == 0
    assert log.sync() == 5
    assert log.durable_index == 5
    log.append(make_records(6, 5))
    assert log.durable_index == 5
    log.close()
    with pytest.raises(StorageError, match="closed"):
        log.sync()


def test_always_policy_syncs_on_append(log_dir: Path) -> None:
    log = SegmentedLog.open(log_dir, fsync=FsyncPolicy.parse("always"))
    log.append(make_records(1, 3))
    assert log.durable_index == 3
    log.close()


def test_never_policy_reports_written_as_durable_without_fsync(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SegmentedLog.open(log_dir, fsync=FsyncPolicy.parse("never"))
    calls: list[int] = []
    monkeypatch.setattr("os.fdatasync", calls.append)
    log.append(make_records(1, 3))
    assert log.sync() == 3
    assert calls == []
    log.close()


def test_a_log_directory_opens_once(log_dir: Path) -> None:
    log = open_log(log_dir)
    with pytest.raises(StorageError, match="already open"):
        open_log(log_dir)
    log.close()
    open_log(log_dir).close()


def test_a_record_bigger_than_a_segment_gets_its_own(log_dir: Path) -> None:
    log = open_log(log_dir, segment_bytes=100)
    big = [Record(1, 1, 0, 0, b"b" * 500), Record(2, 1, 0, 0, b"c" * 500)]
    log.append(big)
    assert len(log.segment_paths()) == 2
    assert log.read(1, 3) == big
    log.close()


def test_a_roll_makes_the_finished_segment_durable(log_dir: Path) -> None:
    log = open_log(log_dir)
    log.append(make_records(1, 40))
    first_segment_end = int(log.segment_paths()[1].name.removesuffix(".log")) - 1
    assert log.durable_index >= first_segment_end > 0
    log.close()
