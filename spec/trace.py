"""Trace validation: node event traces (DESIGN.md 4.6) checked against `spec/Raft.tla` by TLC.

    python -m spec.trace TRACE.jsonl [TRACE.jsonl ...] [--json] [--keep DIR]

The traces of several nodes are merged in HLC order (each node's own order kept); a list of
events already in one order (a simulator run) is taken as it is. The events become a TLA+
module `TraceData.tla` (`Trace == <<...>>`) that `spec/TraceRaft.tla` walks with TLC
(research/tla.md 3.1 and 6.2). The verdict is one of:

- accepted: Raft.tla has a behaviour that explains every line;
- rejected: no behaviour explains line N (the line and the node's spec state are shown);
- violated: the lines are explained, but the reconstructed state breaks a safety invariant;
- error: TLC or the spec failed.

Exit status: 0 accepted, 1 rejected or violated, 2 error.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spec.tlc_runner import TlcOptions, ToolMissing, run_tlc
from wiber.core.raft import RaftCore
from wiber.core.types import Config, LogStorage

SPEC_DIR = Path(__file__).resolve().parent
ACCEPT_INVARIANT = "NotFullyMatched"
CHUNK = 200  # trace records per TLA+ definition; TLC parses many small literals faster

Event = dict[str, Any]
Status = Literal["accepted", "rejected", "violated", "error"]

# The answer the core sends to each request, when it answers.
REPLIES = {
    "vote": {"vote-resp"},
    "pre-vote": {"pre-vote-resp"},
    "append": {"append-resp"},
    "heartbeat": {"heartbeat-resp", "append-resp"},
    "snapshot": {"append-resp"},
}
NOTES = {"become-follower", "become-pre-candidate", "become-candidate", "become-leader"}
MSG_FIELDS = (
    "type",
    "src",
    "dst",
    "term",
    "index",
    "log_term",
    "entries",
    "commit",
    "reject",
    "reject_hint",
    "hint_term",
    "snapshot_index",
    "snapshot_term",
    "config_indexes",
)
STATE_FIELDS = ("term", "role", "vote", "last_index", "commit")
NO_VOTE = "none"  # Nil in TraceRaft.cfg


class TraceError(Exception):
    """The trace files cannot be read or are not node event traces."""


# -- reading and merging ------------------------------------------------------------------------


def read_ndjson(path: Path) -> list[Event]:
    events: list[Event] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as error:
                raise TraceError(f"{path}:{number}: not JSON ({error})") from error
            if not isinstance(event, dict) or "event" not in event or "node" not in event:
                raise TraceError(f"{path}:{number}: not a node event")
            events.append(event)
    return events


def _restarts(events: list[Event]) -> Iterator[Event]:
    """A runtime writes `start` when a node boots: the first is Init, the others restarts."""
    started = False
    for event in events:
        if event["event"] == "start":
            if started:
                yield {**event, "event": "restart"}
            started = True
        else:
            started = True
            yield event


def merge(streams: Sequence[list[Event]]) -> list[Event]:
    """Merge per-node streams by HLC (ties: the node name), each stream's order kept, and a
    receive never before the send of its message: a runtime stamps its trace with its own
    clock, so a send and its receive on two nodes may carry the same HLC (or the receiver's
    clock may run behind). A receive waits only for a send that comes later in some stream."""
    queues = [deque(_restarts(s)) for s in streams]
    pending = Counter(_message(e) for q in queues for e in q if e["event"] == "send")
    sent: Counter[str] = Counter()
    merged: list[Event] = []

    def order(n: int) -> tuple[Any, ...]:
        return (queues[n][0].get("hlc", 0), str(queues[n][0]["node"]), n)

    def ready(event: Event) -> bool:
        if event["event"] != "receive":
            return True
        key = _message(event)
        return sent[key] > 0 or pending[key] == 0

    while True:
        heads = [n for n, q in enumerate(queues) if q]
        if not heads:
            return merged
        n = min([h for h in heads if ready(queues[h][0])] or heads, key=order)
        event = queues[n].popleft()
        if event["event"] == "send":
            key = _message(event)
            sent[key] += 1
            pending[key] -= 1
        merged.append(event)


def _message(event: Event) -> str:
    return json.dumps(event.get("msg"), sort_keys=True)


def load_traces(paths: Iterable[Path]) -> list[Event]:
    streams = [read_ndjson(path) for path in paths]
    if not streams:
        raise TraceError("no trace files")
    return merge(streams)


class TracedCores:
    """A core factory (`wiber.sim` CoreFactory) whose cores trace into one shared list, in
    the order the steps ran; a core built again for a node notes a restart."""

    def __init__(self, core_class: type[RaftCore] = RaftCore) -> None:
        self.core_class = core_class
        self.events: list[Event] = []
        self._booted: set[str] = set()

    def __call__(self, config: Config, storage: LogStorage, rng: Any, applied: int = 0) -> RaftCore:
        core = self.core_class(config, storage, rng, applied)
        core.tracer.enabled = True
        core.tracer.events = self.events  # never taken: the list is the global order
        if core.id in self._booted:
            core.tracer.note("restart")
        self._booted.add(core.id)
        return core


# -- the TLA+ trace module -------------------------------------------------------------------------


def tla(value: Any) -> str:
    """A JSON-like value as a TLA+ value: records, tuples, strings, integers, booleans."""
    if value is None:
        return f'"{NO_VOTE}"'
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # TLA+ strings escape " and \ as JSON does
    if isinstance(value, dict):
        return "[" + ", ".join(f"{k} |-> {tla(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list | tuple):
        return "<<" + ", ".join(tla(v) for v in value) + ">>"
    raise TraceError(f"no TLA+ form for {value!r}")


def _answer(events: list[Event], at: int) -> Event | None:
    """The receiving node's next message (after any role notes), if it answers this one."""
    received = events[at]
    wanted = REPLIES.get(received["msg"]["type"], set())
    for later in events[at + 1 :]:
        if later["node"] != received["node"] or later["event"] in NOTES:
            continue
        msg: Event = later.get("msg", {})
        answers = later["event"] == "send" and msg.get("type") in wanted
        return msg if answers and msg.get("dst") == received["msg"]["src"] else None
    return None


