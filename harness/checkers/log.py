"""The log checker: Jepsen's Kafka-workload anomalies, by Jepsen's names (research/jepsen.md 1.7).

Input is the `log` workload of DESIGN.md 4.3: `send` (one value, or a batch of `values`) and
`poll` (from an offset, returning `msgs` as [offset, value] pairs), plus `txn` calls whose value
is `{"ops": [send or poll micro-ops]}` (completed with the same micro-ops and their results).
Sent values are unique, so every polled value names the send that wrote it.

The version order of a topic is every offset that any ok send or poll revealed; "skips" and
"nonmonotonic" are judged by position in that order, as Jepsen does, so sparse offsets are fine.
Beyond Jepsen's names the checker reports `garbage-read` (a polled value nobody sent) and
`future-read` (a poll that completed before the send of a value it returned began).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.checkers.calls import Call, describe, pair_calls
from harness.checkers.cycles import PROCESS, REALTIME, WR, WW, DepGraph, find_cycles, realtime_edges
from harness.history import Op

MAX_WITNESSES = 32  # per anomaly; the counts stay exact


@dataclass(frozen=True, slots=True)
class Send:
    call: int
    topic: Any
    value: Any
    offset: int | None


@dataclass(frozen=True, slots=True)
class Poll:
    call: int
    topic: Any
    start: int | None  # the `from` it asked for
    msgs: tuple[tuple[int, Any], ...]


@dataclass
class Analysis:
    calls: list[Call]
    sends: list[Send] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    by_call: dict[int, tuple[list[Send], list[Poll]]] = field(default_factory=dict)
    offsets: dict[Any, list[int]] = field(default_factory=dict)  # topic -> sorted known offsets
    writer: dict[tuple[Any, Any], Send] = field(default_factory=dict)  # (topic, value) -> send
    anomalies: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def report(self, name: str, witness: Any) -> None:
        self.counts[name] += 1
        if len(self.anomalies[name]) < MAX_WITNESSES:
            self.anomalies[name].append(witness)

    def rank(self, topic: Any, offset: int) -> int:
        """Position of `offset` in the topic's version order."""
        return bisect.bisect_left(self.offsets[topic], offset)

    def between(self, topic: Any, lo: int, hi: int) -> list[int]:
        """Known offsets strictly between lo and hi."""
        known = self.offsets[topic]
        return known[bisect.bisect_right(known, lo) : bisect.bisect_left(known, hi)]

    def op(self, call: int) -> dict[str, Any]:
        return describe(self.calls[call])


def _micro_ops(call: Call) -> Iterator[tuple[str, Any]]:
    value = call.value
    if call.f == "txn" and isinstance(value, dict):
        for micro in value.get("ops") or ():
            if isinstance(micro, dict):
                yield str(micro.get("f")), micro
    elif call.f in ("send", "poll") and isinstance(value, dict):
        yield call.f, value


def _parse(calls: list[Call]) -> Analysis:
    a = Analysis(calls)
    known: dict[Any, set[int]] = defaultdict(set)
    for i, call in enumerate(calls):
        sends: list[Send] = []
        polls: list[Poll] = []
        for f, v in _micro_ops(call):
            topic = v.get("topic")
            if f == "send":
                values = v["values"] if "values" in v else [v.get("value")]
                offsets = v.get("offsets") or [v.get("offset")] * len(values)
                if call.type != "ok":
                    offsets = [None] * len(values)
                for value, offset in zip(values, offsets, strict=False):
                    sends.append(Send(i, topic, value, offset))
                    known[topic].update(() if offset is None else (offset,))
            elif f == "poll" and call.type == "ok":
                msgs = tuple((int(o), x) for o, x in v.get("msgs") or ())
                polls.append(Poll(i, topic, v.get("from"), msgs))
                known[topic].update(o for o, _ in msgs)
        a.by_call[i] = (sends, polls)
        a.sends.extend(sends)
        a.polls.extend(polls)
    a.offsets = {t: sorted(os) for t, os in known.items()}
    for s in a.sends:
        a.writer.setdefault((s.topic, s.value), s)
        a.offsets.setdefault(s.topic, [])
    return a


