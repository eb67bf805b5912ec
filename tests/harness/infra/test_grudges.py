from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from harness import net
from harness.nemesis.base import sample

names_st = st.integers(min_value=2, max_value=9).map(lambda n: [f"n{i}" for i in range(1, n + 1)])
seeds = st.integers(min_value=0, max_value=2**32)


def components(grudge: net.Grudge) -> list[set[str]]:
    """Groups of nodes that all reach each other (for grudges made of clean components)."""
    groups: list[set[str]] = []
    for node in sorted(grudge):
        for group in groups:
            if all(net.reachable(grudge, node, other) for other in group):
                group.add(node)
                break
        else:
            groups.append({node})
    return groups


@given(names_st, seeds)
def test_halves_split_cleanly_smaller_half_first(names: list[str], seed: int) -> None:
    grudge = net.halves(names, random.Random(seed))
    sizes = sorted(len(g) for g in components(grudge))
    assert sizes == sorted([len(names) // 2, len(names) - len(names) // 2])
    for node, others in grudge.items():
        assert node not in others


@given(names_st, seeds)
def test_isolate_cuts_exactly_one_node(names: list[str], seed: int) -> None:
    target = random.Random(seed).choice(names)
    grudge = net.isolate(names, target)
    for other in names:
        if other != target:
            assert not net.reachable(grudge, target, other)
            assert all(net.reachable(grudge, other, o) for o in names if o != target)


@given(st.integers(min_value=3, max_value=9), seeds)
def test_bridge_node_sees_both_halves_which_do_not_see_each_other(count: int, seed: int) -> None:
    names = [f"n{i}" for i in range(1, count + 1)]
    grudge = net.bridge(names, random.Random(seed))
    middle = [n for n in names if all(net.reachable(grudge, n, o) for o in names)]
    assert len(middle) == 1
    rest = [n for n in names if n != middle[0]]
    cut = sum(1 for a in rest for b in rest if a < b and not net.reachable(grudge, a, b))
    assert cut > 0


@given(st.integers(min_value=3, max_value=9), seeds)
def test_majorities_ring_every_node_sees_a_distinct_majority(count: int, seed: int) -> None:
    names = [f"n{i}" for i in range(1, count + 1)]
    grudge = net.majorities_ring(names, random.Random(seed))
    views = [frozenset(set(names) - grudge[n]) for n in names]
    assert all(len(v) >= count // 2 + 1 for v in views)
    assert all(n in v for n, v in zip(names, views, strict=True))
    assert len(set(views)) == count


def test_complete_grudge_of_one_component_drops_nothing() -> None:
    assert net.complete_grudge([["a", "b", "c"]]) == {"a": set(), "b": set(), "c": set()}


@given(names_st, seeds)
def test_target_specs_pick_the_right_number_of_distinct_nodes(names: list[str], seed: int) -> None:
    rng = random.Random(seed)
    count = len(names)
    assert len(sample(names, "one", rng)) == 1
    assert len(sample(names, "all", rng)) == count
    majority = sample(names, "majority", rng)
    assert len(majority) == count // 2 + 1 == len(set(majority))
    assert len(sample(names, "minority", rng)) == max(1, (count - 1) // 2)
