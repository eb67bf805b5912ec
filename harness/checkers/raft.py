"""Raft invariants over the nodes' event traces (DESIGN.md 4.6, `wiber.core.trace`).

Each trace line is `{"event", "node", "state": {"term", "role", "vote", "last_index",
"commit"}, "msg"?: {...}}`, the node's state after one step. Checked, by name:
- `election-safety`: at most one leader per term;
- `term-regression`: a node's term never goes down (terms are persisted);
- `double-vote`: a node votes for at most one candidate per term;
- `commit-regression`: a node's commit index never goes down within one run of the node (commit
  is volatile: an event named in RESTART_EVENTS starts a new run);
- `commit-beyond-log`: commit index never exceeds the node's last index;
- `leader-completeness`: a leader of term T holds at least every index some node knew to be
  committed in a term below T (Leader Completeness by index: the trace carries no entry terms).
Log Matching and State Machine Safety need entry terms and contents, which the trace does not
carry: they are reported as `not_checked`, never as passed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_WITNESSES = 32
NOT_CHECKED = ["log-matching", "state-machine-safety"]
RESTART_EVENTS = frozenset({"start", "restart", "recover", "boot"})


def read_traces(root: Path) -> list[dict[str, Any]]:
    """Events from `root/nodes/*/trace.jsonl` (or `root/*/trace.jsonl`, or one file)."""
    if root.is_file():
        files = [root]
    else:
        files = sorted(root.glob("nodes/*/trace.jsonl")) or sorted(root.glob("*/trace.jsonl"))
    events: list[dict[str, Any]] = []
    for f in files:
        with f.open(encoding="utf-8") as lines:
            events.extend(json.loads(line) for line in lines if line.strip())
    return events


class _Found:
    def __init__(self) -> None:
        self.anomalies: dict[str, list[Any]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def report(self, name: str, witness: Any) -> None:
        self.counts[name] += 1
        if len(self.anomalies[name]) < MAX_WITNESSES:
            self.anomalies[name].append(witness)


def _per_node(events: list[dict[str, Any]], found: _Found) -> dict[int, int]:
    """Per-node checks; returns the highest commit index seen in each term."""
    last: dict[Any, dict[str, Any]] = {}
    votes: dict[tuple[Any, int], Any] = {}
    commit_in_term: dict[int, int] = defaultdict(int)
    for i, e in enumerate(events):
        node, s = e.get("node"), e.get("state") or {}
        term, commit = int(s.get("term", 0)), int(s.get("commit", 0))
        witness = {"node": node, "line": i, "event": e.get("event"), "state": s}
        prev = last.get(node)
        if e.get("event") in RESTART_EVENTS:
            prev = None if prev is None else {**prev, "commit": 0}
        if prev is not None and term < int(prev.get("term", 0)):
            found.report("term-regression", {**witness, "previous": prev})
        if prev is not None and commit < int(prev.get("commit", 0)):
            found.report("commit-regression", {**witness, "previous": prev})
        if commit > int(s.get("last_index", commit)):
            found.report("commit-beyond-log", witness)
        vote = s.get("vote")
        if vote is not None:
            had = votes.setdefault((node, term), vote)
            if had != vote:
                found.report("double-vote", {**witness, "earlier_vote": had})
        commit_in_term[term] = max(commit_in_term[term], commit)
        last[node] = s
    return commit_in_term


def _leaders(
    events: Iterable[dict[str, Any]], commit_in_term: dict[int, int], found: _Found
) -> None:
    leaders: dict[int, Any] = {}
    terms = sorted(commit_in_term)
    for e in events:
        s = e.get("state") or {}
        if s.get("role") != "leader":
            continue
        node, term = e.get("node"), int(s.get("term", 0))
        other = leaders.setdefault(term, node)
        if other != node:
            found.report(
                "election-safety", {"term": term, "leaders": sorted(map(str, {other, node}))}
            )
        if e.get("event") == "become-leader":
            needed = max((commit_in_term[t] for t in terms if t < term), default=0)
            if int(s.get("last_index", 0)) < needed:
                found.report(
                    "leader-completeness",
                    {"node": node, "term": term, "state": s, "committed_before": needed},
                )


def check(events: list[dict[str, Any]]) -> dict[str, Any]:
    if not events:
        return {"valid": "unknown", "anomalies": {}, "reason": "no trace events"}
    found = _Found()
    try:
        _leaders(events, _per_node(events, found), found)
    except (TypeError, ValueError, AttributeError) as e:
        return {"valid": "unknown", "anomalies": {}, "reason": f"bad trace: {e}"}
    anomalies = {k: v for k, v in found.anomalies.items() if v}
    return {
        "valid": not anomalies,
        "anomalies": anomalies,
        "counts": dict(found.counts),
        "events": len(events),
        "nodes": len({e.get("node") for e in events}),
        "not_checked": NOT_CHECKED,
    }