def _version_conflicts(a: Analysis) -> None:
    """inconsistent-offsets (one offset, two values) and duplicate (one value, two offsets)."""
    at: dict[tuple[Any, int], dict[Any, int]] = defaultdict(dict)
    where: dict[tuple[Any, Any], set[int]] = defaultdict(set)
    for s in a.sends:
        if s.offset is not None:
            at[(s.topic, s.offset)].setdefault(s.value, s.call)
            where[(s.topic, s.value)].add(s.offset)
    for p in a.polls:
        for o, v in p.msgs:
            at[(p.topic, o)].setdefault(v, p.call)
            where[(p.topic, v)].add(o)
    for (topic, offset), values in at.items():
        if len(values) > 1:
            ops = [a.op(c) for c in values.values()]
            a.report(
                "inconsistent-offsets",
                {"topic": topic, "offset": offset, "values": list(values), "ops": ops},
            )
    for (topic, value), offsets in where.items():
        if len(offsets) > 1:
            a.report("duplicate", {"topic": topic, "value": value, "offsets": sorted(offsets)})


def _reads(a: Analysis) -> None:
    """G1a, garbage-read, future-read, lost-write, unseen and precommitted-read."""
    seen: set[tuple[Any, Any]] = set()
    max_polled: dict[Any, int] = {}
    for p in a.polls:
        poll_call = a.calls[p.call]
        for o, v in p.msgs:
            seen.add((p.topic, v))
            max_polled[p.topic] = max(max_polled.get(p.topic, o), o)
            s = a.writer.get((p.topic, v))
            if s is None:
                a.report(
                    "garbage-read",
                    {"topic": p.topic, "offset": o, "value": v, "poll": a.op(p.call)},
                )
                continue
            send_call = a.calls[s.call]
            if send_call.type == "fail":
                a.report(
                    "G1a",
                    {"topic": p.topic, "value": v, "send": a.op(s.call), "poll": a.op(p.call)},
                )
            if s.call == p.call:
                a.report("precommitted-read", {"topic": p.topic, "value": v, "txn": a.op(p.call)})
            elif poll_call.end is not None and poll_call.end < send_call.position:
                a.report(
                    "future-read",
                    {"topic": p.topic, "value": v, "send": a.op(s.call), "poll": a.op(p.call)},
                )
    for s in a.sends:
        if a.calls[s.call].type != "ok" or (s.topic, s.value) in seen:
            continue
        witness = {"topic": s.topic, "value": s.value, "offset": s.offset, "send": a.op(s.call)}
        top = max_polled.get(s.topic)
        if s.offset is not None and top is not None and s.offset < top:
            a.report("lost-write", {**witness, "max_polled_offset": top})
        else:
            a.report("unseen", witness)


def _sends_order(a: Analysis) -> None:
    """nonmonotonic-send across a process's calls; int-* inside one batch or txn."""
    last: dict[tuple[Any, Any], tuple[int, int]] = {}  # (process, topic) -> (offset, call)
    for i, call in enumerate(a.calls):
        if call.type != "ok":
            continue
        prev_in_call: dict[Any, int] = {}
        for s in a.by_call[i][0]:
            if s.offset is None:
                continue
            key = (call.process, s.topic)
            before = prev_in_call.get(s.topic)
            if before is not None:
                _internal_send(a, before, s.offset, s, i)
            elif key in last and a.rank(s.topic, s.offset) <= a.rank(s.topic, last[key][0]):
                witness = {"process": call.process, "topic": s.topic}
                witness["offsets"] = [last[key][0], s.offset]
                witness["ops"] = [a.op(last[key][1]), a.op(i)]
                a.report("nonmonotonic-send", witness)
            prev_in_call[s.topic] = s.offset
        for topic, offset in prev_in_call.items():
            last[(call.process, topic)] = (offset, i)


def _internal_send(a: Analysis, before: int, after: int, s: Send, call: int) -> None:
    rb, ra = a.rank(s.topic, before), a.rank(s.topic, after)
    if ra <= rb:
        witness = {"topic": s.topic, "offsets": [before, after], "op": a.op(call)}
        a.report("int-nonmonotonic-send", witness)
    elif ra > rb + 1:
        witness = {"topic": s.topic, "offsets": [before, after], "op": a.op(call)}
        a.report("int-send-skip", {**witness, "between": a.between(s.topic, before, after)})


