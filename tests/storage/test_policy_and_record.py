"""FsyncPolicy parsing, and the record frame: encode/decode round trips and CRC coverage of
every byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.storage import FsyncPolicy, Record
from wiber.storage.record import HEADER_SIZE, decode_at, encode_batch, frame_error

records = st.builds(
    Record,
    index=st.integers(0, 2**64 - 1),
    term=st.integers(0, 2**64 - 1),
    kind=st.integers(0, 255),
    timestamp=st.integers(-(2**63), 2**63 - 1),
    payload=st.binary(max_size=100),
)


@pytest.mark.parametrize("text", ["always", "group", "never", "interval:5", "interval:1000"])
def test_fsync_policy_round_trips(text: str) -> None:
    policy = FsyncPolicy.parse(text)
    assert str(policy) == text
    assert FsyncPolicy.parse(str(policy)) == policy


def test_fsync_policy_fields() -> None:
    assert FsyncPolicy.parse("interval:20").interval_ms == 20
    assert FsyncPolicy.parse(" Group ").mode == "group"
    assert FsyncPolicy.parse("always").syncs_each_append
    assert not FsyncPolicy.parse("never").fsyncs


@pytest.mark.parametrize("text", ["", "sometimes", "interval", "interval:", "interval:0", "i:5"])
def test_fsync_policy_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="bad fsync policy"):
        FsyncPolicy.parse(text)


@given(batch=st.lists(records, max_size=5))
def test_frames_round_trip(batch: list[Record]) -> None:
    buf, ends = encode_batch(batch)
    assert len(buf) == sum(r.frame_size() for r in batch)
    pos = 0
    for record, end in zip(batch, ends, strict=True):
        assert frame_error(buf, pos, len(buf)) is None
        decoded, pos = decode_at(buf, pos)
        assert (decoded, pos) == (record, end)


@given(record=records, data=st.data())
def test_any_flipped_byte_is_caught(record: Record, data: st.DataObject) -> None:
    buf, _ends = encode_batch([record])
    at = data.draw(st.integers(0, len(buf) - 1))
    buf[at] ^= data.draw(st.integers(1, 255))
    assert frame_error(buf, 0, len(buf)) is not None


def test_a_short_frame_is_caught() -> None:
    buf, _ends = encode_batch([Record(1, 1, 0, 0, b"abc")])
    assert frame_error(buf, 0, HEADER_SIZE - 1) is not None
    assert frame_error(buf, 0, len(buf) - 1) is not None
