"""Model-based tests: behaviours of `spec/GenRaft.tla` replayed into `wiber.core.raft.RaftCore`.

    python -m spec.replay [--num N] [--depth D] [--seed S]

TLC's random simulation writes behaviours (`-simulate file=...,num=N`); each is replayed step
by step: the same input goes to the core (a timeout is `campaign()`, a delivered message is
`step()`, a restart rebuilds the core from its storage), every Ready is executed as a runtime
would, and after every step the whole mapped state of every node is compared with the spec's
(term, vote, role, the terms of its log, commit) as are the messages the step sent. A core
that does what the spec does not enable (grants a vote the spec refuses, becomes leader
without a quorum) fails the comparison at that step.
"""

from __future__ import annotations

import argparse
import itertools
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
from wiber.core.types import Config, Message, MessageType, Role

SPEC_DIR = Path(__file__).resolve().parent
NIL = "Nil"  # GenRaft.cfg's model value
VOTE_TYPES = {"vote", "vote-resp"}

State = dict[str, Any]


class ReplayMismatch(AssertionError):
    """The core and the spec disagree after a step of a behaviour."""

    def __init__(self, step: int, action: str, detail: str) -> None:
        super().__init__(f"step {step} ({action}): {detail}")
        self.step = step


# -- TLC values ---------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(<<|>>|\|->|:>|@@|[\[\]{}(),]|"(?:[^"\\]|\\.)*"|-?\d+|[A-Za-z_]\w*)')


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            raise ValueError(f"cannot read TLC value at {text[at : at + 30]!r}")
        tokens.append(found.group(1))
        at = found.end()
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
    for block in _STATE.split(text.split("\n====")[0])[1:]:
        marks = list(_VAR.finditer(block))
        state = {}
        for mark, following in zip(marks, [*marks[1:], None], strict=True):
            end = following.start() if following else len(block)
            state[mark.group(1)] = parse_value(block[mark.end() : end])
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


PURPOSES = ("TP_VoteDeniedByLog", "TP_StaleResponseIgnored")


def find_purpose(purpose: str, timeout: float = 600.0) -> str:
    """The shortest behaviour reaching a test purpose (TLC's BFS counterexample to the trap
    invariant), in the `-simulate file=` format that `parse_behaviour` reads."""
    config = (SPEC_DIR / "GenRaft.cfg").read_text().split("INVARIANTS")[0]
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
    return "\n\n".join(blocks) + "\n"


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
        config = Config(name, pre_vote=False, check_quorum=False)
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

    def apply(self, act: State) -> list[Message]:
        name = act["n"]
        if act["e"] == "timeout":
            self.nodes[name].core.campaign()
        elif act["e"] == "restart":
            self.nodes[name] = self._boot(name, self.nodes[name].storage)
        elif act["e"] == "receive":
            self.nodes[name].core.step(to_message(act["msg"]))
        return self.drain(name) if name in self.nodes else []


def to_message(m: State) -> Message:
    return Message(
        MessageType(m["type"]),
        m["src"],
        m["dst"],
        m["term"],
        index=m["index"],
        log_term=m["log_term"],
        reject=m["reject"],
    )


def message_key(m: Message | State) -> tuple[Any, ...]:
    if isinstance(m, Message):
        return (m.type.value, m.src, m.dst, m.term, m.index, m.log_term, m.reject)
    return (m["type"], m["src"], m["dst"], m["term"], m["index"], m["log_term"], m["reject"])


def compare(replay: Replay, state: State, sent: list[Message], before: State) -> list[str]:
    """Every difference between the mapped core state and the spec state."""
    problems = []
    for name in replay.servers:
        core = replay.nodes[name].core
        spec_vote = None if state["vote"][name] == NIL else state["vote"][name]
        spec_log = [entry["term"] for entry in state["log"][name]]
        spec_role = state["role"][name]
        if spec_role == "candidate" and 2 * len(state["votes"][name]) > len(replay.servers):
            # the core becomes leader (and appends its NOOP) in the step that brings the
            # quorum; GenRaft takes BecomeLeader as the very next step
            spec_role, spec_log = "leader", [*spec_log, state["term"][name]]
        elif spec_role == "candidate" and 2 * len(state["rejects"][name]) > len(replay.servers):
            spec_role = "follower"  # likewise LOST: GenRaft's give-up comes next
        core_log = [core.log.term(i) for i in range(1, core.log.last_index() + 1)]
        mine = (core.term, core.vote, core.role.value, core_log, core.log.committed)
        spec = (state["term"][name], spec_vote, spec_role, spec_log, state["commit"][name])
        if mine != spec:
            problems.append(f"{name}: core (term, vote, role, log terms, commit) {mine} != {spec}")
    new = [m for m in state["messages"] - before["messages"] if dict(m)["type"] in VOTE_TYPES]
    wanted = Counter(message_key(dict(m)) for m in new)
    got = Counter(message_key(m) for m in sent if m.type.value in VOTE_TYPES)
    if got != wanted:
        problems.append(
            f"sent {sorted(got.elements())} but the spec sent {sorted(wanted.elements())}"
        )
    return problems


def replay(states: list[State], core_class: type[RaftCore] = RaftCore) -> int:
    """Replay one behaviour; returns its number of steps, raises ReplayMismatch."""
    servers = sorted(states[0]["term"])
    run = Replay(servers, core_class)
    for step, (before, state) in enumerate(itertools.pairwise(states), 1):
        act = state["act"]
        sent = run.apply(act)
        if act["e"] == "become-leader" and run.nodes[act["n"]].core.role is not Role.LEADER:
            raise ReplayMismatch(step, "become-leader", f"{act['n']} is not leader in the core")
        problems = compare(run, state, sent, before)
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
    args = parser.parse_args(argv)
    if args.purposes is not None:
        for purpose in PURPOSES:
            behaviour = find_purpose(purpose)
            (args.purposes / f"{purpose}.behaviour").write_text(behaviour)
            print(f"{purpose}: {len(parse_behaviour(behaviour)) - 1} steps")
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