def _received_again(events: list[Event]) -> set[int]:
    """Receives of a message that a later line receives again (the network duplicated it,
    or the sender sent an identical one): TraceRaft keeps those in the network."""
    later: set[str] = set()
    again: set[int] = set()
    for at in range(len(events) - 1, -1, -1):
        event = events[at]
        if event["event"] == "receive":
            key = json.dumps(event["msg"], sort_keys=True)
            if key in later:
                again.add(at)
            later.add(key)
    return again


def trace_lines(events: list[Event]) -> list[Event]:
    """The records TraceRaft.tla reads: only the fields it knows, `answered` on receives."""
    lines: list[Event] = []
    again = _received_again(events)
    for at, event in enumerate(events):
        line: Event = {"event": event["event"], "node": str(event["node"])}
        if "state" in event:
            line["state"] = {k: event["state"][k] for k in STATE_FIELDS}
            if "voters" in event:
                line["state"]["voters"] = sorted(event["voters"])
        if "msg" in event:
            line["msg"] = {k: event["msg"][k] for k in MSG_FIELDS if k in event["msg"]}
        if event["event"] == "receive":
            answer = _answer(events, at)
            line["answered"] = answer is not None
            line["refused"] = answer is not None and bool(answer.get("reject"))
            line["keep"] = at in again
        lines.append(line)
    return lines


def proposals_bound(lines: list[Event]) -> int:
    """How many values the leaders' logs grew by: the size of TraceRaft's Value set."""
    last: dict[str, int] = {}
    grown = 0
    for line in lines:
        state = line.get("state")
        if state is None:
            continue
        previous = last.get(line["node"], state["last_index"])
        if state["role"] == "leader":
            grown += max(0, state["last_index"] - previous)
        last[line["node"]] = state["last_index"]
    return grown + 1


def initial_voters(lines: list[Event]) -> list[str] | None:
    """The configuration the cluster started with: the first one a line shows (a change needs
    a leader, whose lines before it show the first). None for a trace without configurations."""
    for line in lines:
        if "voters" in line.get("state", {}):
            voters: list[str] = line["state"]["voters"]
            return voters
    return None


def unmodelled(events: list[Event]) -> str:
    """Why Raft.tla cannot explain these events at all, or ''."""
    learner = next((e for e in events if e.get("learners")), None)
    if learner is not None:
        return f"learners are not modelled by Raft.tla ({learner['node']}: {learner['learners']})"
    return ""


def write_module(lines: list[Event], directory: Path, pre_vote: bool | None = None) -> Path:
    servers = sorted({line["node"] for line in lines} | _peers(lines))
    voters = initial_voters(lines)
    if pre_vote is None:
        pre_vote = any(line["event"] == "become-pre-candidate" for line in lines)
    chunks = [lines[i : i + CHUNK] for i in range(0, len(lines), CHUNK)] or [[]]
    parts = ["---- MODULE TraceData ----", "EXTENDS Sequences", ""]
    parts.append(f"TraceServer == {{{', '.join(json.dumps(s) for s in servers)}}}")
    values = [f"v{k}" for k in range(1, proposals_bound(lines) + 1)]
    parts.append(f"ValueSeq == {tla(values)}")
    parts.append(f"TracePreVote == {tla(pre_vote)}")
    # An older trace has no configurations: every server is a voter, and appends carry none.
    parts.append(f"TraceInitVoters == {{{', '.join(json.dumps(s) for s in voters or servers)}}}")
    parts.append(f"TraceMembership == {tla(voters is not None)}")
    for n, chunk in enumerate(chunks):
        body = ",\n  ".join(tla(line) for line in chunk)
        parts.append(f"T{n} == <<\n  {body}>>")
    parts.append("Trace == " + " \\o ".join(f"T{n}" for n in range(len(chunks))))
    parts.append("====")
    path = directory / "TraceData.tla"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def _peers(lines: list[Event]) -> set[str]:
    return {str(line["msg"][k]) for line in lines if "msg" in line for k in ("src", "dst")}


