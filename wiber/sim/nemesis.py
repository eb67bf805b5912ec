"""The nemesis: faults started and stopped at random times while the fault phase lasts.

Every few hundred virtual milliseconds the nemesis picks one enabled fault kind and starts it;
most faults stop on their own after a random duration, and `heal()` stops everything at the end
of the fault phase so that liveness can be checked. Each start and stop is an op in the history
(`"process": "nemesis"`, DESIGN.md 4.3), so a checker sees the faults beside the client ops.

Fault kinds: partition (a grudge of a random shape), crash (the process dies; written data
survives), disk (power loss: unsynced writes are lost and the last may be torn), pause, loss,
duplicate, reorder, membership (add or remove a voter through the leader), transfer
(leadership transfer from the leader to another voter) and clock (Jepsen's clock nemesis on one
node's wall clock: bump it forward or back by seconds, strobe it between two readings, or reset
every skewed clock). Clock is the last kind, so adding it changed no other kind's index.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wiber.core.errors import ProposalDropped
from wiber.core.types import ConfigChange, ConfigChangeType, NodeId
from wiber.sim.grudges import SHAPES
from wiber.sim.network import Network
from wiber.sim.node import SimNode

FAULT_KINDS = (
    "partition",
    "crash",
    "pause",
    "disk",
    "membership",
    "loss",
    "duplicate",
    "reorder",
    "transfer",
    "clock",
)
CLOCK_BUMP_MS = (1_000, 10_000)  # how far a bump or strobe moves a clock, either way
CLOCK_STROBE_PERIOD_MS = (1, 20)


class World(Protocol):
    """What the nemesis may touch."""

    nodes: dict[NodeId, SimNode]
    network: Network

    def now_us(self) -> int: ...

    def after(self, delay_us: int, action: Callable[[], None]) -> None: ...

    def record_nemesis(self, f: str, value: dict[str, Any]) -> None: ...

    def crash(self, node: SimNode, power_loss: bool) -> None: ...

    def restart(self, node: SimNode) -> None: ...

    def pause(self, node: SimNode) -> None: ...

    def resume(self, node: SimNode) -> None: ...

    def leader(self) -> SimNode | None: ...

    def drain(self, node: SimNode) -> None: ...


@dataclass
class NemesisOptions:
    faults: frozenset[str]
    stop_us: int  # the end of the fault phase
    interval_us: tuple[int, int] = (100_000, 500_000)
    duration_us: tuple[int, int] = (100_000, 1_000_000)
    min_voters: int = 3


class Nemesis:
    def __init__(self, world: World, rng: random.Random, options: NemesisOptions) -> None:
        self._world = world
        self._rng = rng
        self._options = options
        self._kinds = [k for k in FAULT_KINDS if k in options.faults]
        self._starters: dict[str, Callable[[], None]] = {
            "partition": self._partition,
            "crash": lambda: self._crash(power_loss=False),
            "disk": lambda: self._crash(power_loss=True),
            "pause": self._pause,
            "loss": lambda: self._link("loss", round(self._rng.uniform(0.05, 0.4), 3)),
            "duplicate": lambda: self._link("duplicate", round(self._rng.uniform(0.05, 0.3), 3)),
            "reorder": lambda: self._link("reorder_us", self._rng.randint(5_000, 60_000)),
            "membership": self._membership,
            "transfer": self._transfer,
            "clock": self._clock,
        }
        self.started = 0
        self._clock_generation: dict[NodeId, int] = {}  # a stale stop or strobe step is ignored

    def start(self) -> None:
        if self._kinds:
            self._world.after(self._rng.randint(*self._options.interval_us), self._next)

    def _next(self) -> None:
        if self._world.now_us() >= self._options.stop_us:
            return
        kind = self._rng.choice(self._kinds)
        self._starters[kind]()
        self.started += 1
        self._world.after(self._rng.randint(*self._options.interval_us), self._next)

    def _later(self, action: Callable[[], None]) -> None:
        """Stop a fault after a random duration, or at the heal, whichever comes first."""
        delay = self._rng.randint(*self._options.duration_us)
        delay = min(delay, max(self._options.stop_us - self._world.now_us(), 0))
        self._world.after(delay, action)

    def _up_nodes(self) -> list[SimNode]:
        return [n for _, n in sorted(self._world.nodes.items()) if n.up]

    def _victim(self, candidates: list[SimNode]) -> SimNode:
        """Half the time the leader, if it is a candidate: faults at the leader are the ones
        that leave entries half-replicated and force elections."""
        leader = self._world.leader()
        if leader in candidates and self._rng.random() < 0.5:
            return leader
        return self._rng.choice(candidates)

    def _partition(self) -> None:
        shape = self._rng.choice(sorted(SHAPES))
        grudge = SHAPES[shape](sorted(self._world.nodes), self._rng)
        self._world.network.grudge = grudge
        grudges = {n: sorted(g) for n, g in sorted(grudge.items()) if g}
        value = {"nemesis": "partition", "shape": shape, "targets": sorted(grudges),
                 "grudge": grudges}  # fmt: skip
        self._world.record_nemesis("start", value)
        self._later(self._heal_partition)

    def _heal_partition(self) -> None:
        if self._world.network.grudge:
            self._world.network.grudge = {}
            self._world.record_nemesis("stop", {"nemesis": "partition"})

    def _crash(self, power_loss: bool) -> None:
        up = self._up_nodes()
        if not up:
            return
        node = self._victim(up)
        self._world.crash(node, power_loss)
        self._later(lambda: self._restart(node))

    def _restart(self, node: SimNode) -> None:
        if not node.up:
            self._world.restart(node)

    def _pause(self) -> None:
        running = [n for n in self._up_nodes() if not n.paused]
        if not running:
            return
        node = self._victim(running)
        self._world.pause(node)
        self._later(lambda: self._resume(node))

    def _resume(self, node: SimNode) -> None:
        if node.paused:
            self._world.resume(node)

    def _link(self, fault: str, amount: float) -> None:
        setattr(self._world.network.faults, fault, amount)
        value = {"nemesis": fault.removesuffix("_us"), "targets": sorted(self._world.nodes),
                 "amount": amount}  # fmt: skip
        self._world.record_nemesis("start", value)
        self._later(lambda: self._stop_link(fault))

    def _stop_link(self, fault: str) -> None:
        if getattr(self._world.network.faults, fault):
            setattr(self._world.network.faults, fault, 0)
            self._world.record_nemesis("stop", {"nemesis": fault.removesuffix("_us")})

    def _membership(self) -> None:
        leader = self._world.leader()
        if leader is None or leader.core is None:
            return
        voters = leader.conf().voters
        outside = sorted(set(self._world.nodes) - set(voters))
        if outside and (len(voters) <= self._options.min_voters or self._rng.random() < 0.5):
            change = ConfigChange(ConfigChangeType.ADD_VOTER, self._rng.choice(outside))
        elif len(voters) > self._options.min_voters:
            change = ConfigChange(ConfigChangeType.REMOVE, self._rng.choice(voters))
        else:
            return
        value = {"nemesis": "membership", "change": change.type.value, "targets": [change.node]}
        try:
            leader.core.propose_conf_change(change)
        except ProposalDropped as refused:
            value["refused"] = refused.reason
        self._world.record_nemesis("start", value)
        self._world.drain(leader)

    def _transfer(self) -> None:
        leader = self._world.leader()
        if leader is None or leader.core is None:
            return
        others = [v for v in leader.conf().voters if v != leader.id]
        if not others:
            return
        to = self._rng.choice(others)
        value: dict[str, Any] = {"nemesis": "transfer", "targets": [leader.id, to]}
        try:
            leader.core.transfer_leadership(to)
        except ProposalDropped as refused:
            value["refused"] = refused.reason
        self._world.record_nemesis("start", value)
        self._world.drain(leader)

    def _clock(self) -> None:
        mode = self._rng.choice(("bump", "strobe", "reset"))
        if mode == "reset":
            self._reset_clocks("reset")
            return
        node = self._victim([n for _, n in sorted(self._world.nodes.items())])
        generation = self._clock_generation.get(node.id, 0) + 1
        self._clock_generation[node.id] = generation
        delta_ms = self._rng.choice((-1, 1)) * self._rng.randint(*CLOCK_BUMP_MS)
        node.clock.fault_offset_ms = delta_ms
        value: dict[str, Any] = {"nemesis": "clock", "mode": mode, "targets": [node.id],
                                 "delta_ms": delta_ms}  # fmt: skip
        if mode == "strobe":
            period_us = self._rng.randint(*CLOCK_STROBE_PERIOD_MS) * 1000
            value["period_ms"] = period_us // 1000
            self._world.after(
                period_us, lambda: self._strobe(node, generation, period_us, delta_ms)
            )
        self._world.record_nemesis("start", value)
        self._later(lambda: self._stop_clock(node, generation))

    def _strobe(self, node: SimNode, generation: int, period_us: int, delta_ms: int) -> None:
        """Flip the clock between its skewed and its true reading, until the fault stops."""
        if self._clock_generation.get(node.id) != generation:
            return
        node.clock.fault_offset_ms = 0 if node.clock.skewed else delta_ms
        self._world.after(period_us, lambda: self._strobe(node, generation, period_us, delta_ms))

    def _stop_clock(self, node: SimNode, generation: int) -> None:
        if self._clock_generation.get(node.id) == generation:
            self._clock_generation[node.id] = generation + 1
            node.clock.reset()
            self._world.record_nemesis("stop", {"nemesis": "clock", "targets": [node.id]})

    def _reset_clocks(self, why: str) -> None:
        """Every clock back to its healthy reading (NTP stepping it), strobes ended."""
        skewed = []
        for node_id, node in sorted(self._world.nodes.items()):
            if node.clock.skewed or node_id in self._clock_generation:
                self._clock_generation[node_id] = self._clock_generation.get(node_id, 0) + 1
            if node.clock.skewed:
                skewed.append(node_id)
                node.clock.reset()
        if skewed:
            self._world.record_nemesis("stop", {"nemesis": "clock", "mode": why,
                                                "targets": skewed})  # fmt: skip

    def heal(self) -> None:
        """End of the fault phase: every node up and running, a perfect network, true clocks."""
        self._reset_clocks("heal")
        self._world.network.heal()
        for node in sorted(self._world.nodes.values(), key=lambda n: n.id):
            if not node.up:
                self._world.restart(node)
            elif node.paused:
                self._world.resume(node)
        self._world.record_nemesis("stop", {"nemesis": "all"})
