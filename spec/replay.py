"""Model-based tests: behaviours of `spec/GenRaft.tla` replayed into `wiber.core.raft.RaftCore`.

    python -m spec.replay [--num N] [--depth D] [--seed S]

TLC's random simulation writes behaviours (`-simulate file=...,num=N`); each is replayed step
by step: the same input goes to the core (a timeout is `campaign()`, a proposal `propose()`, a
delivered message is `step()`, a restart rebuilds the core from its storage), every Ready is
executed as a runtime would, and after every step the whole mapped state of every node is
compared with the spec's (term, vote, role, the terms and kinds of its log, commit, whether
it knows a leader, and a leader's progress of each follower: next, match, probe or
replicate) as are the messages the step sent, every field of them. A core that does what the
spec does not enable (grants a vote the spec refuses, becomes leader without a quorum,
commits an entry of an older term by counting) fails the comparison at that step.

The cores run with one entry per AppendEntries and one AppendEntries in flight per follower
(GenRaft.tla models exactly that flow control) and are never ticked (no heartbeats).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec.tlc_runner import TlcOptions, find_jar, find_java, run_tlc, tlc_command
from wiber.core.memory import MemoryStorage
from wiber.core.plan import Append, InstallSnapshot, SaveHardState, Send, plan
from wiber.core.raft import RaftCore
from wiber.core.types import Config, Entry, EntryKind, HardState, Message, MessageType, Role

SPEC_DIR = Path(__file__).resolve().parent
NIL = "Nil"  # GenRaft.cfg's model value
KINDS = {"normal": EntryKind.NORMAL, "noop": EntryKind.NOOP, "config": EntryKind.CONFIG}

State = dict[str, Any]


class ReplayMismatch(AssertionError):
    """The core and the spec disagree after a step of a behaviour."""

    def __init__(self, step: int, action: str, detail: str) -> None:
        super().__init__(f"step {step} ({action}): {detail}")
        self.step = step


# -- TLC values ---------------------------------------------------------------------------------

_TOKEN = re.compile(r'<<|>>|\|->|:>|@@|[\[\]{}(),]|"(?:[^"\\]|\\.)*"|-?\d+|[A-Za-z_]\w*|\S')
_GOOD_START = re.compile(r'<<|>>|\|->|:>|@@|[\[\]{}(),"\w-]')


def _tokens(text: str) -> list[str]:
    tokens: list[str] = _TOKEN.findall(text)
    for token in tokens:
        # the catch-all `\S` matched something no other token does
        if (len(token) == 1 and not _GOOD_START.match(token)) or token in ('"', "-"):
            raise ValueError(f"cannot read TLC value near {token!r} in {text[:60]!r}")
    return tokens


class _Parser:
    """TLC 2.15's value syntax: numbers, strings, booleans, model values, <<tuples>>, {sets},
    [records] and (k :> v @@ ...) functions (research/tla.md appendix D)."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.at]
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r}, found {token!r}")
        self.at += 1
        return token

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def items(self, close: str) -> Iterator[None]:
        while self.peek() != close:
            yield None
            if self.peek() == ",":
                self.take(",")
        self.take(close)

    def value(self) -> Any:
        token = self.take()
        if token == "<<":
            return tuple(self.value() for _ in self.items(">>"))
        if token == "{":
            return frozenset(_freeze(self.value()) for _ in self.items("}"))
        if token == "[":
            record = {}
            for _ in self.items("]"):
                key = self.take()
                self.take("|->")
                record[key] = self.value()
            return record
        if token == "(":
            return self.function()
        if token.startswith('"'):
            return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if token in ("TRUE", "FALSE"):
            return token == "TRUE"
        if token.lstrip("-").isdigit():
            return int(token)
        return token  # a model value

    def function(self) -> dict[Any, Any]:
        mapping = {}
        while True:
            key = self.value()
            self.take(":>")
            mapping[_freeze(key)] = self.value()
            if self.take() == ")":
                return mapping


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


def parse_value(text: str) -> Any:
    parser = _Parser(text)
    value = parser.value()
    if parser.peek():
        raise ValueError(f"trailing text after a value: {parser.peek()!r}")
    return value


