"""Causal deps and skew metadata: stored with each message, returned by reads, validated.

Also the time index under a leader whose clock is behind: per-topic HLCs stay strictly
increasing, and `from_time_ms` lands on the first message stamped at or after that time.
"""

from __future__ import annotations

import itertools

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.broker.helpers import Node
from wiber.broker import Code, NewMessage, Origin, PublishBatch, Published, Rejected

ORIGIN = Origin("n1", 1)


def test_deps_and_skew_are_returned_by_reads() -> None:
    node = Node()
    node.apply(PublishBatch("a", (NewMessage(b"cause"),), 5 << 16, None, (1200, 300)))
    effect = NewMessage(b"effect", deps=(("a", 0), ("c", 7)))
    node.apply(PublishBatch("b", (effect, NewMessage(b"plain")), 6 << 16))
    (cause,) = node.read("a").messages
    assert (cause.deps, cause.skew_offset_us, cause.skew_error_us) == ((), 1200, 300)
    first, second = node.read("b").messages
    assert first.deps == (("a", 0), ("c", 7))
    assert second.deps == ()
    assert (first.skew_offset_us, first.skew_error_us) == (None, None)


def test_every_message_of_a_batch_carries_the_batch_skew() -> None:
    node = Node()
    node.apply(PublishBatch("a", (NewMessage(b"x"), NewMessage(b"y")), 0, None, (-40, 5)))
    assert [(m.skew_offset_us, m.skew_error_us) for m in node.read("a").messages] == [(-40, 5)] * 2


def test_sixty_four_deps_are_accepted() -> None:
    deps = tuple((f"t{i}", i) for i in range(64))
    node = Node()
    node.apply(PublishBatch("a", (NewMessage(b"x", deps=deps),), 0, ORIGIN))
    assert node.read("a").messages[0].deps == deps


@pytest.mark.parametrize(
    ("deps", "skew", "reason"),
    [
        (tuple(("t", i) for i in range(65)), None, "at most 64 deps, not 65"),
        ((("a b", 0),), None, "dep topic: topic name 'a b' contains ' '"),
        ((("..", 0),), None, "dep topic"),
        ((("t", -1),), None, "dep offset of 't' must be an integer in 0.."),
        ((("t", 1 << 63),), None, "dep offset of 't' must be an integer in 0.."),
        ((), (0, -1), "skew (0, -1) out of range"),
    ],
)
def test_malformed_deps_and_skew_are_refused_by_name(
    deps: tuple[tuple[str, int], ...], skew: tuple[int, int] | None, reason: str
) -> None:
    node = Node()
    effects = node.apply(PublishBatch("fresh", (NewMessage(b"x", deps=deps),), 0, ORIGIN, skew))
    assert len(effects) == 1
    (rejected,) = effects
    assert isinstance(rejected, Rejected)
    assert (rejected.code, rejected.definite) == (Code.INVALID_COMMAND, True)
    assert reason in rejected.message
    assert node.state.topics() == []  # a refused batch leaves no trace, not even its topic


def test_seek_by_time_when_a_slower_leader_stamps_earlier_times() -> None:
    # n1 leads at 50 ms; n2, whose clock is 20 ms behind, takes over and stamps 31 ms, 32 ms;
    # n1 returns at 60 ms. The broker lifts n2's stamps above n1's, so HLCs never go back.
    node = Node()
    for ms, payloads in ((50, [b"a0", b"a1"]), (31, [b"b2"]), (32, [b"b3", b"b4"]), (60, [b"c5"])):
        node.apply(PublishBatch("t", tuple(map(NewMessage, payloads)), ms << 16))
    messages = node.read("t").messages
    hlcs = [m.hlc for m in messages]
    assert hlcs == sorted(set(hlcs))
    assert hlcs[:5] == [(50 << 16) + i for i in range(5)]

    def seek(ms: int) -> int:
        return node.read("t", from_time_ms=ms).messages[0].offset

    # Kafka's max-so-far rule: the slow leader's messages count as at 50 ms, not 31 or 32.
    assert seek(0) == seek(31) == seek(32) == seek(50) == 0
    assert seek(51) == seek(60) == 5
    assert node.read("t", from_time_ms=61).messages == []


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 3)), min_size=1, max_size=12))
def test_seek_by_time_lands_on_the_first_message_at_or_after_it(
    batches: list[tuple[int, int]],
) -> None:
    """Stamps in any order (clocks stepping back); every seek matches a scan of the log."""
    node = Node()
    for ms, count in batches:
        node.apply(PublishBatch("t", (NewMessage(b""),) * count, ms << 16))
    messages = node.read("t").messages
    stamps = [ms << 16 for ms, count in batches for _ in range(count)]
    hlcs = [m.hlc for m in messages]
    assert all(a < b for a, b in itertools.pairwise(hlcs))
    # never earlier than any stamp seen so far: the max-so-far rule
    assert all(h >= max(stamps[: i + 1]) for i, h in enumerate(hlcs))
    for ms in range(0, 44):
        found = [m.offset for m in node.read("t", from_time_ms=ms).messages]
        expected = [m.offset for m in messages if m.hlc >= ms << 16]
        assert found == expected, ms
        if found:
            # everything before the landing offset is strictly earlier than the sought time
            assert all(m.hlc < ms << 16 for m in messages[: found[0]])


def test_a_published_batch_with_deps_reports_its_offsets() -> None:
    node = Node()
    effects = node.apply(PublishBatch("a", (NewMessage(b"x", deps=(("b", 3),)),), 0, ORIGIN))
    assert Published(ORIGIN, "a", (0,), hlc=0) in effects


def test_entries_of_format_version_1_still_apply_and_read() -> None:
    # A log written before deps existed: upgraded nodes must replay it unchanged.
    old = [1, 1, "t", 7 << 16, None, [[b"x", "p", 0, 1000], [b"y", "p", 1, None]]]
    node = Node()
    node.apply(msgpack.packb(old, use_bin_type=True))
    x, y = node.read("t").messages
    assert (x.payload, x.seq, x.create_time_ms, x.deps, x.skew_offset_us) == (
        b"x",
        0,
        1000,
        (),
        None,
    )
    assert (y.payload, y.hlc) == (b"y", (7 << 16) + 1)
