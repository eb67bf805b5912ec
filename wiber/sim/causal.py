"""The causal workload: producers that publish with dependencies, subscribers of two topics.

A producer does what `wiber.client.causal.CausalProducer` does, with its pure parts: a
`CausalContext` holds the highest offset it observed per topic (what it read, with the read
messages' own deps, and its own acknowledged publishes), and every publish carries
`context.deps()`. It has one publish in flight, sends it to the node it believes leads, follows
refusals' leader hints and, after an outcome it cannot know (timeout, crash), goes on with the
same context (whatever the lost publish depended on, the next one depends on too).

A subscriber does what `CausalConsumer` does: it reads each topic on its own, one small page at
a time from a random running node (a lagging follower gives old data, so one topic's messages
often arrive before their causes in the other), and passes everything through the real
`ReorderBuffer`, whose clock is virtual time (the consumer's monotonic clock, which wall-clock
faults do not move). Every delivery, marks included, goes to the subscriber's `CausalDelivery`
check, and is recorded. Once the cluster settles, `finish` reads every topic to its end,
waits the buffer's bound and checks that nothing was hidden.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wiber.broker import BrokerMessage
from wiber.clocks.causal import CausalContext
from wiber.clocks.reorder import Delivered, Message, ReorderBuffer
from wiber.core.errors import ProposalDropped
from wiber.core.types import Entry, EntryKind, NodeId
from wiber.sim.events import EventQueue
from wiber.sim.machine import BrokerMachine, encode_causal
from wiber.sim.node import SimNode, ViolationError
from wiber.sim.ordering import CAUSAL_DELIVERY, CausalDelivery, Delivery

CAUSAL_TOPICS = ("c1", "c2")

ReorderFactory = Callable[[int, Mapping[str, int]], ReorderBuffer[BrokerMessage]]


def real_reorder_buffer(
    max_wait_ms: int, starts: Mapping[str, int]
) -> ReorderBuffer[BrokerMessage]:
    return ReorderBuffer(max_wait_ms, starts)


@dataclass
class CausalOptions:
    producers: int
    subscribers: int
    timeout_us: int
    stop_us: int  # no new publish starts after this
    think_us: tuple[int, int] = (2_000, 20_000)
    fetch_us: tuple[int, int] = (1_000, 20_000)
    backoff_us: tuple[int, int] = (20_000, 80_000)
    max_wait_ms: int = 150  # the reorder buffer's bound


@dataclass
class Producer:
    number: int
    hint: NodeId
    context: CausalContext = field(default_factory=CausalContext)
    sent: int = 0


@dataclass
class PendingPublish:
    producer: Producer
    node: NodeId
    index: int
    entry: Entry
    topic: str


@dataclass
class Subscriber:
    name: str
    buffer: ReorderBuffer[BrokerMessage]
    check: CausalDelivery
    cursors: dict[str, int]
    deliveries: list[Delivery] = field(default_factory=list)
    poll_us: int | None = None  # when the next deadline poll is scheduled


@dataclass
class CausalStats:
    published: int = 0
    acked: int = 0
    observed: int = 0  # reads that grew a producer's context
    delivered: int = 0
    marked: int = 0
    held: int = 0  # offers that the buffer did not deliver at once


class CausalWorkload:
    def __init__(
        self,
        queue: EventQueue,
        rng: random.Random,
        nodes: dict[NodeId, SimNode],
        options: CausalOptions,
        drain: Callable[[SimNode], None],
        reorder: ReorderFactory = real_reorder_buffer,
    ) -> None:
        self._queue = queue
        self._rng = rng
        self._nodes = nodes
        self._options = options
        self._drain = drain
        self._pending: dict[tuple[NodeId, int], PendingPublish] = {}
        self._hanging = 0
        self.stats = CausalStats()
        self.proposals: list[Entry] = []
        names = sorted(nodes)
        self.producers = [Producer(n, rng.choice(names)) for n in range(options.producers)]
        starts = dict.fromkeys(CAUSAL_TOPICS, 0)
        self.subscribers = []
        for n in range(options.subscribers):
            name = f"subscriber-{n}"
            buffer = reorder(options.max_wait_ms, starts)
            self.subscribers.append(
                Subscriber(name, buffer, CausalDelivery(name, starts), dict(starts))
            )

    def start(self) -> None:
        for producer in self.producers:
            self._queue.after(self._rng.randint(*self._options.think_us), self._publisher(producer))
        for subscriber in self.subscribers:
            for topic in CAUSAL_TOPICS:
                self._queue.after(
                    self._rng.randint(*self._options.fetch_us), self._fetcher(subscriber, topic)
                )

    def pending(self) -> int:
        return len(self._pending) + self._hanging

    def _now_ms(self) -> int:
        return self._queue.now_us // 1000

    def _running(self) -> list[SimNode]:
        return [
            node
            for _, node in sorted(self._nodes.items())
            if node.running and node.machine is not None
        ]

    # Producers.
    def _publisher(self, producer: Producer) -> Callable[[], None]:
        return lambda: self._publish(producer)

    def _next(self, producer: Producer, backoff: bool = False) -> None:
        delay = self._rng.randint(*self._options.think_us)
        if backoff:
            delay += self._rng.randint(*self._options.backoff_us)
        self._queue.after(delay, self._publisher(producer))

    def _redirect(self, producer: Producer, hint: NodeId | None) -> None:
        producer.hint = hint if hint in self._nodes else self._rng.choice(sorted(self._nodes))

    def _publish(self, producer: Producer) -> None:
        if self._queue.now_us >= self._options.stop_us:
            return
        if self._rng.random() < 0.5:
            self._observe(producer)
        node = self._nodes[producer.hint]
        if node.core is None:
            self._redirect(producer, None)
            self._next(producer, backoff=True)
            return
        if node.paused:
            self._hang(producer)
            return
        topic = self._rng.choice(CAUSAL_TOPICS)
        payload = f"p{producer.number}-{producer.sent}".encode()
        data = encode_causal(topic, payload, producer.context.deps(), node.stamp())
        try:
            index = node.core.propose(data)
        except ProposalDropped as refused:
            self._redirect(producer, refused.leader_hint)
            self._next(producer, backoff=refused.leader_hint is None)
            return
        producer.sent += 1
        self.stats.published += 1
        entry = Entry(index, node.core.status().term, EntryKind.NORMAL, data)
        pending = PendingPublish(producer, node.id, index, entry, topic)
        self._pending[(node.id, index)] = pending
        self.proposals.append(entry)
        self._queue.after(self._options.timeout_us, lambda: self._timeout(pending))
        self._drain(node)

    def _observe(self, producer: Producer) -> None:
        """Read the newest few messages of a topic somewhere: the next publish comes after."""
        running = self._running()
        if not running:
            return
        machine = self._rng.choice(running).machine
        if machine is None:
            return
        topic = self._rng.choice(CAUSAL_TOPICS)
        end = machine.state.end_offset(topic)
        for message in machine.read_messages(topic, max(0, end - 3), 3):
            producer.context.observed_message(message.topic, message.offset, message.deps)
            self.stats.observed += 1

    def _hang(self, producer: Producer) -> None:
        """A paused node never answers: the producer times out, not knowing."""
        self._hanging += 1

        def timeout() -> None:
            self._hanging -= 1
            self._redirect(producer, None)
            self._next(producer)

        self._queue.after(self._options.timeout_us, timeout)

    def _timeout(self, pending: PendingPublish) -> None:
        if self._pending.get((pending.node, pending.index)) is pending:
            del self._pending[(pending.node, pending.index)]
            self._redirect(pending.producer, None)
            self._next(pending.producer)

    def applied(self, node: SimNode, entry: Entry, offsets: tuple[int, ...]) -> None:
        pending = self._pending.pop((node.id, entry.index), None)
        if pending is None:
            return
        producer = pending.producer
        if entry != pending.entry or not offsets:
            self._redirect(producer, None)
        else:
            producer.context.published(pending.topic, offsets[0])
            self.stats.acked += 1
        self._next(producer)

    def crashed(self, node: SimNode) -> None:
        for key, pending in sorted(self._pending.items()):
            if pending.node == node.id:
                del self._pending[key]
                self._redirect(pending.producer, None)
                self._next(pending.producer)

    # Subscribers.
    def _fetcher(self, subscriber: Subscriber, topic: str) -> Callable[[], None]:
        def fetch() -> None:
            self._fetch(subscriber, topic)
            self._queue.after(self._rng.randint(*self._options.fetch_us), fetch)

        return fetch

    def _fetch(self, subscriber: Subscriber, topic: str) -> None:
        running = self._running()
        if not running:
            return
        machine = self._rng.choice(running).machine
        if machine is None or machine.log_start(topic) > subscriber.cursors[topic]:
            return  # this node lacks the bodies (installed from a snapshot): try another later
        self._read(subscriber, machine, topic, self._rng.randint(1, 4))

    def _read(self, subscriber: Subscriber, machine: BrokerMachine, topic: str, count: int) -> int:
        messages = machine.read_messages(topic, subscriber.cursors[topic], count)
        for message in messages:
            subscriber.cursors[topic] = message.offset + 1
            offered = Message(topic, message.offset, message, message.deps)
            out = subscriber.buffer.offer(offered, self._now_ms())
            if not any(d.message.key == offered.key for d in out):
                self.stats.held += 1
            self._delivered(subscriber, out)
        self._schedule_poll(subscriber)
        return len(messages)

    def _schedule_poll(self, subscriber: Subscriber) -> None:
        deadline = subscriber.buffer.next_deadline()
        if deadline is None:
            return
        # The buffer forces a message once now >= its deadline: the millisecond after it.
        at_us = max((deadline + 1) * 1000, self._queue.now_us)
        if subscriber.poll_us is not None and subscriber.poll_us <= at_us:
            return
        subscriber.poll_us = at_us

        def poll() -> None:
            if subscriber.poll_us == at_us:
                subscriber.poll_us = None
            self._delivered(subscriber, subscriber.buffer.poll(self._now_ms()))
            self._schedule_poll(subscriber)

        self._queue.at(at_us, poll)

    def _delivered(self, subscriber: Subscriber, out: list[Delivered[BrokerMessage]]) -> None:
        for delivered in out:
            message = delivered.message.value
            marks = frozenset(mark.value for mark in delivered.marks)
            delivery = Delivery(
                message.topic,
                message.offset,
                message.deps,
                marks,
                message.hlc,
                message.payload.decode(),
            )
            subscriber.deliveries.append(delivery)
            self.stats.delivered += 1
            self.stats.marked += bool(marks)
            broken = subscriber.check.delivered(delivery)
            if broken is not None:
                raise ViolationError(CAUSAL_DELIVERY, broken)

    def finish(self, leader: SimNode) -> None:
        """The cluster settled: read every topic to the leader's end (from any node that still
        holds the bodies), flush the buffers, check that every committed message was
        delivered."""
        machine = leader.machine
        if machine is None:
            return
        ends = {topic: machine.state.end_offset(topic) for topic in CAUSAL_TOPICS}
        machines = [node.machine for node in self._running() if node.machine is not None]
        for subscriber in self.subscribers:
            for topic in CAUSAL_TOPICS:
                self._read_to_end(subscriber, machines, topic, ends[topic])
            flush_ms = self._now_ms() + self._options.max_wait_ms + 1
            self._delivered(subscriber, subscriber.buffer.poll(flush_ms))
            broken = subscriber.check.finished(ends)
            if broken is not None:
                raise ViolationError(CAUSAL_DELIVERY, broken)

    def _read_to_end(
        self, subscriber: Subscriber, machines: list[BrokerMachine], topic: str, end: int
    ) -> None:
        while subscriber.cursors[topic] < end:
            cursor = subscriber.cursors[topic]
            holders = [
                m for m in machines if m.log_start(topic) <= cursor < m.state.end_offset(topic)
            ]
            if not holders or not self._read(subscriber, holders[0], topic, 100):
                return  # nobody holds the rest: the completeness check will say so

    def summary(self) -> dict[str, Any]:
        return {
            "causal_published": self.stats.published,
            "causal_acked": self.stats.acked,
            "causal_delivered": self.stats.delivered,
            "causal_marked": self.stats.marked,
            "causal_held": self.stats.held,
        }


def delivery_ops(subscribers: list[Subscriber]) -> list[dict[str, Any]]:
    """The subscribers' deliveries as `deliver` calls of the harness's causal workload (one
    invoke and one ok per delivery), so that `harness.checkers.causal` can judge them too."""
    ops: list[dict[str, Any]] = []
    for subscriber in subscribers:
        for delivery in subscriber.deliveries:
            value: dict[str, Any] = {
                "topic": delivery.topic,
                "offset": delivery.offset,
                "value": delivery.payload,
                "deps": [list(dep) for dep in delivery.deps],
                "hlc": delivery.hlc,
            }
            if delivery.marks:
                value["marks"] = sorted(delivery.marks)
            for type_, op_value in (("invoke", None), ("ok", value)):
                ops.append(
                    {
                        "index": len(ops),
                        "time": len(ops),
                        "process": subscriber.name,
                        "type": type_,
                        "f": "deliver",
                        "value": op_value,
                    }
                )
    return ops
