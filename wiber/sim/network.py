"""The simulated network: latency, loss, duplication, reordering and partitions (grudges).

Every message becomes one delivery event (two when duplicated) after a random latency drawn
from the network's own rng. Partitions are checked when a message arrives, as a firewall on the
receiver would drop it, so a message already in flight when a partition starts is lost too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from wiber.core.types import Message, NodeId
from wiber.sim.events import EventQueue
from wiber.sim.grudges import Grudge


@dataclass
class LinkFaults:
    """What the nemesis may switch on; all zero means a perfect (if slow) network."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder_us: int = 0  # extra random delay, up to this, on a fraction of messages


@dataclass
class NetworkStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0


class Network:
    def __init__(
        self,
        queue: EventQueue,
        rng: random.Random,
        deliver: Callable[[Message], None],
        latency_us: tuple[int, int] = (500, 3000),
    ) -> None:
        self._queue = queue
        self._rng = rng
        self._deliver = deliver
        self._latency_us = latency_us
        self.faults = LinkFaults()
        self.grudge: Grudge = {}
        self.stats = NetworkStats()

    def send(self, message: Message) -> None:
        self.stats.sent += 1
        if self.faults.loss and self._rng.random() < self.faults.loss:
            self.stats.dropped += 1
            return
        copies = 1
        if self.faults.duplicate and self._rng.random() < self.faults.duplicate:
            copies = 2
            self.stats.duplicated += 1
        for _ in range(copies):
            self._queue.after(self._delay_us(), lambda: self._arrive(message))

    def _delay_us(self) -> int:
        low, high = self._latency_us
        delay = self._rng.randint(low, high)
        if self.faults.reorder_us and self._rng.random() < 0.3:
            delay += self._rng.randint(0, self.faults.reorder_us)
        return delay

    def hears(self, dst: NodeId, src: NodeId) -> bool:
        return src not in self.grudge.get(dst, ())

    def _arrive(self, message: Message) -> None:
        if not self.hears(message.dst, message.src):
            self.stats.dropped += 1
            return
        self.stats.delivered += 1
        self._deliver(message)

    def heal(self) -> None:
        self.grudge = {}
        self.faults = LinkFaults()