_STATE = re.compile(r"^STATE_\d+ ==\s*$", re.MULTILINE)
_VAR = re.compile(r"^/\\ (\w+) = ", re.MULTILINE)


def parse_behaviour(text: str) -> list[State]:
    """The states of one `-simulate file=` behaviour file."""
    states = []
    seen: dict[str, Any] = {}  # most variables keep their value from one state to the next
    for block in _STATE.split(text.split("\n====")[0])[1:]:
        marks = list(_VAR.finditer(block))
        state = {}
        for mark, following in zip(marks, [*marks[1:], None], strict=True):
            end = following.start() if following else len(block)
            source = block[mark.end() : end]
            if source not in seen:
                seen[source] = parse_value(source)
            state[mark.group(1)] = seen[source]
        states.append(state)
    return states


# -- generating behaviours ------------------------------------------------------------------------


def generate(num: int, depth: int, seed: int, out: Path, timeout: float = 300.0) -> list[Path]:
    """Run TLC's random simulation of GenRaft; returns the behaviour files."""
    with tempfile.TemporaryDirectory(prefix="genraft-meta-") as scratch:
        command = tlc_command(find_java(), find_jar(), Path(scratch))
        command += ["-deadlock", "-metadir", f"{scratch}/states", "-workers", "1"]
        command += ["-seed", str(seed)]
        command += ["-simulate", f"file={out.resolve()}/b,num={num}", "-depth", str(depth)]
        command += ["-config", "GenRaft.cfg", "GenRaft"]
        subprocess.run(command, cwd=SPEC_DIR, capture_output=True, timeout=timeout, check=False)
    return sorted(out.glob("b_*"), key=lambda p: [int(x) for x in p.name.split("_")[1:]])


PURPOSES = (
    "TP_VoteDeniedByLog",
    "TP_StaleResponseIgnored",
    "TP_FollowerTruncates",
    "TP_CommitAfterTermChange",
    "TP_Figure8",
)


