"""The simulated disk: what survives a process crash, a power loss, and a torn write.

Method: a hypothesis-generated sequence of appends, hard-state saves and syncs, then a crash;
what is left must hold everything synced, and only a prefix (possibly torn) of the rest.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.core.types import CompactedError, ConfState, Entry, HardState, UnavailableError
from wiber.sim.disk import SimDisk

CONF = ConfState(("n1", "n2", "n3"))


def entries(first: int, count: int, term: int = 1) -> tuple[Entry, ...]:
    return tuple(Entry(i, term, data=f"{i}".encode()) for i in range(first, first + count))


def test_reads_see_unsynced_writes_like_a_page_cache() -> None:
    disk = SimDisk(CONF)
    disk.append(entries(1, 3))
    disk.save_hard_state(HardState(2, "n1", 1))
    assert disk.last_index() == 3
    assert disk.initial_state() == (HardState(2, "n1", 1), CONF)
    assert disk.unsynced_promise() is not None


def test_a_process_crash_keeps_what_was_written() -> None:
    disk = SimDisk(CONF)
    disk.append(entries(1, 3))
    disk.crash_process()
    assert disk.last_index() == 3
    assert disk.unsynced_promise() is None


def test_a_power_loss_keeps_what_was_synced() -> None:
    disk = SimDisk(CONF)
    disk.append(entries(1, 2))
    disk.save_hard_state(HardState(1, "n2"))
    disk.sync()
    disk.append(entries(3, 5, term=2))
    disk.save_hard_state(HardState(2, "n3"))
    lost = [random.Random(seed) for seed in range(40)]
    outcomes = set()
    for rng in lost:
        copy = SimDisk(CONF)
        copy.current, copy.unsynced = disk.current.copy(), list(disk.unsynced)
        copy._durable = disk.durable.copy()
        copy.crash_power(rng, tear=True)
        assert copy.last_index() >= 2
        assert copy.current.entries[:2] == list(entries(1, 2))
        outcomes.add((copy.last_index(), copy.current.hard_state))
    # Some crashes lose everything unsynced, some keep part, some tear the append.
    assert (2, HardState(1, "n2")) in outcomes
    assert any(2 < last < 7 for last, _ in outcomes)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(1, 4), st.integers(0, 3)),
            st.tuples(st.just("hard-state"), st.integers(1, 9), st.integers(0, 0)),
            st.tuples(st.just("sync"), st.integers(0, 0), st.integers(0, 0)),
        ),
        max_size=30,
    ),
    st.integers(0, 2**32),
    st.booleans(),
)
def test_a_power_loss_leaves_durable_state_plus_an_ordered_prefix(
    writes: list[tuple[str, int, int]], seed: int, tear: bool
) -> None:
    disk = SimDisk(CONF)
    # The log after each write since the last sync, and the append (if any) that followed it.
    states: list[list[Entry]] = [[]]
    nexts: list[tuple[Entry, ...]] = []
    term = 1
    for kind, amount, back in writes:
        if kind == "append":
            first = max(1, disk.last_index() + 1 - back)
            term += 1
            disk.append(entries(first, amount, term))
            nexts.append(entries(first, amount, term))
        elif kind == "hard-state":
            disk.save_hard_state(HardState(amount))
            nexts.append(())
        else:
            disk.sync()
            states, nexts = [], []
        if kind != "sync" or not states:
            states.append(list(disk.current.entries))
    disk.crash_power(random.Random(seed), tear)
    survived = disk.current.entries
    possible = [state for state in states]
    if tear:
        for state, append in zip(states, nexts, strict=False):
            if append:
                kept = [e for e in state if e.index < append[0].index]
                possible += [kept + list(append[:part]) for part in range(1, len(append))]
    assert survived in possible
    assert disk.unsynced_promise() is None


def test_storage_reads_follow_the_log_storage_contract() -> None:
    disk = SimDisk(CONF)
    disk.append(entries(1, 5))
    disk.compact(3, CONF, b"state")
    assert (disk.first_index(), disk.last_index()) == (4, 5)
    assert disk.term(3) == 1
    assert disk.snapshot().data == b"state"
    assert [e.index for e in disk.entries(4, 6)] == [4, 5]
    assert len(disk.entries(4, 6, max_bytes=0)) == 1  # at least one entry, even past the cap
    with pytest.raises(CompactedError):
        disk.term(2)
    with pytest.raises(CompactedError):
        disk.entries(3, 5)
    with pytest.raises(UnavailableError):
        disk.term(6)


def test_an_append_truncates_a_conflicting_suffix() -> None:
    disk = SimDisk(CONF)
    disk.append(entries(1, 5))
    disk.append(entries(3, 1, term=2))
    assert [(e.index, e.term) for e in disk.current.entries] == [(1, 1), (2, 1), (3, 2)]
