"""The simulated network and the partition shapes (grudges)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.core.types import Message, MessageType
from wiber.invariant import InvariantViolation
from wiber.sim.events import EventQueue
from wiber.sim.grudges import SHAPES, bridge, halves, isolated, majorities_ring
from wiber.sim.network import Network

NODES = [f"n{i}" for i in range(1, 6)]


def hears(grudge: dict[str, frozenset[str]], dst: str, src: str) -> bool:
    return src not in grudge.get(dst, frozenset())


@given(st.integers(3, 7), st.integers(0, 2**32))
def test_every_shape_names_only_cluster_nodes_and_never_self(count: int, seed: int) -> None:
    nodes = [f"n{i}" for i in range(1, count + 1)]
    for shape in SHAPES.values():
        grudge = shape(nodes, random.Random(seed))
        assert all(dst in nodes and src in nodes and src != dst
                   for dst, g in grudge.items() for src in g)  # fmt: skip


@given(st.integers(3, 7), st.integers(0, 2**32))
def test_halves_cut_the_cluster_in_two_symmetric_sides(count: int, seed: int) -> None:
    nodes = [f"n{i}" for i in range(1, count + 1)]
    grudge = halves(nodes, random.Random(seed))
    for a in nodes:
        for b in nodes:
            assert hears(grudge, a, b) == hears(grudge, b, a)
    sides = {frozenset(n for n in nodes if hears(grudge, a, n)) for a in nodes}
    assert len(sides) == 2
    assert sum(map(len, sides)) == count


@given(st.integers(3, 7), st.integers(0, 2**32))
def test_majorities_ring_lets_each_node_hear_a_different_majority(count: int, seed: int) -> None:
    nodes = [f"n{i}" for i in range(1, count + 1)]
    grudge = majorities_ring(nodes, random.Random(seed))
    heard = [frozenset(n for n in nodes if hears(grudge, a, n)) for a in nodes]
    assert all(len(h) > count // 2 for h in heard)
    assert len(set(heard)) == count


def test_bridge_node_hears_both_halves_which_cannot_hear_each_other() -> None:
    grudge = bridge(NODES, random.Random(3))
    middle = [n for n in NODES if not grudge[n] and all(hears(grudge, m, n) for m in NODES)]
    assert len(middle) == 1
    rest = [n for n in NODES if n != middle[0]]
    assert any(not hears(grudge, a, b) for a in rest for b in rest)


def test_isolated_node_hears_nobody_and_nobody_hears_it() -> None:
    grudge = isolated(NODES, random.Random(1))
    loner = next(n for n in NODES if len(grudge[n]) == len(NODES) - 1)
    assert all(not hears(grudge, n, loner) for n in NODES if n != loner)


def make_network(seed: int = 0) -> tuple[EventQueue, Network, list[Message]]:
    queue = EventQueue()
    delivered: list[Message] = []
    return queue, Network(queue, random.Random(seed), delivered.append), delivered


def drain(queue: EventQueue) -> None:
    while len(queue):
        queue.run_next()


def beat(i: int, src: str = "n1", dst: str = "n2") -> Message:
    return Message(MessageType.HEARTBEAT, src, dst, term=1, commit=i)


def test_messages_arrive_after_a_latency_and_may_reorder() -> None:
    queue, network, delivered = make_network()
    network.faults.reorder_us = 50_000
    for i in range(50):
        network.send(beat(i))
    drain(queue)
    assert sorted(m.commit for m in delivered) == list(range(50))
    assert [m.commit for m in delivered] != list(range(50))
    assert queue.now_us >= 500


def test_loss_duplication_and_grudges_drop_or_copy_messages() -> None:
    queue, network, delivered = make_network()
    network.faults.loss = 1.0
    network.send(beat(0))
    network.faults.loss, network.faults.duplicate = 0.0, 1.0
    network.send(beat(1))
    drain(queue)  # a grudge applies when a message arrives, so let these arrive first
    network.faults.duplicate = 0.0
    network.grudge = {"n2": frozenset({"n1"})}
    network.send(beat(2))
    network.send(beat(3, src="n2", dst="n1"))  # the grudge is one way
    drain(queue)
    assert sorted(m.commit for m in delivered) == [1, 1, 3]
    assert network.stats.dropped == 2
    assert network.stats.duplicated == 1


def test_the_event_queue_breaks_ties_in_scheduling_order() -> None:
    queue = EventQueue()
    order: list[int] = []
    for i in range(5):
        queue.at(10, lambda i=i: order.append(i))  # type: ignore[misc]
    queue.at(5, lambda: order.append(-1))
    drain(queue)
    assert order == [-1, 0, 1, 2, 3, 4]
    with pytest.raises(InvariantViolation):
        queue.at(1, lambda: None)
