"""History reads: positions, pagination limits, retention, and a broken entry reader."""

from __future__ import annotations

import pytest

from tests.broker.helpers import Node, batch
from wiber.broker import CreateTopic, ReadError, message_id
from wiber.invariant import InvariantViolation


def chat() -> Node:
    """Topic `chat`: offsets 0-1 at 10 ms, 2-4 at 20 ms, 5 at 30 ms, in three entries."""
    node = Node()
    node.apply(batch("chat", [b"m0", b"m1"], hlc=10 << 16))
    node.apply(CreateTopic("other"))
    node.apply(batch("chat", [b"m2", b"m3", b"m4"], hlc=20 << 16))
    node.apply(batch("chat", [b"m5"], hlc=30 << 16))
    return node


def offsets(node: Node, **kwargs: int) -> list[int]:
    return [m.offset for m in node.read("chat", **kwargs).messages]


def test_read_from_the_start_returns_every_message_with_its_fields() -> None:
    result = chat().read("chat")
    assert [m.payload for m in result.messages] == [b"m0", b"m1", b"m2", b"m3", b"m4", b"m5"]
    third = result.messages[3]
    assert (third.hlc, third.create_time_ms, third.id) == ((20 << 16) + 1, 1001, "chat/3")
    assert (result.next_offset, result.log_start_offset) == (6, 0)


def test_positions() -> None:
    node = chat()
    assert offsets(node, from_offset=3) == [3, 4, 5]
    assert offsets(node, from_offset=9) == []
    assert node.read("chat", from_offset=9).next_offset == 9
    assert offsets(node, last_n=2) == [4, 5]
    assert offsets(node, last_n=0) == []
    assert offsets(node, last_n=100) == [0, 1, 2, 3, 4, 5]
    assert offsets(node, from_time_ms=0) == [0, 1, 2, 3, 4, 5]
    assert offsets(node, from_time_ms=11) == [2, 3, 4, 5]
    assert offsets(node, from_time_ms=20) == [2, 3, 4, 5]
    assert offsets(node, from_time_ms=30) == [5]
    assert offsets(node, from_time_ms=31) == []


def test_time_lookup_inside_a_batch() -> None:
    # one batch whose HLCs run past a millisecond boundary: 2**16 messages from ms 1
    node = Node()
    node.apply(batch("t", [b""] * ((1 << 16) + 2), hlc=(1 << 16) + 5))
    assert node.read("t", from_time_ms=2).messages[0].offset == (1 << 16) - 5


def test_pages_respect_max_count_and_max_bytes() -> None:
    node = chat()
    assert offsets(node, max_count=4) == [0, 1, 2, 3]
    assert offsets(node, max_count=0) == []
    assert offsets(node, max_bytes=5) == [0, 1]
    assert offsets(node, from_offset=1, max_bytes=6) == [1, 2, 3]
    # a first message larger than max_bytes is still returned, so paging always progresses
    assert offsets(node, max_bytes=0) == [0]


def test_paging_by_next_offset_visits_every_message_once() -> None:
    node = chat()
    seen: list[int] = []
    result = node.read("chat", last_n=5, max_count=2)
    while result.messages:
        seen.extend(m.offset for m in result.messages)
        result = node.read("chat", from_offset=result.next_offset, max_count=2)
    assert seen == [1, 2, 3, 4, 5]
    assert result.next_offset == 6


def test_no_hidden_cap_below_max_count() -> None:
    node = Node()
    for _ in range(2):
        node.apply(batch("t", [b"x"] * 60_000))
    assert len(node.read("t", max_count=120_000).messages) == 120_000


def test_unknown_topic_reads_as_empty() -> None:
    result = chat().read("nope", from_offset=3)
    assert (result.messages, result.next_offset, result.log_start_offset) == ([], 3, 0)


def test_retention_moves_the_log_start_and_reads_begin_there() -> None:
    node = chat()
    node.state.truncate_before(3)  # drops entry 1 (offsets 0-1); entry 2 is not a publish
    del node.log[1]
    assert node.state.log_start_offset("chat") == 2
    assert offsets(node) == [2, 3, 4, 5]
    assert offsets(node, from_offset=0) == [2, 3, 4, 5]
    assert offsets(node, last_n=10) == [2, 3, 4, 5]
    assert offsets(node, from_time_ms=0) == [2, 3, 4, 5]
    assert node.read("chat", from_offset=0).log_start_offset == 2
    node.state.truncate_before(100)
    assert node.state.log_start_offset("chat") == node.state.end_offset("chat") == 6
    assert node.read("chat").messages == []
    # offsets continue after everything was retained away
    node.apply(batch("chat", [b"m6"], hlc=0))
    assert [(m.offset, m.hlc) for m in node.read("chat").messages] == [(6, (30 << 16) + 1)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"from_offset": 1, "last_n": 1},
        {"last_n": 1, "from_time_ms": 1},
        {"from_offset": -1},
        {"last_n": -1},
        {"from_time_ms": -5},
        {"max_count": -1},
        {"max_bytes": -1},
    ],
)
def test_malformed_reads_raise_read_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ReadError):
        chat().read("chat", **kwargs)


def test_an_entry_reader_returning_the_wrong_entry_is_an_invariant_violation() -> None:
    node = chat()
    node.log[3] = node.log[2]  # entry 3 should hold m2..m4; it now holds a CreateTopic
    with pytest.raises(InvariantViolation, match="entry 3"):
        node.read("chat")
    node.log[3] = b"\xc1"
    with pytest.raises(InvariantViolation, match="entry 3"):
        node.read("chat")


def test_message_ids_name_topic_and_offset() -> None:
    assert message_id("chat", 42) == "chat/42"
