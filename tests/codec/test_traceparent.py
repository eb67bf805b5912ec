"""The optional W3C trace context of `Publish` and of stored messages on the wire."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.codec.strategies import traceparents
from wiber.codec import CodecError
from wiber.codec import messages as m
from wiber.codec.framed import HEADER, Frame, FrameDecoder, FrameError, FrameType, encode

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def raw_frame(ftype: int, request_id: int, payload: bytes) -> bytes:
    return HEADER.pack(5 + len(payload), ftype, request_id) + payload


def test_an_untraced_publish_is_the_same_bytes_as_before_the_field() -> None:
    publish = m.Publish("t", [m.PublishMessage(b"x", "p", 3, 9)], "quorum", 77)
    # The payload as version 1 always encoded it: four keys, in field order.
    before = {"topic": "t", "messages": [[b"x", "p", 3, 9]], "acks": "quorum", "hlc": 77}
    body = bytes([FrameType.PUBLISH]) + (5).to_bytes(4, "big") + msgpack.packb(before)
    assert encode(Frame(5, publish)) == len(body).to_bytes(4, "big") + body


def test_a_traced_publish_carries_its_traceparent_and_decodes_back() -> None:
    publish = m.Publish("t", [m.PublishMessage(b"x")], traceparent=TP)
    data = encode(Frame(5, publish))
    assert msgpack.unpackb(data[9:])["traceparent"] == TP
    (frame,) = FrameDecoder().feed(data)
    assert isinstance(frame, Frame)
    assert frame.message == publish


def test_a_publish_from_a_build_without_the_field_decodes_untraced() -> None:
    payload = msgpack.packb({"topic": "t", "messages": [[b"x", None, None, None]]})
    (frame,) = FrameDecoder().feed(raw_frame(FrameType.PUBLISH, 3, payload))
    assert isinstance(frame, Frame)
    assert isinstance(frame.message, m.Publish)
    assert frame.message.traceparent is None


BAD = [
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  # 54 characters
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # a version we do not speak
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
    "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",  # wrong separator
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
    "",
    7,
    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # bytes, not text
]


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_a_malformed_traceparent_is_a_bad_request_not_a_crash(value: object) -> None:
    payload = msgpack.packb(
        {"topic": "t", "messages": [[b"x", None, None, None]], "traceparent": value}
    )
    (error,) = FrameDecoder().feed(raw_frame(FrameType.PUBLISH, 9, payload))
    assert isinstance(error, FrameError)
    assert (error.code, error.request_id) == (m.ErrorCode.BAD_REQUEST, 9)
    assert "traceparent" in error.message
    with pytest.raises(CodecError, match="traceparent"):
        m.Publish("t", [m.PublishMessage(b"x")], traceparent=value)  # type: ignore[arg-type]


# msgpack can carry integers from -2**63 to 2**64 - 1 only.
@given(st.text(max_size=60) | st.binary(max_size=60) | st.integers(-(2**63), 2**64 - 1))
def test_any_traceparent_value_decodes_or_is_refused(value: object) -> None:
    payload = msgpack.packb(
        {"topic": "t", "messages": [[b"x", None, None, None]], "traceparent": value}
    )
    (result,) = FrameDecoder().feed(raw_frame(FrameType.PUBLISH, 1, payload))
    if m.is_traceparent(value):
        assert isinstance(result, Frame)
    else:
        assert isinstance(result, FrameError)


@given(traceparents)
def test_every_drawn_traceparent_is_valid_and_round_trips_in_a_delivery(tp: str) -> None:
    assert m.is_traceparent(tp)
    stored = m.StoredMessage("t", 1, 2, None, None, None, b"x", "n1", traceparent=tp)
    (frame,) = FrameDecoder().feed(encode(Frame(0, m.Delivery(1, [stored]))))
    assert isinstance(frame, Frame)
    assert frame.message == m.Delivery(1, [stored])


def test_a_traced_stored_message_takes_the_long_form_and_untraced_ones_keep_theirs() -> None:
    traced = m.StoredMessage("t", 0, 1, None, None, None, b"x", "n1", traceparent=TP)
    plain = m.StoredMessage("t", 1, 2, None, None, None, b"y", "n1")
    payload = msgpack.unpackb(encode(Frame(0, m.Delivery(3, [traced, plain])))[9:])
    assert payload["messages"] == [
        ["t", 0, 1, None, None, None, b"x", "n1", [], None, None, TP],
        ["t", 1, 2, None, None, None, b"y", "n1"],
    ]


def test_a_stored_message_with_a_bad_traceparent_is_refused() -> None:
    row = ["t", 0, 1, None, None, None, b"x", "n1", [], None, None, "00-zz"]
    payload = msgpack.packb({"messages": [row], "next_offset": 1, "log_start_offset": 0})
    (error,) = FrameDecoder().feed(raw_frame(FrameType.FETCH_OK, 4, payload))
    assert isinstance(error, FrameError)
    assert "traceparent" in error.message
