"""The interaction environment for golden core tests (etcd raft's `rafttest.InteractionEnv`).

A script is a sequence of blocks: a command line, a `----` line, and the expected output (no
blank lines inside; an empty output is written `ok`). Lines starting with `#` between blocks are
comments. The environment plays the runtime for every node: it executes `plan(ready)` against a
`MemoryStorage`, queues sent messages in a network it controls, and prints what happens.

Verbs (nodes are named n1, n2, ...):
  add-nodes COUNT [pre-vote=B] [check-quorum=B] [voters=a,b] [max-inflight=N]
                  [max-append-bytes=N]   (empty `voters=` makes nodes that wait to be added)
  campaign N | propose N DATA | conf-change N add-voter|add-learner|remove NODE
  transfer N TO | read-index N CTX | tick N [COUNT] | tick-election N | tick-heartbeat N
  process-ready [N...] | deliver [N...] | stabilize [N...]
  drop [FROM [TO]] | partition A,B [C,D ...] | heal | crash N | restart N
  compact N INDEX | log N | status [N...] | report-unreachable N PEER
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wiber.core.describe import describe_entries, describe_message, describe_ready, describe_status
from wiber.core.errors import ProposalDropped
from wiber.core.memory import MemoryStorage
from wiber.core.plan import Append, Apply, InstallSnapshot, SaveHardState, Send, plan
from wiber.core.raft import RaftCore
from wiber.core.types import (
    Config,
    ConfigChange,
    ConfigChangeType,
    Entry,
    Message,
    Role,
    SoftState,
)


@dataclass
class Node:
    storage: MemoryStorage
    config: Config
    core: RaftCore | None
    applied: list[Entry] = field(default_factory=list)
    soft: SoftState | None = None  # the last soft state printed


class InteractionEnv:
    def __init__(self, core_class: type[RaftCore] = RaftCore) -> None:
        self.core_class = core_class
        self.nodes: dict[str, Node] = {}
        self.network: list[Message] = []
        self.cuts: set[frozenset[str]] = set()
        self.out: list[str] = []

    # -- plumbing ---------------------------------------------------------------------------

    def core(self, name: str) -> RaftCore:
        core = self.nodes[name].core
        if core is None:
            raise ValueError(f"{name} is crashed")
        return core

    def _make_core(self, node: Node, applied: int = 0) -> RaftCore:
        seed = int(node.config.id.lstrip("n") or 0)
        return self.core_class(node.config, node.storage, random.Random(seed), applied)

    def _live(self, names: list[str]) -> list[str]:
        return [n for n in (names or list(self.nodes)) if self.nodes[n].core is not None]

    def process_ready(self, name: str) -> bool:
        node = self.nodes[name]
        core = self.core(name)
        if not core.has_ready():
            return False
        rd = core.ready()
        self.out.append(f"> {name} ready")
        self.out.extend("  " + line for line in describe_ready(rd, rd.soft_state != node.soft))
        node.soft = rd.soft_state
        for action in plan(rd):
            if isinstance(action, InstallSnapshot):
                node.storage.apply_snapshot(action.snapshot)
                node.applied = []
            elif isinstance(action, Append):
                node.storage.append(action.entries)
            elif isinstance(action, SaveHardState):
                node.storage.set_hard_state(action.hard_state)
            elif isinstance(action, Send):
                self.network.extend(action.messages)
            elif isinstance(action, Apply):
                node.applied.extend(action.entries)
        core.advance(rd)
        return True

    def deliver(self, names: list[str]) -> bool:
        targets = set(names or self.nodes)
        now = [m for m in self.network if m.dst in targets]
        self.network = [m for m in self.network if m.dst not in targets]
        for m in now:
            if frozenset((m.src, m.dst)) in self.cuts:
                self.out.append(f"  dropped (partition): {describe_message(m)}")
            elif self.nodes[m.dst].core is None:
                self.out.append(f"  dropped (crashed): {describe_message(m)}")
            else:
                self.out.append(f"> {m.dst} receive {describe_message(m)}")
                self.core(m.dst).step(m)
        return bool(now)

    def stabilize(self, names: list[str]) -> None:
        for _ in range(1000):
            busy = False
            for name in self._live(names):
                busy = self.process_ready(name) or busy
            busy = self.deliver(names) or busy
            if not busy:
                return
        raise RuntimeError("stabilize did not converge")

    # -- verbs ------------------------------------------------------------------------------

    def handle(self, line: str) -> str:
        self.out = []
        verb, *args = line.split()
        handler = VERBS.get(verb)
        if handler is None:
            raise ValueError(f"unknown verb {verb!r}")
        try:
            handler(self, args)
        except ProposalDropped as err:
            self.out.append(f"dropped: {err.reason} (leader: {err.leader_hint or '-'})")
        return "\n".join(self.out) if self.out else "ok"

    def add_nodes(self, args: list[str]) -> None:
        count, opts = int(args[0]), _options(args[1:])
        first = len(self.nodes) + 1
        names = [f"n{i}" for i in range(first, first + count)]
        voters = opts["voters"].split(",") if "voters" in opts else names
        for name in names:
            config = Config(
                name,
                pre_vote=opts.get("pre-vote", "true") == "true",
                check_quorum=opts.get("check-quorum", "true") == "true",
                max_inflight=int(opts.get("max-inflight", "256")),
                max_append_bytes=int(opts.get("max-append-bytes", str(1 << 20))),
            )
            node = Node(MemoryStorage([v for v in voters if v]), config, None)
            node.core = self._make_core(node)
            self.nodes[name] = node
        self.out.append("added " + " ".join(names))

    def tick(self, args: list[str]) -> None:
        for _ in range(int(args[1]) if len(args) > 1 else 1):
            self.core(args[0]).tick()

    def tick_election(self, args: list[str]) -> None:
        core = self.core(args[0])
        timeout = core.config.election_ticks
        if core.role is not Role.LEADER:
            timeout = core.randomized_timeout
        for _ in range(timeout - core.election_elapsed):
            core.tick()

    def tick_heartbeat(self, args: list[str]) -> None:
        core = self.core(args[0])
        for _ in range(core.config.heartbeat_ticks):
            core.tick()

    def conf_change(self, args: list[str]) -> None:
        change = ConfigChange(ConfigChangeType(args[1]), args[2])
        index = self.core(args[0]).propose_conf_change(change)
        self.out.append(f"index {index}")

    def drop(self, args: list[str]) -> None:
        def doomed(m: Message) -> bool:
            return (not args or m.src == args[0]) and (len(args) < 2 or m.dst == args[1])

        for m in self.network:
            if doomed(m):
                self.out.append(f"dropped: {describe_message(m)}")
        self.network = [m for m in self.network if not doomed(m)]

    def partition(self, args: list[str]) -> None:
        groups = [g.split(",") for g in args]
        if len(groups) == 1:
            groups.append([n for n in self.nodes if n not in groups[0]])
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                self.cuts.update(frozenset((a, b)) for a in group for b in other)
        self.out.append(" | ".join(",".join(g) for g in groups))

    def crash(self, args: list[str]) -> None:
        # every Ready was fully executed and synced, so the storage is exactly the disk
        self.nodes[args[0]].core = None
        self.network = [m for m in self.network if m.dst != args[0]]

    def restart(self, args: list[str]) -> None:
        node = self.nodes[args[0]]
        node.applied = []  # the state machine is rebuilt from the log (and snapshot)
        node.core = self._make_core(node)
        node.soft = None
        self.out.extend(describe_status(node.core.status()))

    def compact(self, args: list[str]) -> None:
        name, index = args[0], int(args[1])
        storage, core = self.nodes[name].storage, self.core(name)
        storage.create_snapshot(index, core.conf_at(index), b"")
        storage.compact(index)
        self.out.append(f"{name}: log starts after {storage.first_index() - 1}")

    def log(self, args: list[str]) -> None:
        core = self.core(args[0])
        entries = core.log.entries_between(core.log.first_index(), core.log.last_index() + 1)
        start = core.log.first_index() - 1
        self.out.append(f"{args[0]}: after {start} {describe_entries(entries)}")

    def status(self, args: list[str]) -> None:
        for name in args or list(self.nodes):
            core = self.nodes[name].core
            if core is None:
                self.out.append(f"{name}: crashed")
            else:
                self.out.extend(describe_status(core.status()))


def _options(args: list[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in args)


def _propose(env: InteractionEnv, args: list[str]) -> None:
    index = env.core(args[0]).propose(" ".join(args[1:]).encode())
    env.out.append(f"index {index}")


VERBS: dict[str, Callable[[InteractionEnv, list[str]], object]] = {
    "add-nodes": InteractionEnv.add_nodes,
    "campaign": lambda env, a: env.core(a[0]).campaign(),
    "propose": _propose,
    "conf-change": InteractionEnv.conf_change,
    "transfer": lambda env, a: env.core(a[0]).transfer_leadership(a[1]),
    "read-index": lambda env, a: env.core(a[0]).read_index(a[1].encode()),
    "report-unreachable": lambda env, a: env.core(a[0]).report_unreachable(a[1]),
    "tick": InteractionEnv.tick,
    "tick-election": InteractionEnv.tick_election,
    "tick-heartbeat": InteractionEnv.tick_heartbeat,
    "process-ready": lambda env, a: [env.process_ready(n) for n in env._live(a)],
    "deliver": lambda env, a: env.deliver(a),
    "stabilize": lambda env, a: env.stabilize(a),
    "drop": InteractionEnv.drop,
    "partition": InteractionEnv.partition,
    "heal": lambda env, a: env.cuts.clear(),
    "crash": InteractionEnv.crash,
    "restart": InteractionEnv.restart,
    "compact": InteractionEnv.compact,
    "log": InteractionEnv.log,
    "status": InteractionEnv.status,
}


# -- script files ---------------------------------------------------------------------------


@dataclass
class Block:
    comments: list[str]
    command: str
    expected: list[str]


def parse_script(text: str) -> tuple[list[Block], list[str]]:
    """Blocks, plus trailing comment lines."""
    blocks: list[Block] = []
    comments: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            comments.append(line)
            i += 1
            continue
        if i + 1 >= len(lines) or lines[i + 1] != "----":
            raise ValueError(f"line {i + 1}: expected '----' after {line!r}")
        i += 2
        expected: list[str] = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i])
            i += 1
        blocks.append(Block(comments, line, expected))
        comments = []
    return blocks, comments


def run_script(text: str, core_class: type[RaftCore] = RaftCore) -> str:
    """Run every block; return the script with actual outputs in place of the expected."""
    blocks, trailing = parse_script(text)
    env = InteractionEnv(core_class)
    out: list[str] = []
    for block in blocks:
        out.extend(block.comments)
        out.extend([block.command, "----", env.handle(block.command)])
    out.extend(trailing)
    return "\n".join(out) + "\n"


def script_paths() -> list[Path]:
    return sorted((Path(__file__).parent / "testdata").glob("*.txt"))
