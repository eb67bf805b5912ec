"""The peer protocol round-trips every Raft message; garbage only ever raises CodecError."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.codec import CodecError
from wiber.codec.peer import (
    Envelope,
    PeerDecoder,
    decode_body,
    encode_hello,
    encode_message,
)
from wiber.core.types import ConfState, Entry, EntryKind, Message, MessageType, Snapshot

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
uints = st.integers(min_value=0, max_value=(1 << 64) - 1)
entries = st.builds(Entry, uints, uints, st.sampled_from(list(EntryKind)), st.binary(max_size=64))
snapshots = st.builds(
    Snapshot,
    uints,
    uints,
    st.builds(ConfState, st.tuples(ids, ids), st.tuples(ids)),
    st.binary(max_size=64),
)
messages = st.builds(
    Message,
    type=st.sampled_from(list(MessageType)),
    src=ids,
    dst=ids,
    term=uints,
    index=uints,
    log_term=uints,
    entries=st.lists(entries, max_size=4).map(tuple),
    commit=uints,
    reject=st.booleans(),
    reject_hint=uints,
    hint_term=uints,
    snapshot=st.none() | snapshots,
    context=st.binary(max_size=16),
)


@given(
    st.lists(st.tuples(messages, st.none() | uints), min_size=1, max_size=5),
    st.integers(min_value=1, max_value=64),
)
def test_messages_round_trip_through_any_split(
    msgs: list[tuple[Message, int | None]], chunk: int
) -> None:
    stream = encode_hello("n1") + b"".join(encode_message(x, hlc) for x, hlc in msgs)
    decoder = PeerDecoder()
    bodies = []
    for i in range(0, len(stream), chunk):
        bodies += decoder.feed(stream[i : i + chunk])
    assert decode_body(bodies[0]) == "n1"
    assert [decode_body(b) for b in bodies[1:]] == [Envelope(x, hlc) for x, hlc in msgs]


def test_a_sender_clock_that_is_not_an_unsigned_integer_is_refused() -> None:
    fields = ["n1", "n2", 5, 0, 0, 0, False, 0, 0, b"", [], None]
    assert decode_body(msgpack.packb([1, "append", *fields], use_bin_type=True)) == Envelope(
        Message(MessageType.APPEND, "n1", "n2", 5)
    )
    with pytest.raises(CodecError, match="hlc must be an unsigned integer"):
        decode_body(msgpack.packb([1, "append", *fields, -3], use_bin_type=True))


@given(st.binary(max_size=200))
def test_garbage_bodies_raise_only_codec_error(body: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_body(body)


@given(
    st.lists(st.integers(min_value=-5, max_value=5) | st.text(max_size=3) | st.none(), max_size=16)
)
def test_wrongly_typed_fields_raise_only_codec_error(fields: list[object]) -> None:
    with contextlib.suppress(CodecError):
        decode_body(msgpack.packb([1, "append", *fields]))


def test_a_term_of_the_wrong_type_is_refused_by_name() -> None:
    body = msgpack.packb(
        [1, "append", "n1", "n2", "five", 0, 0, 0, False, 0, 0, b"", [], None], use_bin_type=True
    )
    with pytest.raises(CodecError, match="term must be an unsigned integer"):
        decode_body(body)


def test_a_huge_length_prefix_breaks_the_stream() -> None:
    with pytest.raises(CodecError, match="peer frame of"):
        PeerDecoder(max_frame=1024).feed(b"\xff\xff\xff\xf0rest")