def find_purpose(purpose: str, timeout: float = 900.0) -> tuple[str, float]:
    """The shortest behaviour reaching a test purpose (TLC's BFS counterexample to the trap
    invariant), in the `-simulate file=` format that `parse_behaviour` reads, and TLC's
    seconds."""
    config = (SPEC_DIR / "GenPurposes.cfg").read_text()
    with tempfile.TemporaryDirectory(prefix="genpurpose-") as scratch:
        work = Path(scratch)
        for name in ("Raft.tla", "GenRaft.tla", "GenPurposes.tla"):
            shutil.copy(SPEC_DIR / name, work / name)
        (work / "GenPurposes.cfg").write_text(f"{config}INVARIANT {purpose}\n")
        result = run_tlc(TlcOptions(spec=work / "GenPurposes.tla", workers=1, timeout=timeout))
    if result.violated != purpose or not result.trace:
        raise RuntimeError(f"{purpose} not reached: {result.errors or result.verdict}")
    blocks = []
    for state in result.trace:
        lines = [f"/\\ {name} = {value}" for name, value in sorted(state.variables.items())]
        blocks.append(f"STATE_{state.number} ==\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n", result.seconds


# -- replaying -----------------------------------------------------------------------------------


@dataclass
class Node:
    storage: MemoryStorage
    core: RaftCore


class Replay:
    """The cores of one behaviour, driven as a runtime would drive them."""

    def __init__(self, servers: list[str], core_class: type[RaftCore]) -> None:
        self.servers = servers
        self.core_class = core_class
        self.nodes = {n: self._boot(n, MemoryStorage(servers)) for n in servers}

    def _boot(self, name: str, storage: MemoryStorage) -> Node:
        config = Config(
            name, pre_vote=False, check_quorum=False, max_inflight=1, max_append_bytes=1
        )
        return Node(storage, self.core_class(config, storage, random.Random(0)))

    def drain(self, name: str) -> list[Message]:
        node, sent = self.nodes[name], list[Message]()
        while node.core.has_ready():
            ready = node.core.ready()
            for action in plan(ready):
                if isinstance(action, InstallSnapshot):
                    node.storage.apply_snapshot(action.snapshot)
                elif isinstance(action, Append):
                    node.storage.append(action.entries)
                elif isinstance(action, SaveHardState):
                    node.storage.set_hard_state(action.hard_state)
                elif isinstance(action, Send):
                    sent.extend(action.messages)
            node.core.advance(ready)
        return sent

    def apply(self, act: State, commit: int = 0) -> list[Message]:
        """Give the core the step's input; `commit`: the node's commit index after it."""
        name = act["n"]
        if act["e"] == "timeout":
            self.nodes[name].core.campaign()
        elif act["e"] == "propose":
            self.nodes[name].core.propose(str(act["v"]).encode())
        elif act["e"] == "restart":
            # the commit index on disk is the one the spec's restart chose (it is volatile:
            # the runtime does not fsync a commit-only change)
            storage = self.nodes[name].storage
            hard = storage.hard_state
            storage.set_hard_state(HardState(hard.term, hard.vote, commit))
            self.nodes[name] = self._boot(name, storage)
        elif act["e"] == "receive":
            self.nodes[name].core.step(to_message(act["msg"]))
        return self.drain(name) if name in self.nodes else []


def to_entry(index: int, e: State) -> Entry:
    data = b"" if e["kind"] == "noop" else str(e["value"]).encode()
    return Entry(index, e["term"], KINDS[e["kind"]], data)


def to_message(m: State) -> Message:
    return Message(
        MessageType(m["type"]),
        m["src"],
        m["dst"],
        m["term"],
        index=m["index"],
        log_term=m["log_term"],
        entries=tuple(to_entry(m["index"] + k, e) for k, e in enumerate(m["entries"], 1)),
        commit=m["commit"],
        reject=m["reject"],
        reject_hint=m["reject_hint"],
        hint_term=m["hint_term"],
    )


def message_key(m: Message | State) -> tuple[Any, ...]:
    """Every field GenRaft sets; an entry as its term, kind and data."""
    if isinstance(m, Message):
        entries = tuple((e.term, e.kind.value, e.data) for e in m.entries)
        fields = (m.type.value, m.src, m.dst, m.term, m.index, m.log_term, entries)
        return (*fields, m.commit, m.reject, m.reject_hint, m.hint_term)
    entries = tuple(
        (e["term"], KINDS[e["kind"]].value, to_entry(0, e).data) for e in map(dict, m["entries"])
    )
    fields = (m["type"], m["src"], m["dst"], m["term"], m["index"], m["log_term"], entries)
    return (*fields, m["commit"], m["reject"], m["reject_hint"], m["hint_term"])


def elected(state: State, name: str, servers: int) -> bool:
    return state["role"][name] == "candidate" and 2 * len(state["votes"][name]) > servers


def spec_progress(p: State) -> tuple[int, int, str, bool]:
    paused = p["probeSent"] if p["state"] == "probe" else p["inflight"] != 0
    return (p["match"], p["next"], p["state"], paused)


def compare_node(replay: Replay, name: str, state: State) -> list[str]:
    core = replay.nodes[name].core
    servers = len(replay.servers)
    spec_vote = None if state["vote"][name] == NIL else state["vote"][name]
    spec_log = [(e["term"], e["kind"]) for e in state["log"][name]]
    spec_role = state["role"][name]
    pending = elected(state, name, servers)
    if pending:
        # the core becomes leader (and appends its NOOP) in the step that brings the
        # quorum; GenRaft takes LeaderUp as the very next step
        spec_role, spec_log = "leader", [*spec_log, (state["term"][name], "noop")]
    elif spec_role == "candidate" and 2 * len(state["rejects"][name]) > servers:
        spec_role = "follower"  # likewise LOST: GenRaft's give-up comes next
    kinds = {k.value: name for name, k in KINDS.items()}
    core_log = [
        (e.term, kinds[e.kind.value])
        for e in core.log.entries_between(core.log.first_index(), core.log.last_index() + 1)
    ]
    mine = (core.term, core.vote, core.role.value, core_log, core.log.committed)
    spec = (state["term"][name], spec_vote, spec_role, spec_log, state["commit"][name])
    problems = []
    if mine != spec:
        problems.append(f"{name}: core (term, vote, role, log, commit) {mine} != {spec}")
    if spec_role != "leader" and (core.leader is not None) != state["knowsLeader"][name]:
        problems.append(
            f"{name}: core knows leader {core.leader}, spec {state['knowsLeader'][name]}"
        )
    if spec_role == "leader" and not pending:
        for peer in replay.servers:
            if peer == name or peer not in core.prs:
                continue
            pr = core.prs[peer]
            got = (pr.match, pr.next, pr.state.value, pr.is_paused())
            wanted = spec_progress(state["pr"][name][peer])
            if got != wanted:
                problems.append(
                    f"{name}: progress of {peer} (match, next, state, paused) {got} != {wanted}"
                )
    return problems


def compare_messages(sent: list[Message], state: State, before: State) -> list[str]:
    """The messages the spec added are exactly those the core sent, but for a core's message
    identical to one in flight (the spec's network is a set: it cannot hold it twice)."""
    wanted = Counter(message_key(dict(m)) for m in state["messages"] - before["messages"])
    got = Counter(message_key(m) for m in sent)
    in_flight = {message_key(dict(m)) for m in before["messages"]}
    missing = wanted - got
    extra = [k for k in (got - wanted).elements() if k not in in_flight]
    if missing or extra:
        return [f"the core sent {sorted(extra)} and not {sorted(missing.elements())}"]
    return []


def compare(replay: Replay, state: State, sent: list[Message], before: State) -> list[str]:
    """Every difference between the mapped core state and the spec state."""
    problems = [p for name in replay.servers for p in compare_node(replay, name, state)]
    return problems + compare_messages(sent, state, before)


def replay(states: list[State], core_class: type[RaftCore] = RaftCore) -> int:
    """Replay one behaviour; returns its number of steps, raises ReplayMismatch."""
    servers = sorted(states[0]["term"])
    run = Replay(servers, core_class)
    carried: list[Message] = []
    window = states[0]
    for step, state in enumerate(states[1:], 1):
        act = state["act"]
        commit = state["commit"].get(act["n"], 0)
        sent = carried + run.apply(act, commit)
        if act["e"] == "become-leader" and run.nodes[act["n"]].core.role is not Role.LEADER:
            raise ReplayMismatch(step, "become-leader", f"{act['n']} is not leader in the core")
        if any(elected(state, n, len(servers)) for n in servers):
            # the core already sent its appends; the spec sends them in LeaderUp, next
            carried = sent
            problems = [p for name in servers for p in compare_node(run, name, state)]
        else:
            problems = compare(run, state, sent, window)
            carried, window = [], state
        if problems:
            raise ReplayMismatch(step, f"{act['e']} {act['n']}", "; ".join(problems))
    return len(states) - 1


def replay_files(paths: list[Path], core_class: type[RaftCore] = RaftCore) -> int:
    """Replay every behaviour file; returns the total number of steps."""
    return sum(replay(parse_behaviour(p.read_text()), core_class) for p in paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.replay", description=__doc__)
    parser.add_argument("--num", type=int, default=100, help="behaviours to generate")
    parser.add_argument("--depth", type=int, default=40, help="steps per behaviour")
    parser.add_argument("--seed", type=int, default=1, help="TLC's simulation seed")
    parser.add_argument("--purposes", type=Path, help="write the test purposes' fixtures here")
    parser.add_argument("--purpose", action="append", choices=PURPOSES, help="only this one")
    args = parser.parse_args(argv)
    if args.purposes is not None:
        for purpose in args.purpose or PURPOSES:
            behaviour, seconds = find_purpose(purpose)
            (args.purposes / f"{purpose}.behaviour").write_text(behaviour)
            print(f"{purpose}: {len(parse_behaviour(behaviour)) - 1} steps, TLC {seconds:.1f} s")
        return 0
    with tempfile.TemporaryDirectory(prefix="genraft-") as out:
        paths = generate(args.num, args.depth, args.seed, Path(out))
        try:
            steps = replay_files(paths)
        except ReplayMismatch as mismatch:
            print(f"FAIL: {mismatch}")
            return 1
    print(f"{len(paths)} behaviours, {steps} steps replayed: the core matches GenRaft.tla")
    return 0


if __name__ == "__main__":
    sys.exit(main())
