"""Test helpers: records to append, and where their frames sit in a segment file."""

from __future__ import annotations

from pathlib import Path

from wiber.storage import Record
from wiber.storage.record import HEADER, frame_error


def make_records(first: int, count: int, *, term: int = 1, size: int = 10) -> list[Record]:
    return [
        Record(i, term, i % 3, 1000 + i, bytes([i % 251]) * (size + i % 5))
        for i in range(first, first + count)
    ]


def frame_spans(path: Path) -> list[tuple[int, int, int]]:
    """(index, start, end) of each valid frame from the start of the file until a bad one."""
    data = path.read_bytes()
    spans: list[tuple[int, int, int]] = []
    pos = 0
    while pos < len(data) and frame_error(data, pos, len(data)) is None:
        _crc, length, index, *_rest = HEADER.unpack_from(data, pos)
        spans.append((index, pos, pos + 8 + length))
        pos += 8 + length
    return spans
