"""spec/trace.py without TLC: merging node traces, the TLA+ module, the flags TraceRaft.tla
reads, the verdict read from TLC's output, and `harness validate`'s results.json merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.trace_validation import checker_result, merge_results
from spec.trace import (
    Verdict,
    load_traces,
    merge,
    proposals_bound,
    tla,
    trace_lines,
    verdict_from,
    write_module,
)

STATE = {"term": 1, "role": "follower", "vote": None, "last_index": 0, "commit": 0}


def msg(type_: str, src: str, dst: str, **fields: Any) -> dict[str, Any]:
    base = {"type": type_, "src": src, "dst": dst, "term": 1, "index": 0, "log_term": 0}
    base |= {"entries": 0, "commit": 0, "reject": False, "reject_hint": 0, "hint_term": 0}
    return base | fields


def event(name: str, node: str, m: dict[str, Any] | None = None, hlc: int = 0) -> dict[str, Any]:
    e: dict[str, Any] = {"event": name, "node": node, "state": dict(STATE), "hlc": hlc}
    if m is not None:
        e["msg"] = m
    return e


def test_tla_values() -> None:
    assert (
        tla({"a": [1, True], "b": None, "c": 'x"y'})
        == '[a |-> <<1, TRUE>>, b |-> "none", c |-> "x\\"y"]'
    )


def test_node_traces_merge_in_hlc_order_and_starts_become_restarts(tmp_path: Path) -> None:
    n1 = [
        {"event": "start", "node": "n1", "hlc": 1},
        event("send", "n1", msg("vote", "n1", "n2"), 5),
    ]
    n2 = [
        {"event": "start", "node": "n2", "hlc": 2},
        event("receive", "n2", msg("vote", "n1", "n2"), 7),
        {"event": "start", "node": "n2", "hlc": 9, "state": STATE},
    ]
    for name, events in (("n1", n1), ("n2", n2)):
        path = tmp_path / name / "trace.jsonl"
        path.parent.mkdir()
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
    merged = load_traces(sorted(tmp_path.glob("*/trace.jsonl")))
    assert [(e["event"], e["node"]) for e in merged] == [
        ("send", "n1"),
        ("receive", "n2"),
        ("restart", "n2"),
    ]
    assert merged[-1]["state"] == STATE


def test_a_receive_never_comes_before_its_send() -> None:
    """Nodes stamp their traces with their own clocks: a receive may carry the HLC of its
    send (or an older one); it waits for the send, while a receive whose send is in no
    stream keeps its HLC place."""
    vote, append = msg("vote", "n3", "n1"), msg("append", "n3", "n2")
    n1 = [event("receive", "n1", vote, 5), event("send", "n1", msg("vote-resp", "n1", "n3"), 5)]
    n2 = [event("receive", "n2", msg("append", "n9", "n2"), 1), event("receive", "n2", append, 3)]
    n3 = [event("send", "n3", vote, 5), event("send", "n3", append, 6)]
    merged = [(e["event"], e["node"], e["msg"]["type"]) for e in merge([n1, n2, n3])]
    assert merged == [
        ("receive", "n2", "append"),  # from no traced send: HLC order
        ("send", "n3", "vote"),
        ("receive", "n1", "vote"),  # n1 < n3 at HLC 5, but after the send
        ("send", "n1", "vote-resp"),
        ("send", "n3", "append"),
        ("receive", "n2", "append"),  # HLC 3 < 6: after the send all the same
    ]


def test_receives_say_whether_they_were_answered_refused_or_received_again() -> None:
    vote = msg("vote", "n1", "n2")
    events = [
        event("receive", "n2", vote),
        event("become-follower", "n2"),
        event("send", "n2", msg("vote-resp", "n2", "n1", reject=True)),
        event("receive", "n2", vote),  # a duplicate: ignored (say, the lease)
        event("receive", "n3", msg("vote-resp", "n2", "n3")),
    ]
    lines = trace_lines(events)
    assert (lines[0]["answered"], lines[0]["refused"], lines[0]["keep"]) == (True, True, True)
    assert (lines[3]["answered"], lines[3]["keep"]) == (False, False)
    assert lines[4]["answered"] is False
    assert "answered" not in lines[2]


def test_the_value_set_covers_every_proposal() -> None:
    leader = dict(STATE, role="leader")
    events = [
        dict(event("send", "n1"), state=dict(leader, last_index=1)),
        dict(event("send", "n1"), state=dict(leader, last_index=4)),
        dict(event("send", "n2"), state=dict(STATE, last_index=4)),
    ]
    assert proposals_bound(events) == 4  # three appended while leading, one to spare


def test_the_module_names_every_node(tmp_path: Path) -> None:
    lines = trace_lines([event("receive", "n2", msg("vote", "n1", "n2"))])
    text = write_module(lines, tmp_path).read_text()
    assert 'TraceServer == {"n1", "n2"}' in text
    assert "TracePreVote == FALSE" in text
    assert "Trace == T0" in text


LINES = [{"event": "send", "node": "n1"}, {"event": "receive", "node": "n2"}]


def test_verdicts_from_tlc_output() -> None:
    accepted = verdict_from(
        "Error: Invariant NotFullyMatched is violated.", "NotFullyMatched", 12, LINES
    )
    assert accepted.status == "accepted"
    stuck = '<<"STUCK", 1, "n1", [term |-> 0]>>\n<<"STUCK", 2, "n2", [term |-> 3]>>\n'
    rejected = verdict_from(stuck, None, 0, LINES)
    assert (rejected.status, rejected.line, rejected.spec_state) == ("rejected", 2, "[term |-> 3]")
    assert rejected.record == LINES[1]
    violated = verdict_from("", "ElectionSafety", 12, LINES)
    assert (violated.status, violated.invariant, violated.exit_code) == (
        "violated",
        "ElectionSafety",
        1,
    )
    error = verdict_from("Error: Parsing or semantic analysis failed.", None, 150, LINES)
    assert (error.status, error.exit_code) == ("error", 2)
    assert "Parsing" in error.detail


def test_validate_merges_its_verdict_into_results_json(tmp_path: Path) -> None:
    other = {"valid": True, "anomalies": {}}
    (tmp_path / "results.json").write_text(json.dumps({"valid": True, "checkers": {"log": other}}))
    rejected = Verdict("rejected", 10, line=4, record={"event": "send"}, spec_state="[]")
    merge_results(tmp_path, checker_result(rejected))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["checkers"]["log"] == other
    assert results["checkers"]["trace-validation"]["anomalies"]["trace-rejected"][0]["line"] == 4
    assert results["valid"] is False
    merge_results(tmp_path, checker_result(Verdict("error", 0, detail="no java")))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["valid"] == "unknown"
    assert results["checkers"]["trace-validation"]["reason"] == "no java"
