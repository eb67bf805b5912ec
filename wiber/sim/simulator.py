"""A whole cluster in one thread, from one seed: `simulate(seed, ...) -> SimResult`.

Theory of operation. One `random.Random(seed)` draws, in a fixed order, the seeds of every
component (disks, network, nodes, clients, nemesis, swarm knobs, then the wall clocks and the
causal workload, drawn last so that the earlier ones did not move when they came), so adding a
draw in one component never shifts another's. One `EventQueue` orders everything that
happens: node ticks, message deliveries, client steps, faults. After every event that changed
some node, the safety checks of `wiber.sim.invariants` run over the whole cluster; the first
violation ends the run.

A run has two phases. During the fault phase the nemesis starts and stops faults. At its end
everything heals (nodes restart and resume, the network becomes perfect), clients stop
starting ops soon after, and the quiet phase checks liveness: a leader within a bounded
virtual time that commits an entry of its own term, and no client proposal left pending in
its log. The run ends as soon as that holds (the settled cluster has nothing left to show),
or fails with a `Liveness` violation at the bound.

Each node has its own wall clock (`wiber.sim.clock`), which only its hybrid logical clock
reads: leaders stamp publishes with the runtime's HLC code, and the clock nemesis skews the
clocks. With `SimOptions.causal`, a causal workload (`wiber.sim.causal`) runs beside the log
workload. Three more checks (`wiber.sim.ordering`) watch time and causality as the run goes:
HLC Monotonic Per Node, Timestamp Monotonic Per Topic and Causal Delivery.

Per-seed knobs (`_swarm`) vary batch sizes, windows, client load, nemesis pace and the
election options, so that a sweep covers many regimes; `SimOptions.tuning` overrides them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.history import Op
from wiber.core.types import (
    Config,
    ConfState,
    Entry,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Role,
)
from wiber.invariant import InvariantViolation
from wiber.sim import invariants, ordering
from wiber.sim.causal import (
    CausalOptions,
    CausalWorkload,
    ReorderFactory,
    Subscriber,
    real_reorder_buffer,
)
from wiber.sim.clients import ClientOptions, Clients, Recorder
from wiber.sim.clock import SimClock, Stamper, stamp_like_runtime
from wiber.sim.coreapi import DEFAULT_CORE, CoreFactory
from wiber.sim.disk import SimDisk
from wiber.sim.events import EventQueue
from wiber.sim.machine import BrokerMachine
from wiber.sim.nemesis import FAULT_KINDS, Nemesis, NemesisOptions
from wiber.sim.network import Network
from wiber.sim.node import NodeHooks, SimNode, ViolationError
from wiber.sim.trace import Trace

TICK_US = 10_000
# A leader must exist this long after the heal. Without pre-vote it may take many rounds: a
# lagging candidate's higher term resets the election timer of the node that could win (etcd
# does the same), so each round that node times out first only with some probability.
LEADER_BOUND_US = 800_000
LEADER_BOUND_NO_PRE_VOTE_US = 3_000_000
QUIET_AFTER_LEADER_US = 400_000  # the quiet phase ends this long after the leader bound
CLIENT_TIMEOUT_US = 500_000
CLIENTS_AFTER_HEAL_US = 300_000  # clients keep starting ops this long into the quiet phase
SETTLED_PROBE_US = 50_000
CAUSAL_MAX_WAIT_MS = (
    2,
    20,
    150,
    1_000,
)  # how often the quiet phase asks whether the cluster has settled


@dataclass(frozen=True)
class SimOptions:
    seed: int
    nodes: int = 3
    faults: frozenset[str] = frozenset(FAULT_KINDS)
    time_s: float = 2.0  # the fault phase, in virtual seconds; the quiet phase comes after
    clients: int | None = None  # client slots (default: a swarm knob)
    compact_every: int = 64
    election_ticks: int = 10
    heartbeat_ticks: int = 2
    tuning: tuple[tuple[str, Any], ...] = ()  # overrides of the per-seed swarm knobs
    # Nodes outside the configuration at first (default: one with membership faults, else none).
    spares: int | None = None
    causal: bool = False  # run the causal workload beside the log workload
    causal_producers: int = 2
    causal_subscribers: int = 2


MachineFactory = Callable[[Callable[[int], bytes]], BrokerMachine]


@dataclass(frozen=True)
class SimParts:
    """The parts of a node and of a client that tests swap for broken ones (mutants)."""

    stamp: Stamper = stamp_like_runtime
    machine: MachineFactory = BrokerMachine
    reorder: ReorderFactory = real_reorder_buffer


@dataclass
class SimResult:
    seed: int
    violation: invariants.Violation | None
    trace: list[str]
    history: list[Op]
    events: int
    virtual_us: int
    stats: dict[str, int] = field(default_factory=dict)
    subscribers: list[Subscriber] = field(default_factory=list)  # the causal workload's

    @property
    def ok(self) -> bool:
        return self.violation is None


class Simulator:
    def __init__(
        self,
        options: SimOptions,
        core_factory: CoreFactory = DEFAULT_CORE,
        history_path: Path | None = None,
        parts: SimParts = SimParts(),
    ) -> None:
        self.options = options
        self.parts = parts
        self.queue = EventQueue()
        world_rng = random.Random(options.seed)
        seeds = [world_rng.getrandbits(64) for _ in range(8)]
        self._disk_rng = random.Random(seeds[0])
        self.network = Network(self.queue, random.Random(seeds[1]), self._deliver)
        self.ghost = invariants.Ghost()
        self.hlc_check = ordering.HlcMonotonicPerNode()
        self.timestamp_check = ordering.TimestampMonotonicPerTopic()
        self.trace = Trace(self.queue)
        self.recorder = Recorder(self.queue, history_path)
        self.tuning = _swarm(random.Random(seeds[5])) | dict(options.tuning)
        self.nodes = self._build_nodes(
            options, core_factory, random.Random(seeds[2]), random.Random(seeds[6])
        )
        self.fault_end_us = int(options.time_s * 1_000_000)
        pre_vote = self.tuning["pre_vote"]
        self.leader_bound_us = LEADER_BOUND_US if pre_vote else LEADER_BOUND_NO_PRE_VOTE_US
        self.end_us = self.fault_end_us + self.leader_bound_us + QUIET_AFTER_LEADER_US
        self.clients = Clients(
            self.queue,
            random.Random(seeds[3]),
            self.nodes,
            self.recorder,
            ClientOptions(
                options.clients or self.tuning["clients"],
                timeout_us=CLIENT_TIMEOUT_US,
                stop_us=self.fault_end_us + CLIENTS_AFTER_HEAL_US,
                think_us=self.tuning["think_us"],
            ),
            self.drain,
            self._acknowledged,
        )
        self.causal: CausalWorkload | None = None
        if options.causal:
            causal_rng = random.Random(seeds[7])
            self.causal = CausalWorkload(
                self.queue,
                causal_rng,
                self.nodes,
                CausalOptions(
                    options.causal_producers,
                    options.causal_subscribers,
                    timeout_us=CLIENT_TIMEOUT_US,
                    stop_us=self.fault_end_us + CLIENTS_AFTER_HEAL_US,
                    # A short bound forces marked deliveries; a long one, causal waits.
                    max_wait_ms=causal_rng.choice(CAUSAL_MAX_WAIT_MS),
                ),
                self.drain,
                parts.reorder,
            )
        self.nemesis = Nemesis(
            self,
            random.Random(seeds[4]),
            NemesisOptions(
                options.faults,
                self.fault_end_us,
                interval_us=self.tuning["nemesis_interval_us"],
                min_voters=options.nodes,
            ),
        )
        self._dirty = False
        self._settled = False
        self._votes: dict[tuple[NodeId, int], NodeId] = {}

    def _build_nodes(
        self,
        options: SimOptions,
        core_factory: CoreFactory,
        rng: random.Random,
        clock_rng: random.Random,
    ) -> dict[NodeId, SimNode]:
        voters = tuple(f"n{i}" for i in range(1, options.nodes + 1))
        spares = options.spares
        if spares is None:
            spares = 1 if "membership" in options.faults else 0
        names = [f"n{i}" for i in range(1, options.nodes + spares + 1)]
        hooks = NodeHooks(
            self._send,
            self._applied,
            self._read_states,
            self._compacting,
            self._voted,
            self._stamped,
            self.now_us,
        )
        nodes = {}
        for name in names:
            config = Config(
                id=name,
                election_ticks=options.election_ticks,
                heartbeat_ticks=options.heartbeat_ticks,
                max_inflight=self.tuning["max_inflight"],
                max_append_bytes=self.tuning["max_append_bytes"],
                pre_vote=self.tuning["pre_vote"],
                check_quorum=self.tuning["check_quorum"],
            )
            disk = SimDisk(ConfState(voters=voters))
            node_rng = random.Random(rng.getrandbits(64))
            nodes[name] = SimNode(
                name, config, disk, core_factory, options.compact_every, node_rng, hooks,
                clock=SimClock.drawn(clock_rng), stamper=self.parts.stamp,
                machine_factory=self.parts.machine,
            )  # fmt: skip
        return nodes

    # The World the nemesis and clients act on.
    def now_us(self) -> int:
        return self.queue.now_us

    def after(self, delay_us: int, action: Callable[[], None]) -> None:
        self.queue.after(delay_us, action)

    def at(self, time_us: int, action: Callable[[], None]) -> None:
        """Schedule a scripted step (scenario tests), checked like any other event."""
        self.queue.at(time_us, lambda: self._scripted(action))

    def _scripted(self, action: Callable[[], None]) -> None:
        action()
        self._dirty = True

    def record_nemesis(self, f: str, value: dict[str, Any]) -> None:
        self.recorder.record("nemesis", "info", f, value)
        self.trace.note("nemesis", f"{f} {value}")

    def crash(self, node: SimNode, power_loss: bool) -> None:
        detail = node.crash(power_loss, self._disk_rng, tear="disk" in self.options.faults)
        self.clients.crashed(node)
        if self.causal is not None:
            self.causal.crashed(node)
        kind = "power-loss" if power_loss else "crash"
        self.record_nemesis("start", {"nemesis": kind, "targets": [node.id], "disk": detail})
        self._dirty = True

    def restart(self, node: SimNode) -> None:
        node.start()
        self.record_nemesis("stop", {"nemesis": "crash", "targets": [node.id]})
        self._dirty = True

    def pause(self, node: SimNode) -> None:
        node.paused = True
        self.record_nemesis("start", {"nemesis": "pause", "targets": [node.id]})

    def resume(self, node: SimNode) -> None:
        self.record_nemesis("stop", {"nemesis": "pause", "targets": [node.id]})
        for message in node.resume():
            self._deliver_now(message)

    def _deliver_now(self, message: Message) -> None:
        """One event per held message, in arrival order, so the checks run after each."""
        self.queue.at(self.queue.now_us, lambda: self._deliver(message))

    def leader(self) -> SimNode | None:
        leaders = [n for n in self.nodes.values() if n.running and n.role is Role.LEADER]
        return max(leaders, key=lambda n: n.term) if leaders else None

    def drain(self, node: SimNode) -> None:
        self._dirty |= node.drain()

    # Node hooks.
    def _send(self, message: Message) -> None:
        if message.type is MessageType.VOTE_RESP and not message.reject:
            self._voted(message.src, message.term, message.dst)
        self.network.send(message)

    def _voted(self, voter: NodeId, term: int, candidate: NodeId) -> None:
        """Raft 5.2: one vote per server per term, first come first served, across restarts
        (a candidate's vote for itself included)."""
        voted = self._votes.setdefault((voter, term), candidate)
        if voted != candidate:
            raise ViolationError(
                "One Vote Per Term",
                f"{voter} voted for {voted} and then for {candidate} in term {term}",
            )

    def _deliver(self, message: Message) -> None:
        node = self.nodes.get(message.dst)
        if node is None or not node.up:
            return
        self.trace.message(message, held=node.paused)
        if node.paused:
            node.inbox.append(message)
            return
        self._dirty |= node.deliver(message)
        self.trace.state(node)

    def _applied(self, node: SimNode, entry: Entry, offsets: tuple[int, ...]) -> None:
        machine = node.machine
        for appended in machine.appended if machine is not None else ():
            broken = self.timestamp_check.appended(
                node.id, appended.topic, appended.first_offset, appended.count, appended.first_hlc
            )
            if broken is not None:
                raise ViolationError(ordering.TIMESTAMP_MONOTONIC, broken)
        self.clients.applied(node, entry, offsets)
        if self.causal is not None:
            self.causal.applied(node, entry, offsets)

    def _stamped(self, node: SimNode, hlc: int) -> None:
        broken = self.hlc_check.issued(node.id, node.incarnation, hlc)
        if broken is not None:
            raise ViolationError(ordering.HLC_MONOTONIC, broken)

    def _read_states(self, node: SimNode, states: tuple[ReadState, ...]) -> None:
        self.clients.read_states(node, states)

    def _compacting(self, node: SimNode) -> None:
        invariants.observe(self.cluster_state())

    def _acknowledged(self, index: int, key: Entry) -> None:
        self.ghost.acked.append(key)

    def _tick(self, node: SimNode) -> Callable[[], None]:
        def tick() -> None:
            if node.running:
                self._dirty |= node.tick()
                if self._dirty:
                    self.trace.state(node)
            self.queue.after(TICK_US, tick)

        return tick

    # The run.
    def run(self) -> SimResult:
        violation = None
        try:
            self._start()
            violation = self._loop()
            if violation is None:
                violation = self._check_liveness()
        except ViolationError as error:
            violation = invariants.Violation(error.prop, error.detail)
        except InvariantViolation as error:
            violation = invariants.Violation("Core Invariant", str(error))
        finally:
            self.recorder.close()
        return self._result(violation)

    def _start(self) -> None:
        for name in sorted(self.nodes):
            node = self.nodes[name]
            node.start()
            self.queue.at(self._disk_rng.randrange(TICK_US), self._tick(node))
        self.clients.start()
        if self.causal is not None:
            self.causal.start()
        self.nemesis.start()
        self.queue.at(self.fault_end_us, self._heal)
        self.queue.at(self.fault_end_us + self.leader_bound_us, self._expect_leader)

    def _loop(self) -> invariants.Violation | None:
        queue = self.queue
        while not self._settled and len(queue) and (queue.next_time_us() or 0) <= self.end_us:
            queue.run_next()
            if self._dirty:
                self._dirty = False
                violation = invariants.check(self.cluster_state())
                if violation is not None:
                    return violation
        return None

    def cluster_state(self) -> invariants.ClusterState:
        views = [self.nodes[name].view() for name in sorted(self.nodes)]
        return invariants.ClusterState(views, self.ghost)

    def _heal(self) -> None:
        self.nemesis.heal()
        self.queue.after(CLIENTS_AFTER_HEAL_US, self._probe_settled)

    def _probe_settled(self) -> None:
        """End the run early once liveness holds: the quiet phase has nothing left to show.

        Settled means: clients idle, a leader that committed an entry of its term, and no
        proposal left undecided. Otherwise probe again, until the hard end of the run."""
        leader = self.leader()
        causal = self.causal
        pending = self.clients.pending() + (causal.pending() if causal is not None else 0)
        if pending == 0 and leader is not None and self._check_liveness() is None:
            self._settled = True
            self.clients.final_reads([self.nodes[name] for name in sorted(self.nodes)])
            if causal is not None:
                causal.finish(leader)
        else:
            self.queue.after(SETTLED_PROBE_US, self._probe_settled)

    def _expect_leader(self) -> None:
        if self.leader() is None:
            raise ViolationError(
                "Liveness",
                f"no leader {self.leader_bound_us / 1e6:.1f}s (virtual) after the faults healed",
            )

    def _check_liveness(self) -> invariants.Violation | None:
        leader = self.leader()
        if leader is None:
            return invariants.Violation("Liveness", "no leader at the end of the quiet phase")
        if leader.disk.term(leader.commit) != leader.term:
            return invariants.Violation(
                "Liveness",
                f"leader {leader.id} (term {leader.term}) committed nothing of its own term "
                f"in the quiet phase: the cluster cannot make progress",
            )
        undecided = self._undecided(leader)
        if undecided:
            first = undecided[0]
            return invariants.Violation(
                "Liveness",
                f"{len(undecided)} proposals undecided after the quiet phase, first at "
                f"{first.index} (term {first.term})",
            )
        return None

    def _undecided(self, leader: SimNode) -> list[Entry]:
        """Proposals still pending in the leader's log at the end of the quiet phase.

        Once the leader committed an entry of its own term, a proposal outside its log can
        never commit (no later leader can lack that entry and hold an older one), and one
        inside it at or below its commit index is committed: only the rest is undecided.
        """
        log = leader.view().log
        proposals = self.clients.proposals + (self.causal.proposals if self.causal else [])
        return [
            entry
            for entry in proposals
            if entry.index > leader.commit and log.at(entry.index) == entry
        ]

    def _result(self, violation: invariants.Violation | None) -> SimResult:
        stats = {
            "events": self.queue.executed,
            "messages": self.network.stats.sent,
            "dropped": self.network.stats.dropped,
            "faults": self.nemesis.started,
            "acked": len(self.ghost.acked),
            "committed": len(self.ghost.committed),
            "terms": len(self.ghost.leaders),
            "ops": len(self.recorder.ops),
        }
        if self.causal is not None:
            stats |= self.causal.summary()
        return SimResult(
            seed=self.options.seed,
            violation=violation,
            trace=self.trace.lines(),
            history=self.recorder.ops,
            events=self.queue.executed,
            virtual_us=self.queue.now_us,
            stats=stats,
            subscribers=self.causal.subscribers if self.causal is not None else [],
        )


def _swarm(rng: random.Random) -> dict[str, Any]:
    """Per-seed knobs (swarm testing, as TigerBeetle's VOPR does).

    One seed in three runs the hard profile: one-entry appends with a window of one split the
    log into many acknowledgements, which is where commit rules go wrong, and a busy nemesis
    with busy clients forces elections while entries are half-replicated. The others draw each
    knob on its own.
    """
    knobs: dict[str, Any] = {
        "max_inflight": rng.choice([1, 4, 64]),
        "max_append_bytes": rng.choice([64, 512, 1 << 20]),
        "nemesis_interval_us": rng.choice([(20_000, 150_000), (100_000, 500_000)]),
        "think_us": rng.choice([(0, 3_000), (0, 10_000), (5_000, 40_000)]),
        "clients": rng.choice([2, 3, 4]),
    }
    if rng.random() < 1 / 3:
        knobs |= HARD_PROFILE
    # Never neither pre-vote nor check-quorum: then a removed server that never learns of its
    # removal campaigns forever and keeps deposing leaders (Raft thesis 4.2.3), a known
    # liveness hole rather than a bug to find.
    knobs |= rng.choice(
        [
            {"pre_vote": True, "check_quorum": True},
            {"pre_vote": True, "check_quorum": True},
            {"pre_vote": True, "check_quorum": False},
            {"pre_vote": False, "check_quorum": True},
        ]
    )
    return knobs


HARD_PROFILE: dict[str, Any] = {
    "max_inflight": 1,
    "max_append_bytes": 64,
    "nemesis_interval_us": (20_000, 100_000),
    "think_us": (0, 3_000),
    "clients": 6,
}


def simulate(
    seed: int,
    nodes: int = 3,
    faults: frozenset[str] | str = "all",
    time: float = 2.0,
    core_factory: CoreFactory = DEFAULT_CORE,
    history_path: Path | None = None,
    clients: int | None = None,
    causal: bool = False,
    parts: SimParts = SimParts(),
) -> SimResult:
    """Run one seed. `faults` is a set of FAULT_KINDS or a comma list or "all" or "none";
    `causal` adds the causal workload; `parts` swaps in broken parts (tests)."""
    chosen = parse_faults(faults) if isinstance(faults, str) else faults
    options = SimOptions(
        seed=seed, nodes=nodes, faults=chosen, time_s=time, clients=clients, causal=causal
    )
    return Simulator(options, core_factory, history_path, parts).run()


def parse_faults(text: str) -> frozenset[str]:
    if text in ("all", ""):
        return frozenset(FAULT_KINDS)
    if text == "none":
        return frozenset()
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = kinds - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
    return kinds
