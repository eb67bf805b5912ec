"""Dependency graphs of calls and the cycle anomalies in them (Elle's G0 / G1c families).

Edges carry a kind: `ww` (write order), `wr` (a read observed a write), `process` (program
order of one process) and `realtime` (one call completed before the other began). A cycle
class allows some kinds and must use one particular kind, so that each cycle is reported under
the most specific name: G0 uses only ww, G1c needs a wr edge, the `-process` and `-realtime`
variants need an edge of that kind (Elle's naming). The search: strongly connected components
with networkx, then, inside a component, for each edge of the required kind, the shortest path
back: the first one found is the witness, a shortest cycle through that edge.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

WW, WR, PROCESS, REALTIME = "ww", "wr", "process", "realtime"
_MAX_TRIES = 64  # edges tried per component before giving up on a class there
_GAVE_UP: list[int] = []

# name, allowed edge kinds, the kind the cycle must use, kinds it must also use
CLASSES: tuple[tuple[str, frozenset[str], str, frozenset[str]], ...] = (
    ("G0", frozenset({WW}), WW, frozenset()),
    ("G1c", frozenset({WW, WR}), WR, frozenset()),
    ("G0-process", frozenset({WW, PROCESS}), PROCESS, frozenset()),
    ("G1c-process", frozenset({WW, WR, PROCESS}), PROCESS, frozenset({WR})),
    ("G0-realtime", frozenset({WW, REALTIME}), REALTIME, frozenset()),
    ("G1c-realtime", frozenset({WW, WR, PROCESS, REALTIME}), REALTIME, frozenset({WR})),
)


@dataclass
class DepGraph:
    """Edges between call ids, by kind. A pair may hold several kinds."""

    edges: dict[str, set[tuple[int, int]]] = field(default_factory=dict)

    def add(self, kind: str, a: int, b: int) -> None:
        if a != b:
            self.edges.setdefault(kind, set()).add((a, b))

    def kinds(self, a: int, b: int) -> list[str]:
        return sorted(k for k, es in self.edges.items() if (a, b) in es)


def realtime_edges(spans: Iterable[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The transitive reduction of real-time order, as Elle computes it.

    `spans` are (call id, invoke position, completion position). A call's predecessors are the
    calls completed before it began and not already implied by a later one: the frontier.
    """
    events: list[tuple[int, int, int]] = []
    for cid, start, end in spans:
        events.append((start, 1, cid))
        events.append((end, 0, cid))
    events.sort()
    frontier: set[int] = set()
    preds: dict[int, frozenset[int]] = {}
    out: list[tuple[int, int]] = []
    for _, is_invoke, cid in events:
        if is_invoke:
            preds[cid] = frozenset(frontier)
            out.extend((p, cid) for p in frontier)
        else:
            frontier -= preds.get(cid, frozenset())
            frontier.add(cid)
    return out


def find_cycles(
    graph: DepGraph,
    describe: Callable[[int], Any],
    per_class: int = 4,
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Witness cycles for each class in CLASSES, at most `per_class` each, one per component.

    Also returns the classes whose search gave up in some component (bounded tries): the
    caller must not call such a history valid.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    gave_up: list[str] = []
    reported: set[frozenset[int]] = set()
    core = cyclic_core(graph)
    if not core:
        return found, gave_up
    edges = {k: [e for e in es if e[0] in core and e[1] in core] for k, es in graph.edges.items()}
    for name, allowed, required, also in CLASSES:
        if not edges.get(required):
            continue
        g = nx.DiGraph()
        for kind in allowed:
            g.add_edges_from(edges.get(kind, ()))
        for component in nx.strongly_connected_components(g):
            if len(component) < 2:
                continue
            cycle = _cycle_through(g.subgraph(component), graph.edges[required], also, graph)
            if cycle is _GAVE_UP:
                gave_up.append(name)
                continue
            if cycle is None or frozenset(cycle) in reported:
                continue
            reported.add(frozenset(cycle))
            found.setdefault(name, []).append(_explain(cycle, graph, describe))
            if len(found[name]) >= per_class:
                break
    return found, gave_up


def cyclic_core(graph: DepGraph) -> set[int]:
    """Nodes left after peeling away every node with no incoming or no outgoing edge.

    No cycle passes through a peeled node, and in a valid history everything peels, so the
    (slow) networkx graphs are built only for the few nodes that may lie on a cycle.
    """
    succ: dict[int, set[int]] = defaultdict(set)
    pred: dict[int, set[int]] = defaultdict(set)
    for es in graph.edges.values():
        for a, b in es:
            succ[a].add(b)
            pred[b].add(a)
    alive = set(succ) | set(pred)
    todo = [n for n in alive if not succ[n] or not pred[n]]
    while todo:
        n = todo.pop()
        if n not in alive:
            continue
        alive.discard(n)
        for m in succ[n]:
            pred[m].discard(n)
            if m in alive and not pred[m]:
                todo.append(m)
        for m in pred[n]:
            succ[m].discard(n)
            if m in alive and not succ[m]:
                todo.append(m)
    return alive


def _cycle_through(
    sub: Any, required: set[tuple[int, int]], also: frozenset[str], graph: DepGraph
) -> list[int] | None:
    tries = 0
    for a, b in sub.edges():
        if (a, b) not in required:
            continue
        tries += 1
        if tries > _MAX_TRIES:
            return _GAVE_UP
        try:
            path: list[int] = nx.shortest_path(sub, b, a)
        except nx.NetworkXNoPath:
            continue
        cycle = [a, *path]
        kinds = {k for x, y in itertools.pairwise(cycle) for k in graph.kinds(x, y)}
        if also <= kinds:
            return cycle
    return None


def _explain(cycle: list[int], graph: DepGraph, describe: Callable[[int], Any]) -> dict[str, Any]:
    steps = []
    for x, y in itertools.pairwise(cycle):
        steps.append({"from": describe(x), "to": describe(y), "edges": graph.kinds(x, y)})
    return {"cycle": steps}
