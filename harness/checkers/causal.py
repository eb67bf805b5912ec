"""Causal order across topics (DESIGN.md 1 and 4.3, the `causal` workload).

Happens-before between messages, a message being (topic, offset):
- declared: every entry of a send's `deps` precedes the message sent;
- program order: a process's ok sends precede its later sends;
- reads-from: what a process delivered precedes what it sends afterwards.
Each subscriber (a process issuing `deliver`) must deliver a message only after every cause in
a topic it subscribes to; causes in topics it does not read are looked through, to their own
causes. Anomalies: `effect-before-cause` (the cause came later), `missing-cause` (it never
came), `order-disagreement` (two subscribers saw one topic's messages in different orders),
`inconsistent-offsets` (one offset, two values), `duplicate-delivery`, and `causal-cycle`
(happens-before is not a partial order), each with a minimal witness.

The reorder buffer may deliver a message before its causes once it has waited its bound, but
then it says so: an effect delivered with the `missing-cause` mark is counted (`marked`), not
an anomaly, and a message delivered with the `late` mark is left out of the per-topic order
comparison (it came after a higher offset on purpose).

Timestamps. A delivery that records the message's `hlc` (the leader-stamped hybrid logical
clock) lets the checker hold the broker to its clocks:
- `timestamp-regression`: within a topic, the HLC must strictly increase with the offset (so
  its physical part, which time seeks use, never decreases);
- `inconsistent-timestamps`: one message seen with two HLCs;
- `timestamp-inversion`: an effect stamped at or below a cause it depends on in another topic,
  or at or below the timestamp its producer carried. When every acknowledged send of the
  history records what its producer carried (`carried_hlc`: the largest stamp it had seen,
  merged by the leader before stamping), every direct cause is judged, whichever leaders
  stamped them. Otherwise only one node's HLC promises the order (without carried stamps,
  timestamps do not follow causality across a failover while the old leader's clock ran
  ahead), so a pair is compared only when the send of each was acknowledged by the same node
  (`acked_by`) and the cause's HLC is surely its own stamp (`_own_stamps`).
  `causal-timestamps` counts the pairs compared.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from harness.checkers.calls import Call, describe, pair_calls
from harness.checkers.cycles import DepGraph, cyclic_core
from harness.history import Op

Msg = tuple[Any, int]  # (topic, offset)
MAX_WITNESSES = 32


@dataclass
class _State:
    preds: dict[Msg, set[Msg]] = field(default_factory=lambda: defaultdict(set))
    values: dict[Msg, set[Any]] = field(default_factory=lambda: defaultdict(set))
    # subscriber -> its deliveries in order: (message, value, call)
    deliveries: dict[Any, list[tuple[Msg, Any, Call]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    anomalies: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hlcs: dict[Msg, set[int]] = field(default_factory=lambda: defaultdict(set))
    marks: dict[int, set[str]] = field(default_factory=dict)  # by the delivery call's id()
    acker: dict[Msg, Any] = field(default_factory=dict)  # the node that acknowledged a send
    carried: dict[Msg, int] = field(default_factory=dict)  # a send's producer-carried HLC
    sends: int = 0  # acknowledged sends
    marked: int = 0
    cross_topic_pairs: int = 0

    def report(self, name: str, witness: Any) -> None:
        self.counts[name] += 1
        if len(self.anomalies[name]) < MAX_WITNESSES:
            self.anomalies[name].append(witness)


def _msg(pair: Any) -> Msg:
    topic, offset = pair
    return (topic, int(offset))


def _build(calls: list[Call]) -> _State:
    s = _State()
    last_send: dict[Any, Msg] = {}
    delivered_since: dict[Any, list[Msg]] = defaultdict(list)
    for c in calls:
        if c.type != "ok" or not isinstance(c.value, dict):
            continue
        v = c.value
        m = _msg((v.get("topic"), v.get("offset")))
        s.values[m].add(_key(v.get("value")))
        if c.f == "deliver":
            s.deliveries[c.process].append((m, v.get("value"), c))
            delivered_since[c.process].append(m)
            if v.get("hlc") is not None:
                s.hlcs[m].add(int(v["hlc"]))
            if v.get("marks"):
                s.marks[id(c)] = set(v["marks"])
        if c.f in ("send", "deliver"):
            s.preds[m].update(_msg(d) for d in v.get("deps") or ())
        if c.f == "send":
            s.sends += 1
            if v.get("acked_by") is not None:
                s.acker[m] = v["acked_by"]
            if v.get("carried_hlc") is not None:
                s.carried[m] = int(v["carried_hlc"])
            if v.get("hlc") is not None:
                s.hlcs[m].add(int(v["hlc"]))
            if c.process in last_send:
                s.preds[m].add(last_send[c.process])
            s.preds[m].update(delivered_since.pop(c.process, ()))
            last_send[c.process] = m
    return s


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _missing_causes(s: _State, m: Msg, topics: set[Any], delivered: set[Msg]) -> list[Msg]:
    """Causes of m in subscribed topics not yet delivered, looking through other topics."""
    missing: list[Msg] = []
    stack, seen = list(s.preds.get(m, ())), set()
    while stack:
        p = stack.pop()
        if p in seen or p == m:
            continue
        seen.add(p)
        if p[0] in topics:
            if p not in delivered:
                missing.append(p)
        else:
            stack.extend(s.preds.get(p, ()))
    return sorted(missing, key=repr)


def _subscribers(s: _State) -> None:
    for process, seq in s.deliveries.items():
        topics = {m[0] for m, _, _ in seq}
        position: dict[Msg, int] = {}
        for i, (m, _, _) in enumerate(seq):
            position.setdefault(m, i)
        delivered: set[Msg] = set()
        for i, (m, _, call) in enumerate(seq):
            if m in delivered:
                s.report(
                    "duplicate-delivery",
                    {"subscriber": process, "message": m, "op": describe(call)},
                )
            # Orderings this delivery really tested: a direct cause from another topic read here.
            s.cross_topic_pairs += sum(
                1 for p in s.preds.get(m, ()) if p[0] != m[0] and p[0] in topics and p in delivered
            )
            causes = _missing_causes(s, m, topics, delivered)
            if causes and "missing-cause" in s.marks.get(id(call), ()):
                s.marked += 1  # delivered early, and said so
                causes = []
            for cause in causes:
                later = position.get(cause)
                name = "effect-before-cause" if later is not None and later > i else "missing-cause"
                witness = {
                    "subscriber": process,
                    "effect": list(m),
                    "cause": list(cause),
                    "op": describe(call),
                }
                if later is not None and later > i:
                    witness["cause_op"] = describe(seq[later][2])
                s.report(name, witness)
            delivered.add(m)


def _orders(s: _State) -> None:
    for m, values in s.values.items():
        if len(values) > 1:
            s.report(
                "inconsistent-offsets", {"message": list(m), "values": sorted(map(repr, values))}
            )
    per_topic: dict[Any, dict[Any, list[Any]]] = defaultdict(dict)
    for process, seq in s.deliveries.items():
        by_topic: dict[Any, list[Any]] = defaultdict(list)
        for m, v, call in seq:
            if "late" not in s.marks.get(id(call), ()):
                by_topic[m[0]].append(_key(v))
        for topic, order in by_topic.items():
            per_topic[topic][process] = order
    for topic, subs in per_topic.items():
        for (pa, a), (pb, b) in itertools.combinations(subs.items(), 2):
            pair = _inversion(a, b)
            if pair is not None:
                witness = {
                    "topic": topic,
                    "subscribers": [pa, pb],
                    "a_order": list(pair),
                    "b_order": list(pair[::-1]),
                }
                s.report("order-disagreement", witness)


def _inversion(a: list[Any], b: list[Any]) -> tuple[Any, Any] | None:
    """Two values that a lists in one order and b in the other, if any."""
    rank = {v: i for i, v in enumerate(a)}
    best: Any = None
    for v in b:
        r = rank.get(v)
        if r is None:
            continue
        if best is not None and r < rank[best]:
            return (v, best)
        if best is None or r > rank[best]:
            best = v
    return None


def _timestamps(s: _State) -> int:
    """Per-topic HLC order, and causal order of HLCs where one node stamped cause and effect;
    returns how many (cause, effect) stamps were compared."""
    stamp: dict[Msg, int] = {}
    for m, hlcs in s.hlcs.items():
        if len(hlcs) > 1:
            s.report("inconsistent-timestamps", {"message": list(m), "hlcs": sorted(hlcs)})
        stamp[m] = min(hlcs)
    by_topic: dict[Any, list[Msg]] = defaultdict(list)
    for m in stamp:
        by_topic[m[0]].append(m)
    for msgs in by_topic.values():
        msgs.sort(key=lambda m: m[1])
        for a, b in itertools.pairwise(msgs):
            if stamp[b] <= stamp[a]:
                s.report(
                    "timestamp-regression",
                    {"earlier": [*a, stamp[a]], "later": [*b, stamp[b]]},
                )
    if s.sends and len(s.carried) == s.sends:
        return _carried_timestamps(s, stamp)
    checkable = _own_stamps(s, stamp)
    compared = 0
    for m, preds in s.preds.items():
        for p in preds:
            node = checkable.get(p)
            if node is None or m not in stamp or p[0] == m[0] or s.acker.get(m) != node:
                continue
            compared += 1
            if stamp[m] <= stamp[p]:
                s.report(
                    "timestamp-inversion",
                    {"cause": [*p, stamp[p]], "effect": [*m, stamp[m]], "node": node},
                )
    return compared


def _carried_timestamps(s: _State, stamp: dict[Msg, int]) -> int:
    """Every producer carried what it had seen: each effect is above that and every cause."""
    compared = 0
    for m, carried in s.carried.items():
        if m not in stamp:
            continue
        compared += 1
        if stamp[m] <= carried:
            s.report("timestamp-inversion", {"effect": [*m, stamp[m]], "carried": carried})
        for p in s.preds.get(m, ()):
            if p[0] == m[0] or p not in stamp:
                continue
            compared += 1
            if stamp[m] <= stamp[p]:
                s.report(
                    "timestamp-inversion",
                    {"cause": [*p, stamp[p]], "effect": [*m, stamp[m]], "node": s.acker.get(m)},
                )
    return compared


def _own_stamps(s: _State, stamp: dict[Msg, int]) -> dict[Msg, Any]:
    """Messages whose HLC is surely what their acknowledging node stamped, with that node.

    The broker raises a stamp to the topic's previous HLC + 1 when it is not above it (so a
    topic's HLCs increase whatever its leaders' clocks did); a message stamped by the node
    that stamped the one before it is never raised, and neither is one whose HLC jumps more
    than 1 past its predecessor's. Offsets with an unknown stamper break the chain.
    """
    own: dict[Msg, Any] = {}
    for topic in {m[0] for m in s.acker}:
        last = max(o for t, o in s.acker if t == topic)
        for o in range(last + 1):
            m, prev = (topic, o), (topic, o - 1)
            node = s.acker.get(m)
            if node is None:
                continue
            chained = own.get(prev) == node
            jumped = m in stamp and prev in stamp and stamp[m] > stamp[prev] + 1
            if o == 0 or chained or jumped:
                own[m] = node
    return own


def _cycles(s: _State) -> None:
    index = {m: i for i, m in enumerate(s.preds)}
    graph = DepGraph()
    for m, ps in s.preds.items():
        for p in ps:
            index.setdefault(p, len(index))
            graph.add("hb", index[p], index[m])
    core = cyclic_core(graph)
    if not core:
        return
    names = {i: m for m, i in index.items()}
    g = nx.DiGraph([e for e in graph.edges.get("hb", ()) if e[0] in core and e[1] in core])
    for component in nx.strongly_connected_components(g):
        if len(component) > 1:
            cycle = nx.find_cycle(g.subgraph(component))
            s.report("causal-cycle", {"cycle": [list(names[a]) for a, _ in cycle]})


def check(history: list[Op]) -> dict[str, Any]:
    try:
        s = _build(pair_calls(history))
        _subscribers(s)
        _orders(s)
        causal_timestamps = _timestamps(s)
        _cycles(s)
    except Exception as e:  # a malformed history must not look like a pass
        return {"valid": "unknown", "anomalies": {}, "reason": f"{type(e).__name__}: {e}"}
    anomalies = {k: v for k, v in s.anomalies.items() if v}
    return {
        "valid": not anomalies,
        "anomalies": anomalies,
        "counts": dict(s.counts),
        "subscribers": len(s.deliveries),
        "deliveries": sum(len(d) for d in s.deliveries.values()),
        "marked": s.marked,
        "cross-topic-pairs": s.cross_topic_pairs,
        "timestamped": len(s.hlcs),
        "causal-timestamps": causal_timestamps,
    }
