"""The Raft-invariants checker over node event traces (DESIGN.md 4.6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.checkers import raft


def ev(node: str, term: int, role: str, commit: int, last: int, **kw: Any) -> dict[str, Any]:
    state = {"term": term, "role": role, "vote": kw.pop("vote", None), "last_index": last}
    return {"event": kw.pop("event", "receive"), "node": node, "state": state | {"commit": commit}}


def good_run() -> list[dict[str, Any]]:
    return [
        ev("n1", 1, "candidate", 0, 0, event="become-candidate", vote="n1"),
        ev("n2", 1, "follower", 0, 0, vote="n1"),
        ev("n1", 1, "leader", 0, 1, event="become-leader", vote="n1"),
        ev("n1", 1, "leader", 1, 1, vote="n1"),
        ev("n2", 1, "follower", 1, 1, vote="n1"),
        ev("n2", 2, "candidate", 1, 1, event="become-candidate", vote="n2"),
        ev("n2", 2, "leader", 1, 2, event="become-leader", vote="n2"),
        ev("n3", 0, "follower", 0, 0, event="start"),
    ]


def test_valid_trace_passes_and_says_what_it_did_not_check() -> None:
    result = raft.check(good_run())
    assert result["valid"] is True, result
    assert result["nodes"] == 3
    assert result["not_checked"] == ["log-matching", "state-machine-safety"]


CASES: dict[str, list[dict[str, Any]]] = {
    "election-safety": [*good_run(), ev("n3", 2, "leader", 0, 2, event="become-leader")],
    "term-regression": [*good_run(), ev("n2", 1, "follower", 1, 2)],
    "double-vote": [*good_run(), ev("n2", 2, "follower", 1, 2, vote="n3")],
    "commit-regression": [*good_run(), ev("n1", 1, "leader", 0, 1)],
    "commit-beyond-log": [*good_run(), ev("n1", 1, "leader", 5, 1)],
    "leader-completeness": [*good_run(), ev("n3", 3, "leader", 0, 0, event="become-leader")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_violation_is_caught_by_name(name: str) -> None:
    result = raft.check(CASES[name])
    assert result["valid"] is False
    assert name in result["anomalies"], result["anomalies"]


def test_restart_resets_volatile_commit() -> None:
    events = [*good_run(), ev("n2", 2, "follower", 0, 2, event="start")]
    assert raft.check(events)["valid"] is True


def test_empty_or_bad_trace_is_unknown() -> None:
    assert raft.check([])["valid"] == "unknown"
    assert raft.check([{"node": "n1", "state": {"term": "x"}}])["valid"] == "unknown"


def test_reads_node_trace_files(tmp_path: Path) -> None:
    for node in ("n1", "n2"):
        d = tmp_path / "nodes" / node
        d.mkdir(parents=True)
        lines = [json.dumps(e) for e in good_run() if e["node"] == node]
        (d / "trace.jsonl").write_text("\n".join(lines) + "\n")
    events = raft.read_traces(tmp_path)
    assert {e["node"] for e in events} == {"n1", "n2"}
    assert raft.check(events)["valid"] is True
