"""The framed protocol: every frame type round-trips; bad input yields errors, never crashes.

Method: hypothesis generates frames of every message class, encodes them, and feeds the bytes
back whole, split at random places, truncated, corrupted and mixed with garbage. The decoder
may only return frames and `FrameError` values, or raise `CodecError`; anything else escapes
and fails the test. Golden bytes pin the wire layout documented in docs/protocol.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from tests.codec.strategies import (
    MESSAGE_STRATEGIES,
    frames,
    frames_of,
    publish_messages,
    split_points,
    stored_messages,
)
from wiber.codec import CodecError
from wiber.codec import messages as m
from wiber.codec.framed import (
    HEADER,
    MESSAGE_CLASSES,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    encode,
)
from wiber.codec.sniff import MAGIC


def decode_all(
    chunks: list[bytes], decoder: FrameDecoder | None = None
) -> list[Frame | FrameError]:
    decoder = decoder or FrameDecoder()
    out: list[Frame | FrameError] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def raw_frame(ftype: int, request_id: int, payload: bytes) -> bytes:
    return HEADER.pack(5 + len(payload), ftype, request_id) + payload


def test_every_message_class_has_a_strategy() -> None:
    assert set(MESSAGE_STRATEGIES) == set(MESSAGE_CLASSES.values())


# A quarter of the profile's examples per class: 19 classes, and the stream tests below mix
# every class again.
@pytest.mark.parametrize("cls", list(MESSAGE_CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=max(10, settings().max_examples // 4))
@given(data=st.data())
def test_every_frame_type_round_trips(cls: type[m.Message], data: st.DataObject) -> None:
    frame = data.draw(frames_of(cls))
    assert FrameDecoder().feed(encode(frame)) == [frame]


@given(
    st.lists(frames, max_size=6).flatmap(
        lambda fs: st.tuples(st.just(fs), split_points(b"".join(encode(f) for f in fs)))
    )
)
def test_a_stream_split_anywhere_decodes_to_the_same_frames(
    case: tuple[list[Frame], list[bytes]],
) -> None:
    sent, chunks = case
    decoder = FrameDecoder(expect_magic=True)
    assert decode_all([MAGIC, *chunks], decoder) == sent
    assert decoder.buffered == 0


@given(st.lists(frames, min_size=1, max_size=4), st.data())
def test_a_truncated_stream_yields_a_prefix_and_waits_for_the_rest(
    sent: list[Frame], data: st.DataObject
) -> None:
    stream = b"".join(encode(f) for f in sent)
    cut = data.draw(st.integers(0, len(stream)))
    decoder = FrameDecoder()
    head = decoder.feed(stream[:cut])
    assert head == sent[: len(head)]
    assert decoder.buffered == cut - len(b"".join(encode(f) for f in sent[: len(head)]))
    assert head + decoder.feed(stream[cut:]) == sent


def _feed_checked(decoder: FrameDecoder, chunks: list[bytes]) -> None:
    for chunk in chunks:
        try:
            items = decoder.feed(chunk)
        except CodecError:
            return
        assert all(isinstance(item, Frame | FrameError) for item in items)


@given(st.lists(st.binary(max_size=64), max_size=8), st.booleans())
def test_random_garbage_raises_nothing_but_codec_error(chunks: list[bytes], magic: bool) -> None:
    _feed_checked(FrameDecoder(expect_magic=magic, max_frame_bytes=4096), chunks)


@given(frames, st.data())
def test_corrupted_frames_raise_nothing_but_codec_error(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(encode(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(wire) - 1))
        wire[at] = data.draw(st.integers(0, 255))
    _feed_checked(FrameDecoder(max_frame_bytes=4096), [bytes(wire)])


# Payloads that are valid msgpack but not valid messages: the schema must refuse every one.
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(["topic", "messages", "offset", "versions", "members", "code"])


@given(
    st.sampled_from(list(FrameType)),
    st.dictionaries(field_names, msgpack_values, max_size=4) | msgpack_values,
)
def test_wrongly_shaped_payloads_are_refused_as_values(ftype: FrameType, payload: object) -> None:
    wire = raw_frame(ftype, 9, msgpack.packb(payload, use_bin_type=True))
    (item,) = FrameDecoder().feed(wire)
    if isinstance(item, FrameError):
        assert item.request_id == 9
        assert item.code == "bad-request"
    else:  # what the decoder accepts is a valid message, and it round-trips
        assert item.request_id == 9
        assert FrameDecoder().feed(encode(item)) == [item]


@given(frames, st.integers(1, 300))
def test_an_oversized_frame_is_refused_skipped_and_the_next_one_decodes(
    frame: Frame, extra: int
) -> None:
    limit = len(encode(frame)) - 4
    big = raw_frame(FrameType.PUBLISH, 77, b"\xc0" * (limit - 5 + extra))
    wire = big + encode(frame)
    decoder = FrameDecoder(max_frame_bytes=limit)
    out = decode_all([wire[i : i + 7] for i in range(0, len(wire), 7)], decoder)
    text = f"frame body of {limit - 5 + extra + 5} bytes exceeds the limit of {limit}"
    assert out == [FrameError("frame-too-large", text, 77), frame]


def test_encode_refuses_a_frame_over_the_limit() -> None:
    frame = Frame(1, m.Publish("t", [m.PublishMessage(b"x" * 100)]))
    with pytest.raises(CodecError, match="exceeds the limit") as caught:
        encode(frame, max_frame_bytes=50)
    assert caught.value.code == "frame-too-large"


def test_a_frame_shorter_than_its_header_is_refused_and_skipped() -> None:
    ping = Frame(3, m.Ping())
    out = FrameDecoder().feed(b"\x00\x00\x00\x02ab" + encode(ping))
    text = "frame body of 2 bytes is shorter than its 5-byte header"
    assert out == [FrameError("bad-request", text, None), ping]


def test_unknown_frame_type_is_refused_with_its_request_id() -> None:
    (error,) = FrameDecoder().feed(raw_frame(0x42, 5, b"\x80"))
    assert error == FrameError("bad-request", "unknown frame type 0x42", 5)


def test_a_missing_field_is_named_and_unknown_fields_are_ignored() -> None:
    (error,) = FrameDecoder().feed(
        raw_frame(FrameType.FETCH_OFFSET, 4, msgpack.packb({"group": "g"}))
    )
    assert isinstance(error, FrameError)
    assert "lacks the field 'topic'" in error.message
    payload = msgpack.packb({"group": "g", "topic": "t", "future": [1, 2]})
    assert FrameDecoder().feed(raw_frame(FrameType.FETCH_OFFSET, 4, payload)) == [
        Frame(4, m.FetchOffset("g", "t"))
    ]


def test_optional_fields_may_be_left_out() -> None:
    payload = msgpack.packb({"topic": "chat", "last_n": 5})
    (frame,) = FrameDecoder().feed(raw_frame(FrameType.FETCH, 1, payload))
    assert frame == Frame(1, m.Fetch("chat", last_n=5))


def test_a_bad_topic_in_a_frame_is_refused_with_the_reason() -> None:
    payload = msgpack.packb({"topic": "no spaces", "messages": [[b"x", None, None, None]]})
    (error,) = FrameDecoder().feed(raw_frame(FrameType.PUBLISH, 8, payload))
    assert isinstance(error, FrameError)
    assert error.request_id == 8
    assert "topic name 'no spaces' contains ' '" in error.message


def test_non_utf8_text_in_a_frame_is_refused() -> None:
    payload = b"\x82\xa5group\xa1g\xa5topic\xa2\xff\xfe"  # topic: str type holding bad UTF-8
    (error,) = FrameDecoder().feed(raw_frame(FrameType.FETCH_OFFSET, 2, payload))
    assert isinstance(error, FrameError)
    assert "not valid msgpack" in error.message


def test_a_wrong_magic_breaks_the_connection_for_good() -> None:
    decoder = FrameDecoder(expect_magic=True)
    assert decoder.feed(MAGIC[:2]) == []
    with pytest.raises(CodecError, match="magic"):
        decoder.feed(b"XX")
    with pytest.raises(CodecError, match="magic"):
        decoder.feed(encode(Frame(1, m.Ping())))


def test_the_wire_layout_is_pinned() -> None:
    # length 6 = type + request id + msgpack empty map (0x80)
    assert encode(Frame(7, m.Ping())) == b"\x00\x00\x00\x06\x09\x00\x00\x00\x07\x80"
    hello = encode(Frame(1, m.Hello([1], "c1")))
    assert hello[4:9] == b"\x01\x00\x00\x00\x01"
    assert msgpack.unpackb(hello[9:]) == {"versions": [1], "client_id": "c1"}
    publish = encode(Frame(2, m.Publish("t", [m.PublishMessage(b"hi", "p", 0, None)])))
    assert msgpack.unpackb(publish[9:]) == {
        "topic": "t",
        "messages": [[b"hi", "p", 0, None]],
        "acks": "quorum",
        "hlc": None,
    }


def test_request_ids_follow_the_rules() -> None:
    with pytest.raises(CodecError, match="reserved for pushes"):
        Frame(0, m.Ping())
    with pytest.raises(CodecError, match="request id 0"):
        Frame(5, m.Delivery(1, []))
    with pytest.raises(CodecError, match="request_id"):
        Frame(2**32, m.Pong())


def test_a_frame_error_becomes_an_error_reply() -> None:
    reply = FrameError("frame-too-large", "too big", 12).reply()
    assert reply == Frame(12, m.Error("frame-too-large", "too big", definite=True))
    assert FrameDecoder().feed(encode(reply)) == [reply]


def test_text_that_has_no_utf8_form_is_refused_on_encode() -> None:
    with pytest.raises(CodecError, match="UTF-8"):
        encode(Frame(1, m.Hello([1], "\ud800")))


# A frame with a sound header and a body of garbage: unknown type 0x00, or bytes that are not
# a msgpack map.
bad_frames = st.one_of(
    st.binary(max_size=20).map(lambda body: raw_frame(0x00, 5, body)),
    st.binary(max_size=20).map(lambda body: raw_frame(FrameType.PING, 5, b"\xc1" + body)),
)


@given(st.lists(st.tuples(st.booleans(), frames, bad_frames), max_size=6), st.data())
def test_the_decoder_stays_in_step_across_refused_frames(
    items: list[tuple[bool, Frame, bytes]], data: st.DataObject
) -> None:
    stream, expected = b"", []
    for good, frame, bad in items:
        stream += encode(frame) if good else bad
        expected.append(frame if good else 5)
    chunks = data.draw(split_points(MAGIC + stream))
    out = decode_all(chunks, FrameDecoder(expect_magic=True))
    assert [x if isinstance(x, Frame) else x.request_id for x in out] == expected


RECORD_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    **MESSAGE_STRATEGIES,
    m.PublishMessage: publish_messages,
    m.StoredMessage: stored_messages,
}


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (cls, f.name)
        for cls in RECORD_STRATEGIES
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING
    ],
    ids=str,
)
def test_every_optional_field_is_drawn_with_a_non_default_value(cls: type, name: str) -> None:
    # A new field that the strategies leave at its default would round-trip untested.
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    strategy = RECORD_STRATEGIES[cls]
    # Generation only: the first hit is enough, shrinking it would cost seconds per field.
    quick = settings(database=None, phases=[Phase.generate], max_examples=500)
    find(strategy, lambda x: getattr(x, name) != default, settings=quick)


def test_records_without_the_causal_fields_keep_their_short_wire_form() -> None:
    # Older peers send (and understand) 4-field publish and 8-field stored records.
    plain = m.StoredMessage("t", 0, 1, None, None, None, b"x", "n1")
    payload = msgpack.unpackb(encode(Frame(0, m.Delivery(3, [plain])))[9:])
    assert payload["messages"] == [["t", 0, 1, None, None, None, b"x", "n1"]]
    causal = m.StoredMessage("t", 0, 1, None, None, None, b"x", "n1", (("a", 2),), -7, 3)
    payload = msgpack.unpackb(encode(Frame(0, m.Delivery(3, [causal])))[9:])
    assert payload["messages"] == [["t", 0, 1, None, None, None, b"x", "n1", [["a", 2]], -7, 3]]
    publish = encode(Frame(2, m.Publish("t", [m.PublishMessage(b"x", deps=(("a", 2),))])))
    assert msgpack.unpackb(publish[9:])["messages"] == [[b"x", None, None, None, [["a", 2]]]]


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([[b"x", None, None, None, [["a b", 1]]]], "dep topic: topic name 'a b' contains ' '"),
        ([[b"x", None, None, None, [["a", -1]]]], "dep offset of 'a' must be an integer in 0.."),
        ([[b"x", None, None, None, [["a"]]]], "deps must be an array of [topic, offset] arrays"),
        ([[b"x", None, None, None, "a"]], "deps must be an array of [topic, offset] arrays"),
        ([[b"x", None, None, None, [["t", 0]] * 65]], "at most 64 deps, not 65"),
        ([[b"x", None, None]], "must be an array of 4 or 5 fields"),
    ],
)
def test_bad_deps_in_a_frame_are_refused_with_the_reason(
    messages: list[object], reason: str
) -> None:
    payload = msgpack.packb({"topic": "t", "messages": messages})
    (error,) = FrameDecoder().feed(raw_frame(FrameType.PUBLISH, 8, payload))
    assert isinstance(error, FrameError)
    assert reason in error.message
