"""Snapshots: a restored state behaves like the original; garbage raises only SnapshotError."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.broker.helpers import Node, batch
from wiber.broker import (
    BrokerState,
    CommitOffset,
    CreateTopic,
    PublishBatch,
    Published,
    SnapshotError,
)


def busy() -> Node:
    node = Node()
    node.apply(batch("a", [b"1", b"2"], hlc=7, producer="p", seq=0))
    node.apply(batch("a", [b"3"], hlc=7, producer="p", seq=2))
    node.apply(batch("b", [b"x"], hlc=3))
    node.apply(CreateTopic("empty"))
    node.apply(CommitOffset("g", "a", 2))
    node.noop()
    node.state.truncate_before(2)
    return node


def test_restore_keeps_indexes_offsets_dedup_and_applied_index() -> None:
    node = busy()
    snap = node.state.snapshot()
    node.state = BrokerState.restore(snap)
    assert node.state.snapshot() == snap
    assert node.state.applied_index == 6
    assert node.state.topics() == ["a", "b", "empty"]
    assert node.state.committed_offset("g", "a") == 2
    assert node.state.log_start_offset("a") == 2
    assert [m.payload for m in node.read("a").messages] == [b"3"]
    # the dedup window survived: a retry gets its original offsets
    assert node.apply(batch("a", [b"3"], producer="p", seq=2))[-1] == Published(
        None, "a", (2,), duplicate=True, hlc=node.read("a").messages[0].hlc
    )
    # and so did the HLC floor: a late stamp still gets a larger HLC
    node.apply(batch("a", [b"4"], hlc=0))
    assert [m.hlc for m in node.read("a").messages] == [9, 10]


def test_equal_states_give_equal_bytes() -> None:
    assert busy().state.snapshot() == busy().state.snapshot()
    assert BrokerState().snapshot() == BrokerState.restore(BrokerState().snapshot()).snapshot()


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_snapshot_error(data: bytes) -> None:
    with contextlib.suppress(SnapshotError):
        BrokerState.restore(data)


@given(st.data())
def test_damaged_snapshots_raise_only_snapshot_error(data: st.DataObject) -> None:
    snap = bytearray(busy().state.snapshot())
    for _ in range(data.draw(st.integers(1, 4))):
        snap[data.draw(st.integers(0, len(snap) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(snap)))
    with contextlib.suppress(SnapshotError):
        BrokerState.restore(bytes(snap[:cut]))


def _good() -> list[object]:
    snap: list[object] = msgpack.unpackb(busy().state.snapshot())
    return snap


def _edit(path: tuple[int, ...], value: object) -> bytes:
    snap = _good()
    target: object = snap
    for i in path[:-1]:
        assert isinstance(target, list)
        target = target[i]
    assert isinstance(target, list)
    if path[-1] == len(target):
        target.append(value)  # an extra item, e.g. a second entry for the same key
    else:
        target[path[-1]] = value
    packed: bytes = msgpack.packb(snap, use_bin_type=True)
    return packed


def test_the_edit_helper_leaves_a_good_snapshot_good() -> None:
    BrokerState.restore(_edit((1,), 6))


# Paths into [version, applied, topics, committed, users, acls]; topic "a" is topics[0]:
# [name, end_offset, last_hlc, rows, producers], rows = [first_offset, log_index, first_hlc]*
INCONSISTENT = {
    "version": ((0,), 3),
    "old-version-with-new-fields": ((0,), 1),
    "bad-user-key": ((4,), [["alice", b"s", 1, "not-bytes", b"k"]]),
    "bad-acl-operation": ((5,), [["alice", "delete", "t"]]),
    "non-canonical-acl": ((5,), [["alice", "publish", "t.*"]]),
    "negative-applied": ((1,), -1),
    "bool-applied": ((1,), True),
    "bad-topic-name": ((2, 0, 0), "a b"),
    "duplicate-topic": ((2, 1, 0), "a"),
    "end-before-last-row": ((2, 0, 1), 2),
    "last-hlc-off": ((2, 0, 2), 99),
    "last-hlc-below-minus-one": ((2, 2, 2), -2),
    "rows-not-triples": ((2, 0, 3), [2, 2]),
    "rows-out-of-order": ((2, 0, 3), [2, 2, 9, 1, 1, 8]),
    "producer-next-seq-off": ((2, 0, 4, 0, 1), 7),
    "producer-no-batches": ((2, 0, 4, 0, 2), []),
    "producer-batch-past-end": ((2, 0, 4, 0, 2), [0, 2, 0, 2, 1, 3]),
    "producer-batches-not-consecutive": ((2, 0, 4, 0, 2), [0, 1, 0, 2, 1, 2]),
    "duplicate-producer": ((2, 0, 4, 1), ["p", 3, [2, 1, 2]]),
    "committed-bad-group": ((3, 0, 0), ""),
    "committed-negative": ((3, 0, 2), -3),
    "committed-duplicate": ((3, 1), ["g", "a", 4]),
    "topics-not-array": ((2,), {"a": 1}),
}


@pytest.mark.parametrize(("path", "value"), INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_inconsistent_snapshots_are_refused(path: tuple[int, ...], value: object) -> None:
    with pytest.raises(SnapshotError):
        BrokerState.restore(_edit(path, value))


names = st.sampled_from(["a", "b"])
some_commands = st.lists(
    st.one_of(
        st.builds(
            lambda topic, n, hlc, seq: batch(
                topic, [b"m"] * n, hlc=hlc, producer=None if seq is None else "p", seq=seq
            ),
            names,
            st.integers(1, 3),
            st.integers(0, 50),
            st.none() | st.integers(0, 6),
        ),
        st.builds(lambda t, o: CommitOffset("g", t, o), names, st.integers(0, 9)),
        st.builds(CreateTopic, names),
    ),
    max_size=30,
)


@given(some_commands, st.data())
def test_restoring_midway_ends_in_the_same_state(
    commands: list[PublishBatch | CommitOffset | CreateTopic], data: st.DataObject
) -> None:
    straight, interrupted = Node(), Node()
    cut = data.draw(st.integers(0, len(commands)), label="cut")
    for i, cmd in enumerate(commands):
        if i == cut:
            interrupted.state = BrokerState.restore(interrupted.state.snapshot())
        assert straight.apply(cmd) == interrupted.apply(cmd)
    assert straight.state.snapshot() == interrupted.state.snapshot()
