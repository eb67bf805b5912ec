"""A batch's trace context: stored in the replicated command only when there is one, old
entries unchanged, returned by reads with every message of the batch."""

from __future__ import annotations

import msgpack
import pytest

from tests.broker.helpers import Node
from wiber.broker import (
    Code,
    CommitOffset,
    NewMessage,
    PublishBatch,
    Rejected,
    decode_command,
    encode_command,
)
from wiber.broker.commands import CommandError, decode_entry, traceparent_of

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_an_untraced_batch_is_encoded_exactly_as_before() -> None:
    batch = PublishBatch("t", (NewMessage(b"x", "p", 0, 5),), 9, None, (3, 4))
    before = msgpack.packb([2, 1, "t", 9, None, [[b"x", "p", 0, 5, []]], [3, 4]])
    assert encode_command(batch) == before


def test_a_traced_batch_round_trips() -> None:
    batch = PublishBatch("t", (NewMessage(b"x"),), 9, None, None, TP)
    data = encode_command(batch)
    assert msgpack.unpackb(data)[-1] == TP
    assert decode_command(data) == batch
    assert traceparent_of(data) == TP


def test_entries_written_before_the_field_still_decode_untraced() -> None:
    v2 = msgpack.packb([2, 1, "t", 9, ["n1", 4], [[b"x", None, None, None, []]], None])
    v1 = msgpack.packb([1, 1, "t", 9, None, [[b"x", None, None, None]]])
    for old in (v2, v1):
        cmd = decode_command(old)
        assert isinstance(cmd, PublishBatch)
        assert cmd.traceparent is None
        assert traceparent_of(old) is None


@pytest.mark.parametrize("bad", ["00-abc", 5, b"x", TP.upper()], ids=repr)
def test_a_malformed_stored_traceparent_is_refused_when_applied(bad: object) -> None:
    data = msgpack.packb([2, 1, "t", 9, None, [[b"x", None, None, None, []]], None, bad])
    with pytest.raises(CommandError, match="traceparent"):
        decode_entry(data)
    (effect,) = Node().apply(data)
    assert isinstance(effect, Rejected)
    assert effect.code == Code.INVALID_COMMAND
    assert traceparent_of(data) is None


def test_reads_return_the_batch_traceparent_with_every_message() -> None:
    node = Node()
    node.apply(PublishBatch("t", (NewMessage(b"a"), NewMessage(b"b")), 1 << 16, None, None, TP))
    node.apply(PublishBatch("t", (NewMessage(b"c"),), 2 << 16))
    assert [x.traceparent for x in node.read("t").messages] == [TP, TP, None]


def test_traceparent_of_other_commands_and_garbage_is_none() -> None:
    assert traceparent_of(encode_command(CommitOffset("g", "t", 1))) is None
    assert traceparent_of(b"\xc1garbage") is None
