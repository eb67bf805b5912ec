"""Lamport and vector clocks: the happened-before laws, checked on random clocks and histories."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.clocks.causal import CausalContext
from wiber.clocks.lamport import LamportClock
from wiber.clocks.vector import EMPTY, Order, VectorClock

keys = st.sampled_from(["a", "b", "c", "d"])
clocks = st.dictionaries(keys, st.integers(0, 4)).map(VectorClock)


def test_lamport_ticks_and_jumps_past_received_values() -> None:
    clock = LamportClock()
    assert (clock.tick(), clock.tick()) == (1, 2)
    assert clock.observe(10) == 11
    assert clock.observe(3) == 12
    assert clock.value == 12
    with pytest.raises(ValueError, match="negative"):
        clock.observe(-1)
    with pytest.raises(ValueError, match="starts at 0"):
        LamportClock(-1)


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()), max_size=40))
def test_lamport_and_vector_clocks_agree_with_happened_before(
    events: list[tuple[int, int, bool]],
) -> None:
    """Three processes send and receive; each event records both clocks. For every pair of
    events, vector order BEFORE must match reachability, and Lamport must respect it."""
    lamports = [LamportClock() for _ in range(3)]
    vectors = [EMPTY, EMPTY, EMPTY]
    history: list[tuple[int, VectorClock]] = []
    for sender, receiver, deliver in events:
        vectors[sender] = vectors[sender].increment(f"p{sender}")
        history.append((lamports[sender].tick(), vectors[sender]))
        if deliver and receiver != sender:
            sent_l, sent_v = history[-1]
            vectors[receiver] = vectors[receiver].merge(sent_v).increment(f"p{receiver}")
            history.append((lamports[receiver].observe(sent_l), vectors[receiver]))
    for lamport_a, vector_a in history:
        for lamport_b, vector_b in history:
            if vector_a.compare(vector_b) is Order.BEFORE:
                assert lamport_a < lamport_b


def test_vector_clock_basics() -> None:
    clock = VectorClock({"a": 2, "b": 0})
    assert dict(clock) == {"a": 2}  # zero entries are not stored
    assert clock == VectorClock([("a", 2)])
    assert clock.get_count("z") == 0
    assert clock.increment("b").increment("a", 3) == VectorClock({"a": 5, "b": 1})
    assert clock.advance("a", 1) is clock  # advance never lowers
    assert VectorClock({"t1": 5, "t2": 1}).deps() == (("t1", 4), ("t2", 0))
    assert repr(clock) == "VectorClock({'a': 2})"
    with pytest.raises(ValueError, match="negative"):
        VectorClock({"a": -1})
    with pytest.raises(ValueError, match="backwards"):
        clock.increment("a", -1)


def test_compare_names_all_four_relations() -> None:
    a = VectorClock({"x": 1})
    b = VectorClock({"x": 1, "y": 1})
    c = VectorClock({"y": 2})
    assert a.compare(b) is Order.BEFORE
    assert b.compare(a) is Order.AFTER
    assert a.compare(VectorClock({"x": 1})) is Order.EQUAL
    assert b.compare(c) is Order.CONCURRENT


@given(clocks)
def test_dominates_is_reflexive(a: VectorClock) -> None:
    assert a.dominates(a)
    assert a.compare(a) is Order.EQUAL


@given(clocks, clocks)
def test_dominates_is_antisymmetric_and_compare_is_consistent(
    a: VectorClock, b: VectorClock
) -> None:
    if a.dominates(b) and b.dominates(a):
        assert a == b
        assert hash(a) == hash(b)
    flipped = {Order.BEFORE: Order.AFTER, Order.AFTER: Order.BEFORE}
    assert b.compare(a) is flipped.get(a.compare(b), a.compare(b))


@given(clocks, clocks, clocks)
def test_dominates_is_transitive(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    if a.dominates(b) and b.dominates(c):
        assert a.dominates(c)


@given(clocks, clocks, clocks)
def test_merge_is_the_least_upper_bound(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    joined = a.merge(b)
    assert joined == b.merge(a)
    assert a.merge(a) == a
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert joined.dominates(a)
    assert joined.dominates(b)
    if c.dominates(a) and c.dominates(b):
        assert c.dominates(joined)


@given(clocks, keys)
def test_increment_moves_strictly_after(a: VectorClock, key: str) -> None:
    assert a.compare(a.increment(key)) is Order.BEFORE


def test_causal_context_turns_what_was_seen_into_deps() -> None:
    context = CausalContext()
    assert context.deps() == ()
    context.observed("orders", 41)
    context.observed("orders", 7)  # older than what was seen: implied, not a new dep
    context.published("invoices", 3)
    assert context.deps() == (("invoices", 3), ("orders", 41))
    context.merge(VectorClock({"audit": 1}))
    assert context.clock == VectorClock({"audit": 1, "invoices": 4, "orders": 42})
    with pytest.raises(ValueError, match="negative"):
        context.observed("orders", -1)


def test_a_consumed_message_brings_its_own_causes_into_the_context() -> None:
    context = CausalContext()
    context.observed("orders", 2)
    context.observed_message("invoices", 5, (("orders", 9), ("audit", 0)))
    assert context.deps() == (("audit", 0), ("invoices", 5), ("orders", 9))
    context.observed_message("invoices", 1, (("orders", 3),))  # all already in the past
    assert context.deps() == (("audit", 0), ("invoices", 5), ("orders", 9))
