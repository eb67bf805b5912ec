"""Partition shapes as grudges: for each node, the set of nodes it cannot hear.

A grudge is directional, as an iptables rule on the receiver is: `{"n1": {"n2"}}` means n1
drops what n2 sends but n2 still hears n1. The shapes are Jepsen's (`jepsen.nemesis`):
halves, one isolated node, a bridge node that hears both halves, a ring of overlapping
majorities, and a random asymmetric grudge.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from wiber.core.types import NodeId

Grudge = dict[NodeId, frozenset[NodeId]]


def _between(sides: Sequence[Sequence[NodeId]]) -> Grudge:
    """Every node holds a grudge against every node outside its own side."""
    everyone = {n for side in sides for n in side}
    grudge: dict[NodeId, set[NodeId]] = {n: set() for n in everyone}
    for side in sides:
        for node in side:
            grudge[node] |= everyone - set(side)
    return {n: frozenset(g) for n, g in grudge.items()}


def halves(nodes: Sequence[NodeId], rng: random.Random) -> Grudge:
    shuffled = rng.sample(list(nodes), len(nodes))
    cut = len(shuffled) // 2
    return _between([shuffled[:cut], shuffled[cut:]])


def isolated(nodes: Sequence[NodeId], rng: random.Random) -> Grudge:
    loner = rng.choice(list(nodes))
    return _between([[loner], [n for n in nodes if n != loner]])


def bridge(nodes: Sequence[NodeId], rng: random.Random) -> Grudge:
    """Two halves that cannot hear each other; one node in the middle hears and is heard by all."""
    shuffled = rng.sample(list(nodes), len(nodes))
    middle = shuffled[len(shuffled) // 2]
    rest = [n for n in shuffled if n != middle]
    cut = len(rest) // 2
    grudge = _between([rest[:cut], rest[cut:]])
    grudge[middle] = frozenset()
    return grudge


def majorities_ring(nodes: Sequence[NodeId], rng: random.Random) -> Grudge:
    """Each node hears a majority window of a shuffled ring; no two windows are the same."""
    ring = rng.sample(list(nodes), len(nodes))
    size = len(ring) // 2 + 1
    grudge: Grudge = {}
    for i, node in enumerate(ring):
        window = {ring[(i + k) % len(ring)] for k in range(size)}
        grudge[node] = frozenset(set(ring) - window)
    return grudge


def random_grudge(nodes: Sequence[NodeId], rng: random.Random) -> Grudge:
    """Each directed link fails with probability one half: asymmetric partitions."""
    return {
        dst: frozenset(src for src in nodes if src != dst and rng.random() < 0.5) for dst in nodes
    }


SHAPES: dict[str, Callable[[Sequence[NodeId], random.Random], Grudge]] = {
    "halves": halves,
    "isolated": isolated,
    "bridge": bridge,
    "majorities-ring": majorities_ring,
    "random": random_grudge,
}
