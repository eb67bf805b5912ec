"""Recovery on open: a torn or corrupt tail is cut; corruption anywhere else is a clear
`CorruptLogError` naming the file and byte offset, and the files are left untouched.

Method: write a log, close it, damage a segment file by hand at a known frame, reopen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.storage.frames import frame_spans, make_records
from wiber.storage import CorruptLogError, SegmentedLog
from wiber.storage.record import encode_batch


def write_log(directory: Path, count: int, *, segment_bytes: int = 1 << 20) -> list[Path]:
    log = SegmentedLog.open(directory, segment_bytes=segment_bytes, index_interval_bytes=64)
    log.append(make_records(1, count))
    log.sync()
    paths = log.segment_paths()
    log.close()
    return paths


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def reopen(directory: Path) -> SegmentedLog:
    return SegmentedLog.open(directory, segment_bytes=1 << 20, index_interval_bytes=64)


def test_cut_inside_the_last_record_drops_it(log_dir: Path) -> None:
    (path,) = write_log(log_dir, 10)
    spans = frame_spans(path)
    with path.open("r+b") as f:
        f.truncate(spans[-1][1] + 5)
    log = reopen(log_dir)
    assert log.last_index == 9
    assert log.recovered_bytes == 5
    assert path.stat().st_size == spans[-1][1]
    assert log.read(1, 10) == make_records(1, 9)
    log.append(make_records(10, 1, term=2))
    log.close()
    assert reopen(log_dir).term(10) == 2


@pytest.mark.parametrize("junk", [b"\x00" * 300, b"\xff" * 7, bytes(range(256)) * 3])
def test_junk_after_the_last_record_is_cut(log_dir: Path, junk: bytes) -> None:
    (path,) = write_log(log_dir, 10)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(junk)
    log = reopen(log_dir)
    assert log.last_index == 10
    assert path.stat().st_size == size
    log.close()


@pytest.mark.parametrize("where", [0, 4, 9, 20, 32, 35])  # crc, length, index, term, kind, data
def test_a_flipped_byte_in_the_last_record_is_a_torn_tail(log_dir: Path, where: int) -> None:
    (path,) = write_log(log_dir, 10)
    flip(path, frame_spans(path)[-1][1] + where)
    log = reopen(log_dir)
    assert log.last_index == 9
    log.close()


@pytest.mark.parametrize("where", [0, 5, 9, 20, 35])
def test_a_corrupt_record_followed_by_valid_ones_is_an_error(log_dir: Path, where: int) -> None:
    (path,) = write_log(log_dir, 10)
    start = frame_spans(path)[4][1]
    flip(path, start + where)
    size = path.stat().st_size
    with pytest.raises(CorruptLogError) as caught:
        reopen(log_dir)
    assert caught.value.path == path
    assert caught.value.offset == start
    assert str(path) in str(caught.value)
    assert re.search(rf"byte offset {start}\b", str(caught.value))
    assert path.stat().st_size == size  # nothing cut
    # The directory lock was released: the error is repeatable, not a leak.
    with pytest.raises(CorruptLogError):
        reopen(log_dir)


def test_corruption_in_an_earlier_segment_is_an_error(log_dir: Path) -> None:
    paths = write_log(log_dir, 40, segment_bytes=300)
    first = paths[0]
    last_start = frame_spans(first)[-1][1]
    flip(first, last_start + 30)
    with pytest.raises(CorruptLogError, match="not in the last segment") as caught:
        reopen(log_dir)
    assert (caught.value.path, caught.value.offset) == (first, last_start)


def test_a_valid_record_with_the_wrong_index_is_an_error(log_dir: Path) -> None:
    (path,) = write_log(log_dir, 5)
    buf, _ends = encode_batch(make_records(7, 1))
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(buf)
    with pytest.raises(CorruptLogError, match="index 7, expected 6") as caught:
        reopen(log_dir)
    assert caught.value.offset == size


def test_a_missing_middle_segment_is_an_error(log_dir: Path) -> None:
    paths = write_log(log_dir, 40, segment_bytes=300)
    assert len(paths) >= 3
    paths[1].unlink()
    with pytest.raises(CorruptLogError, match="previous segment ends") as caught:
        reopen(log_dir)
    assert caught.value.path == paths[2]


def test_a_torn_first_record_of_the_last_segment_leaves_it_empty(log_dir: Path) -> None:
    paths = write_log(log_dir, 40, segment_bytes=300)
    last = paths[-1]
    base = int(last.name.removesuffix(".log"))
    with last.open("r+b") as f:
        f.truncate(10)
    log = reopen(log_dir)
    assert log.last_index == base - 1
    log.append(make_records(base, 1, term=3))
    assert log.term(base) == 3
    log.close()


def test_reads_verify_records_damaged_after_open(log_dir: Path) -> None:
    log = reopen(log_dir)
    log.append(make_records(1, 10))
    (path,) = log.segment_paths()
    start = frame_spans(path)[6][1]
    flip(path, start + 40)
    assert log.read(1, 7) == make_records(1, 6)
    with pytest.raises(CorruptLogError, match="record 7 does not verify") as caught:
        log.read(1, 11)
    assert (caught.value.path, caught.value.offset) == (path, start)
    log.close()