# -- running TLC and the verdict ---------------------------------------------------------------


@dataclass
class Verdict:
    status: Status
    events: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # TLC's own CPU time: wall time on a shared machine misleads
    line: int | None = None  # 1-based line of the trace that no behaviour explains
    record: Event | None = None  # that line, as TraceRaft read it
    spec_state: str = ""  # the node's state in the spec when it got stuck
    invariant: str | None = None  # the safety invariant the implementation broke
    states: int | None = None
    detail: str = ""
    output: str = field(default="", repr=False)

    @property
    def exit_code(self) -> int:
        return {"accepted": 0, "rejected": 1, "violated": 1, "error": 2}[self.status]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "valid": {"accepted": True, "error": "unknown"}.get(self.status, False),
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "line": self.line,
            "record": self.record,
            "spec_state": self.spec_state,
            "invariant": self.invariant,
            "distinct_states": self.states,
            "detail": self.detail,
        }

    def summary(self) -> str:
        head = (
            f"trace validation: {self.status} ({self.events} events, {self.seconds:.1f} s, "
            f"{self.cpu_seconds:.1f} s CPU)"
        )
        if self.status == "rejected":
            return (
                f"{head}\nrejected at line {self.line}: {json.dumps(self.record)}\n"
                f"spec state of {self.record and self.record['node']}: {self.spec_state}"
            )
        if self.status == "violated":
            return f"{head}\ninvariant {self.invariant} violated after line {self.line}"
        if self.status == "error":
            return f"{head}\n{self.detail}"
        return head


_STUCK = re.compile(r'^<<"STUCK", (\d+), "[^"]*", (.*)>>\s*$')
_LINE_VAR = re.compile(r"^(\d+)$")


def verdict_from(output: str, violated: str | None, tlc_status: int, lines: list[Event]) -> Verdict:
    """Read TraceRaft's verdict from TLC's output (research/tla.md 6.2, item 4)."""
    verdict = Verdict("error", len(lines), output=output)
    if violated == ACCEPT_INVARIANT:
        verdict.status = "accepted"
    elif violated is not None:
        verdict.status, verdict.invariant = "violated", violated
    elif tlc_status == 0:
        verdict.status = "rejected"
        stuck = [m for m in map(_STUCK.match, output.splitlines()) if m]
        if stuck:
            furthest = max(stuck, key=lambda m: int(m.group(1)))
            verdict.line, verdict.spec_state = int(furthest.group(1)), furthest.group(2)
        else:
            verdict.line = 1
        verdict.record = lines[verdict.line - 1] if verdict.line <= len(lines) else None
    else:
        errors = [x for x in output.splitlines() if x.startswith("Error") or "rror:" in x]
        verdict.detail = "\n".join(errors[-5:]) or f"TLC exit status {tlc_status}"
    return verdict


def validate_events(
    events: list[Event],
    *,
    pre_vote: bool | None = None,
    timeout: float | None = 600.0,
    keep: Path | None = None,
) -> Verdict:
    """Validate events (in one global order) against Raft.tla; never raises on bad traces."""
    lines = trace_lines(events)
    reason = unmodelled(events)
    if reason:
        return Verdict("error", len(lines), detail=reason)
    with tempfile.TemporaryDirectory(prefix="tracevalid-") as scratch:
        work = Path(scratch)
        for name in ("Raft.tla", "TraceRaft.tla", "TraceRaft.cfg"):
            shutil.copy(SPEC_DIR / name, work / name)
        write_module(lines, work, pre_vote)
        if keep is not None:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        cpu_before = _children_cpu()
        try:
            result = run_tlc(TlcOptions(spec=work / "TraceRaft.tla", timeout=timeout))
        except ToolMissing as missing:
            return Verdict("error", len(lines), detail=str(missing))
        cpu = _children_cpu() - cpu_before
    verdict = verdict_from(result.output, result.violated, result.tlc_status, lines)
    if verdict.status == "violated" and result.trace:
        found = _LINE_VAR.match(result.trace[-1].variables.get("l", ""))
        verdict.line = int(found.group(1)) - 1 if found else None
    verdict.seconds, verdict.states = result.seconds, result.distinct_states
    verdict.cpu_seconds = cpu
    return verdict


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def validate_files(paths: Sequence[Path], **options: Any) -> Verdict:
    try:
        events = load_traces(paths)
    except (OSError, TraceError, KeyError) as error:
        return Verdict("error", 0, detail=str(error))
    return validate_events(events, **options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.trace", description=__doc__)
    parser.add_argument("traces", type=Path, nargs="+", help="node trace.jsonl files")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--keep", type=Path, help="keep the generated TLA+ files here")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for TLC")
    args = parser.parse_args(argv)
    verdict = validate_files(args.traces, keep=args.keep, timeout=args.timeout)
    print(json.dumps(verdict.to_json(), indent=2) if args.json else verdict.summary())
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
