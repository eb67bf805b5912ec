"""One simulated node: a core, its disk and its state machine, driven as a runtime would.

The node executes `plan(ready)` action by action against the simulated disk and network, and
checks the two rules only an executor can see: messages leave only after what they promise is
durable (persist-before-send), and only committed entries are applied, in order. A crash drops
the core and the state machine; a restart rebuilds both from what the disk kept, exactly as a
real node would recover.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from wiber.clocks.hlc import HybridClock
from wiber.core.plan import Append, Apply, InstallSnapshot, SaveHardState, Send, ServeReads, Sync
from wiber.core.plan import plan as plan_ready
from wiber.core.types import (
    Config,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Ready,
    Role,
)
from wiber.sim.clock import SimClock, Stamper, stamp_like_runtime
from wiber.sim.coreapi import Core, CoreFactory
from wiber.sim.disk import DiskState, SimDisk
from wiber.sim.invariants import LogView, NodeView
from wiber.sim.machine import BrokerMachine


def _unbacked_promise(message: Message, durable: DiskState) -> str | None:
    """What a message promises that the durable state does not hold (Raft Figure 2: persistent
    state is updated on stable storage before responding to RPCs)."""
    if message.type is MessageType.VOTE_RESP and not message.reject:
        hard_state = durable.hard_state
        if (hard_state.term, hard_state.vote) != (message.term, message.dst):
            return (
                f"granted its vote in term {message.term} to {message.dst} but its disk holds "
                f"term {hard_state.term} vote {hard_state.vote}"
            )
    if (
        message.type is MessageType.APPEND_RESP
        and not message.reject
        and durable.last_index() < message.index
    ):
        return (
            f"acknowledged entries up to {message.index} but its disk holds only "
            f"{durable.last_index()}"
        )
    return None


class ViolationError(Exception):
    """A safety property broke while a node executed a Ready."""

    def __init__(self, prop: str, detail: str) -> None:
        super().__init__(f"{prop}: {detail}")
        self.prop = prop
        self.detail = detail


@dataclass
class NodeHooks:
    """How a node reaches the rest of the world (network, clients)."""

    send: Callable[[Message], None]
    applied: Callable[[SimNode, Entry, tuple[int, ...]], None]
    reads: Callable[[SimNode, tuple[ReadState, ...]], None]
    compacting: Callable[[SimNode], None]  # the last chance to see the entries about to go
    voted: Callable[[NodeId, int, NodeId], None]  # (voter, term, candidate), self-votes too
    stamped: Callable[[SimNode, int], None] = lambda node, hlc: None  # every HLC value issued
    now_us: Callable[[], int] = lambda: 0  # virtual time, for the wall clock


@dataclass
class NodeStats:
    readies: int = 0
    applied: int = 0
    crashes: int = 0


@dataclass
class SimNode:
    id: NodeId
    config: Config
    disk: SimDisk
    core_factory: CoreFactory
    compact_every: int
    rng: random.Random
    hooks: NodeHooks
    core: Core | None = None
    machine: BrokerMachine | None = None
    paused: bool = False
    inbox: list[Message] = field(default_factory=list)
    incarnation: int = 0
    role: Role = Role.FOLLOWER
    leader: NodeId | None = None
    term: int = 0
    commit: int = 0
    applied_index: int = 0
    applied_view: LogView = field(default_factory=LogView)
    stats: NodeStats = field(default_factory=NodeStats)
    clock: SimClock = field(default_factory=SimClock)
    stamper: Stamper = stamp_like_runtime
    machine_factory: Callable[[Callable[[int], bytes]], BrokerMachine] = BrokerMachine
    max_clock_offset_ms: int = 500  # the runtime's default
    hlc: HybridClock | None = None
    hlc_bound: int = 0  # the durable HLC bound (the runtime's clock-bound file)
    _view: NodeView | None = None

    @property
    def up(self) -> bool:
        return self.core is not None

    @property
    def running(self) -> bool:
        return self.core is not None and not self.paused

    def start(self) -> None:
        """Boot (or reboot) from the disk: the state machine restarts from the snapshot."""
        hard_state, _ = self.disk.initial_state()
        snapshot = self.disk.snapshot()
        self._restore(snapshot.index, snapshot.term, snapshot.data)
        rng = random.Random(self.rng.getrandbits(64))
        self.core = self.core_factory(self.config, self.disk, rng, snapshot.index)
        self.hlc = HybridClock(self.id, self.max_clock_offset_ms, floor=self.hlc_bound)
        self._persist_hlc_bound()
        self.incarnation += 1
        self.role, self.leader = Role.FOLLOWER, None
        self.term, self.commit = hard_state.term, hard_state.commit
        self.paused = False
        self.inbox = []

    def crash(self, power_loss: bool, rng: random.Random, tear: bool) -> str:
        self.core = None
        self.machine = None
        self.hlc = None
        self.paused = False
        self.inbox = []
        self.stats.crashes += 1
        if power_loss:
            return self.disk.crash_power(rng, tear)
        self.disk.crash_process()
        return "process crash: written data kept"

    def view(self) -> NodeView:
        """The node as the checks see it; rebuilt only when something in it changed."""
        signature = (self.incarnation, self.disk.writes, self.applied_index, self.commit)
        cached = self._view
        if (
            cached is not None
            and cached.signature == signature
            and cached.up == self.up
            and (cached.role, cached.term) == (self.role, self.term)
        ):
            return cached
        current = self.disk.current
        log = LogView(current.snapshot.index, current.snapshot.term, current.entries)
        self._view = NodeView(
            self.id, self.up, self.incarnation, self.role, self.term, self.commit, log,
            self.applied_view, signature,
        )  # fmt: skip
        return self._view

    def wall_ms(self) -> int:
        return self.clock.reading_ms(self.hooks.now_us())

    def stamp(self) -> int:
        """The HLC a publish proposed here now carries (the leader stamps at propose time)."""
        clock = self.hlc
        if clock is None:
            raise ViolationError("Simulator", f"{self.id} stamped while down")
        value = self.stamper(clock, self.wall_ms(), self._persist_hlc_bound)
        self.hooks.stamped(self, value)
        return value

    def _persist_hlc_bound(self) -> None:
        clock = self.hlc
        if clock is not None:
            self.hlc_bound = clock.persist_bound(self.wall_ms())
            clock.bound_persisted(self.hlc_bound)

    def core_or_fail(self) -> Core:
        core = self.core
        if core is None:
            raise ViolationError("Simulator", f"{self.id} driven while down")
        return core

    def conf(self) -> ConfState:
        return self.core_or_fail().status().conf

    # Inputs. Each runs the core, then executes every Ready it produced.
    def tick(self) -> bool:
        self.core_or_fail().tick()
        return self.drain()

    def deliver(self, message: Message) -> bool:
        if self.paused:
            self.inbox.append(message)
            return False
        self.core_or_fail().step(message)
        return self.drain()

    def resume(self) -> list[Message]:
        """Run again; returns the messages that arrived while paused, for delivery in order."""
        self.paused = False
        held, self.inbox = self.inbox, []
        return held

    def drain(self) -> bool:
        core = self.core_or_fail()
        changed = False
        while core.has_ready():
            ready = core.ready()
            self.execute(ready)
            core.advance(ready)
            changed = True
        if changed:
            self._maybe_compact(core)
        return changed

    def _maybe_compact(self, core: Core) -> None:
        """Snapshot the state machine at the applied index and drop the Raft log up to it (the
        message bodies stay readable from the disk's archive).

        Frequent compaction is deliberate: it sends lagging and restarted followers through
        InstallSnapshot, a path that a long log would hide.
        """
        snapshot = self.disk.snapshot()
        if self.compact_every <= 0 or self.applied_index - snapshot.index < self.compact_every:
            return
        machine = self.machine
        if machine is None:
            return
        index = self.applied_index
        self.hooks.compacting(self)
        self.disk.compact(index, core.conf_at(index), machine.snapshot())
        self.disk.sync()
        self.applied_view = LogView(index, self.disk.snapshot().term, [])

    def execute(self, ready: Ready) -> None:
        self.stats.readies += 1
        self.role, self.leader = ready.soft_state.role, ready.soft_state.leader
        for action in plan_ready(ready):
            match action:
                case InstallSnapshot(snapshot):
                    self.disk.install_snapshot(snapshot)
                    self._restore(snapshot.index, snapshot.term, snapshot.data)
                case Append(entries):
                    self._append(entries)
                case SaveHardState(hard_state):
                    self._check_commit_rule(hard_state)
                    if hard_state.vote is not None:
                        self.hooks.voted(self.id, hard_state.term, hard_state.vote)
                    self.disk.save_hard_state(hard_state)
                    self.term, self.commit = hard_state.term, hard_state.commit
                case Sync():
                    self.disk.sync()
                case Send(messages):
                    self._send(messages)
                case Apply(entries):
                    for entry in entries:
                        self._apply(entry)
                case ServeReads(read_states):
                    self.hooks.reads(self, read_states)

    def _restore(self, index: int, term: int, data: bytes) -> None:
        """A state machine from a snapshot; it serves topics from the first body it still has
        (a node installed from a leader's snapshot lacks the bodies below it)."""
        machine = self.machine_factory(self.disk.body)
        machine.restore(data, self.disk.bodies_from(index))
        self.machine = machine
        self.applied_index = index
        self.applied_view = LogView(index, term, [])

    def _append(self, entries: tuple[Entry, ...]) -> None:
        if not entries:
            return
        if self.role is Role.LEADER and entries[0].index <= self.disk.last_index():
            raise ViolationError(
                "Leader Append-Only",
                f"{self.id} (leader, term {self.term}) truncated its log at {entries[0].index}",
            )
        self.disk.append(entries)

    def _check_commit_rule(self, hard_state: HardState) -> None:
        """Raft 5.4.2 (Figure 8): a leader commits by counting replicas only of its own term's
        entries; older entries commit only indirectly, beneath one of those."""
        if self.role is not Role.LEADER or hard_state.commit <= self.commit:
            return
        term = self.disk.term(hard_state.commit)
        if term != hard_state.term:
            raise ViolationError(
                "Leader Commits Current Term",
                f"{self.id} (leader, term {hard_state.term}) advanced its commit index to "
                f"{hard_state.commit}, an entry of term {term}",
            )

    def _send(self, messages: tuple[Message, ...]) -> None:
        promise = self.disk.unsynced_promise()
        if promise is not None:
            raise ViolationError(
                "Persist Before Send", f"{self.id} sent {len(messages)} messages with {promise}"
            )
        durable = self.disk.durable
        for message in messages:
            broken = _unbacked_promise(message, durable)
            if broken is not None:
                raise ViolationError("Persist Before Send", f"{self.id} {broken}")
            self.hooks.send(message)

    def _apply(self, entry: Entry) -> None:
        if entry.index != self.applied_index + 1:
            raise ViolationError(
                "State Machine Safety",
                f"{self.id} applied {entry.index} after {self.applied_index}",
            )
        if entry.index > self.commit:
            raise ViolationError(
                "State Machine Safety",
                f"{self.id} applied {entry.index} beyond its commit index {self.commit}",
            )
        machine = self.machine
        if machine is None:
            raise ViolationError("Simulator", f"{self.id} applied without a state machine")
        normal = entry.kind is EntryKind.NORMAL and bool(entry.data)
        published = machine.apply(entry.index, entry.data if normal else None)
        self.applied_index = entry.index
        self.applied_view.entries.append(entry)
        self.stats.applied += 1
        self.hooks.applied(self, entry, published)
