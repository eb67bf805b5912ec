"""Command encoding: every command round-trips; garbage raises only CommandError."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.broker import (
    CommandError,
    CommitOffset,
    CreateTopic,
    NewMessage,
    Origin,
    PublishBatch,
    decode_command,
    encode_command,
)
from wiber.broker.commands import Command

i64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
text = st.text(max_size=20)
origins = st.none() | st.builds(Origin, text, i64)
# Any text and any int64: decoding checks shapes only; value rules are the apply's business.
deps = st.lists(st.tuples(text, i64), max_size=3).map(tuple)
new_messages = st.builds(
    NewMessage, st.binary(max_size=50), st.none() | text, st.none() | i64, st.none() | i64, deps
)
skews = st.none() | st.tuples(i64, i64)
commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(
        PublishBatch, text, st.lists(new_messages, max_size=5).map(tuple), i64, origins, skews
    ),
    st.builds(CommitOffset, text, text, i64, st.none() | i64, origins),
    st.builds(CreateTopic, text, origins),
)


@given(commands)
def test_every_command_round_trips(cmd: Command) -> None:
    assert decode_command(encode_command(cmd)) == cmd


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_command_error(data: bytes) -> None:
    with contextlib.suppress(CommandError):
        decode_command(data)


@given(commands, st.data())
def test_damaged_encodings_raise_only_command_error(cmd: Command, data: st.DataObject) -> None:
    encoded = bytearray(encode_command(cmd))
    cut = data.draw(st.integers(0, len(encoded)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(encoded) - 1), st.integers(0, 255))))
    for pos, byte in flips:
        encoded[pos] = byte
    with contextlib.suppress(CommandError):
        decode_command(bytes(encoded[:cut]))


# Well-formed msgpack that is not a command: each must be refused by name, not crash.
NOT_COMMANDS = [
    {"kind": 1},
    [],
    [1],
    [3, 3, "t", None],  # a future version
    [True, 3, "t", None],  # a bool where the version belongs
    [2.0, 3, "t", None],  # a float where the version belongs
    [1, 9, "t", None],  # an unknown kind
    [1, 3, "t"],  # too few fields
    [1, 3, b"t", None],  # bytes where text belongs
    [1, 3, "t", ["n1"]],  # a short origin
    [1, 3, "t", ["n1", "1"]],  # a text request number
    [1, 2, "g", "t", True, None, None],  # a bool offset
    [1, 2, "g", "t", 1.5, None, None],  # a float offset
    [1, 1, "t", 0, None, "nope"],  # messages not an array
    [1, 1, "t", 0, None, [["text", None, None, None]]],  # text payload
    [1, 1, "t", 0, None, [[b"x", None, None]]],  # a short message
    [1, 1, "t", 0, None, [[b"x", 7, None, None]]],  # a numeric producer id
    [1, 1, "t", 0, None, [[b"x", None, None, None, []]]],  # deps in a version-1 message
    [2, 1, "t", 0, None, [[b"x", None, None, None]]],  # a version-2 message without deps
    [2, 1, "t", 0, None, [[b"x", None, None, None, None]]],  # nil deps
    [2, 1, "t", 0, None, [[b"x", None, None, None, [["t"]]]], None],  # a short dep
    [2, 1, "t", 0, None, [[b"x", None, None, None, [["t", "1"]]]], None],  # a text dep offset
    [2, 1, "t", 0, None, [[b"x", None, None, None, [[b"t", 1]]]], None],  # a bytes dep topic
    [2, 1, "t", 0, None, [[b"x", None, None, None, []]]],  # no skew field
    [2, 1, "t", 0, None, [[b"x", None, None, None, []]], [1]],  # a short skew
    [2, 1, "t", 0, None, [[b"x", None, None, None, []]], [1, 2.5]],  # a float skew bound
]


@pytest.mark.parametrize("raw", NOT_COMMANDS, ids=repr)
def test_well_formed_msgpack_that_is_not_a_command_is_refused(raw: object) -> None:
    with pytest.raises(CommandError):
        decode_command(msgpack.packb(raw, use_bin_type=True))


def test_invalid_utf8_is_refused() -> None:
    # a msgpack str (0xa1) holding one byte that is not UTF-8
    data = msgpack.packb([1, 3, "t", None], use_bin_type=True).replace(b"\xa1t", b"\xa1\xff")
    with pytest.raises(CommandError):
        decode_command(data)


def test_unencodable_values_raise_command_error() -> None:
    with pytest.raises(CommandError):
        encode_command(CommitOffset("g", "t", 1 << 70))


def test_version_1_publishes_still_decode_without_deps_or_skew() -> None:
    # A log written before causal deps existed must stay readable after an upgrade.
    raw = [1, 1, "t", 7, ["n1", 3], [[b"x", "p", 0, 1000], [b"y", "p", 1, None]]]
    assert decode_command(msgpack.packb(raw, use_bin_type=True)) == PublishBatch(
        "t", (NewMessage(b"x", "p", 0, 1000), NewMessage(b"y", "p", 1, None)), 7, Origin("n1", 3)
    )


def test_deps_and_skew_survive_encoding() -> None:
    cmd = PublishBatch("b", (NewMessage(b"x", deps=(("a", 4), ("c", 0))),), 9, None, (-250, 40))
    decoded = decode_command(encode_command(cmd))
    assert isinstance(decoded, PublishBatch)
    assert decoded.messages[0].deps == (("a", 4), ("c", 0))
    assert decoded.skew_us == (-250, 40)