def _polls_order(a: Analysis) -> None:
    """nonmonotonic-poll and poll-skip between polls; int-* inside one poll."""
    last: dict[tuple[Any, Any], tuple[int, int]] = {}  # (process, topic) -> (offset, call)
    for p in a.polls:
        offsets = [o for o, _ in p.msgs]
        if not offsets:
            continue
        _inside_poll(a, p, offsets)
        key = (a.calls[p.call].process, p.topic)
        first = offsets[0]
        if p.start is not None:
            # The poll asked to start at `from`: it must neither go back nor jump ahead.
            start = int(p.start)
            if first < start:
                a.report("nonmonotonic-poll", _poll_witness(a, p, first))
            elif first > start and (skipped := a.between(p.topic, start - 1, first)):
                a.report("poll-skip", {**_poll_witness(a, p, first), "skipped": skipped})
        elif key in last:
            prev, prev_call = last[key]
            rp, rf = a.rank(p.topic, prev), a.rank(p.topic, first)
            if rf <= rp or rf > rp + 1:
                witness = _poll_witness(a, p, first)
                witness.update(previous=prev, previous_op=a.op(prev_call))
                if rf <= rp:
                    a.report("nonmonotonic-poll", witness)
                else:
                    a.report("poll-skip", {**witness, "skipped": a.between(p.topic, prev, first)})
        last[key] = (offsets[-1], p.call)


def _poll_witness(a: Analysis, p: Poll, first: int) -> dict[str, Any]:
    return {"topic": p.topic, "from": p.start, "first": first, "op": a.op(p.call)}


def _inside_poll(a: Analysis, p: Poll, offsets: list[int]) -> None:
    for x, y in itertools.pairwise(offsets):
        if y == x + 1:
            continue  # adjacent offsets are adjacent in the version order too: the common case
        rx, ry = a.rank(p.topic, x), a.rank(p.topic, y)
        if ry <= rx:
            witness = {"topic": p.topic, "offsets": [x, y], "op": a.op(p.call)}
            a.report("int-nonmonotonic-poll", witness)
        elif ry > rx + 1:
            witness = {"topic": p.topic, "offsets": [x, y], "op": a.op(p.call)}
            a.report("int-poll-skip", {**witness, "skipped": a.between(p.topic, x, y)})


def _graph(a: Analysis) -> DepGraph:
    """ww, wr, process and realtime edges between calls that took effect."""
    g = DepGraph()
    value_at: dict[tuple[Any, int], Any] = {}
    for s in a.sends:
        if s.offset is not None:
            value_at.setdefault((s.topic, s.offset), s.value)
    for p in a.polls:
        for o, v in p.msgs:
            value_at.setdefault((p.topic, o), v)
    for topic, offsets in a.offsets.items():
        prev: Send | None = None
        for o in offsets:
            w = a.writer.get((topic, value_at.get((topic, o))))
            if w is not None and prev is not None:
                g.add(WW, prev.call, w.call)
            prev = w if w is not None else prev
    for p in a.polls:
        if p.msgs:
            top = max(p.msgs)
            w = a.writer.get((p.topic, top[1]))
            if w is not None:
                g.add(WR, w.call, p.call)
    done = [i for i, c in enumerate(a.calls) if c.type == "ok" and c.end is not None]
    by_process: dict[Any, int] = {}
    for i in done:
        process = a.calls[i].process
        if process in by_process:
            g.add(PROCESS, by_process[process], i)
        by_process[process] = i
    spans = [(i, a.calls[i].position, a.calls[i].end or 0) for i in done]
    for x, y in realtime_edges(spans):
        g.add(REALTIME, x, y)
    return g


CHECKS = (_version_conflicts, _reads, _sends_order, _polls_order)


def check(history: list[Op], cycles: bool = True) -> dict[str, Any]:
    """Every log anomaly in `history`; DESIGN.md 4.4 result shape, plus exact counts."""
    try:
        a = _parse([c for c in pair_calls(history) if c.f in ("send", "poll", "txn")])
        for fn in CHECKS:
            fn(a)
        gave_up: list[str] = []
        if cycles:
            found, gave_up = find_cycles(_graph(a), a.op)
            for name, witnesses in found.items():
                for w in witnesses:
                    a.report(name, w)
    except Exception as e:  # a malformed history must not look like a pass
        return {"valid": "unknown", "anomalies": {}, "reason": f"{type(e).__name__}: {e}"}
    anomalies = {k: v for k, v in a.anomalies.items() if v}
    valid: bool | str = not anomalies
    if valid and gave_up:
        valid = "unknown"
    result: dict[str, Any] = {
        "valid": valid,
        "anomalies": anomalies,
        "counts": dict(a.counts),
        "sends": len(a.sends),
        "polls": len(a.polls),
        "topics": len(a.offsets),
    }
    if gave_up:
        result["reason"] = f"cycle search gave up for {sorted(set(gave_up))}"
    return result
