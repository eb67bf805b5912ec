"""Causal clients: a producer that publishes what it has seen as deps, and a consumer of
several topics that delivers in causal order.

`CausalProducer` keeps a `CausalContext`: per topic, the highest offset it consumed or
published. Each send attaches the context as the message's deps (one ``(topic, offset)`` per
topic) and waits for the acknowledgement, so that the next send can depend on this one: a
causal producer has at most one message in flight. It is idempotent (producer id + seq), so
retries after a lost answer never duplicate. It also carries the largest hybrid timestamp it
has seen (consumed messages, its own acknowledged sends) in each publish; the leader merges it
before stamping, so an effect is stamped above its causes even when another leader, with a
slower clock, stamps it. Tracing as `Producer` does it: with an OpenTelemetry `tracer`, each
send is a `wiber.client.publish` span whose context goes out as the publish's `traceparent`;
without one, the caller's active span context when the OpenTelemetry API is installed.

`CausalConsumer` subscribes to each topic with a `Consumer` (which fails over by itself) and
passes what arrives through a `ReorderBuffer`: a message is delivered only after its
dependencies on subscribed topics, or, once it has waited `max_wait_ms`, delivered with an
explicit `late` / `missing-cause` mark (see `wiber.clocks.reorder` for their meaning). Time
for the buffer is `time.monotonic()`: the client is I/O code, the buffer stays pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wiber.client.client import Client
from wiber.client.connection import ClientError
from wiber.client.consumer import Consumer
from wiber.client.producer import current_span, span_traceparent, start_client_span
from wiber.clocks.causal import CausalContext
from wiber.clocks.reorder import Delivered, Message, ReorderBuffer, ReorderStats
from wiber.codec import messages as m

Dep = tuple[str, int]
# How one topic is read from an offset: a `Consumer` by default; tests inject slow readers.
Subscriber = Callable[[Client, str, int], AsyncIterator[m.StoredMessage]]

_RETRYABLE = frozenset({"not-leader", "unavailable", "timeout", "unknown"})
_MAX_RESUBSCRIBES = 100  # in a row without a message in between


@dataclass(frozen=True, slots=True)
class Sent:
    """An acknowledged causal publish: where it landed, the deps and the largest timestamp it
    carried (`carried`, 0 before the producer saw any), and its stored stamp (`hlc`; None
    when the broker no longer knows it)."""

    topic: str
    offset: int
    deps: tuple[Dep, ...]
    carried: int = 0
    hlc: int | None = None


class CausalProducer:
    """Publishes messages whose deps are everything this producer has observed."""

    def __init__(
        self,
        client: Client,
        *,
        acks: m.Acks = "quorum",
        delivery_timeout: float = 30.0,
        context: CausalContext | None = None,
        tracer: Any = None,
    ) -> None:
        self.client = client
        self.acks: m.Acks = acks
        self.delivery_timeout = delivery_timeout
        self.context = context if context is not None else CausalContext()
        self.producer_id = uuid.uuid4().hex
        self.hlc = 0  # the largest hybrid timestamp this producer has seen
        self._next_seq: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.tracer = tracer  # an opentelemetry.trace.Tracer, or None

    def observe(self, topic: str, offset: int) -> None:
        """This producer's next message comes after (`topic`, `offset`)."""
        self.context.observed(topic, offset)

    def observe_message(self, message: m.StoredMessage) -> None:
        """A consumed message and, transitively, its own causes."""
        self.context.observed_message(message.topic, message.offset, message.deps)
        self.hlc = max(self.hlc, message.hlc)

    def deps(self) -> tuple[Dep, ...]:
        """The deps the next send will carry (a send in progress may still add its own)."""
        return self.context.deps()

    async def send(self, topic: str, payload: bytes, *, create_time_ms: int | None = None) -> Sent:
        """Publish one message depending on everything observed; returns once acknowledged.

        Raises `ClientError` when the publish failed for good or stayed indeterminate past
        `delivery_timeout` (`definite` says which). Afterwards the producer takes a fresh
        producer id, since the broker may or may not hold the message's sequence number.
        """
        async with self._lock:
            deps = self.context.deps()
            if len(deps) > m.MAX_DEPS:
                too_many = f"{len(deps)} topics observed, more than {m.MAX_DEPS} deps"
                raise ClientError("bad-request", too_many, definite=True)
            seq = self._next_seq.get(topic, 0)
            message = m.PublishMessage(payload, self.producer_id, seq, create_time_ms, deps)
            parent, span = current_span(), None
            if self.tracer is not None:
                attributes = {"wiber.topic": topic, "wiber.count": 1}
                span = start_client_span(self.tracer, "wiber.client.publish", parent, attributes)
            traced = span if span is not None else parent
            traceparent = None if traced is None else span_traceparent(traced)
            try:
                carried = self.hlc
                request = m.Publish(topic, [message], self.acks, carried or None, traceparent)
                offset, stamp = await self._publish(request)
            except ClientError:
                self.producer_id = uuid.uuid4().hex
                self._next_seq.clear()
                raise
            finally:
                if span is not None:
                    span.end()
            self._next_seq[topic] = seq + 1
            self.context.published(topic, offset)
            return Sent(topic, offset, deps, carried, stamp)

    async def _publish(self, request: m.Publish) -> tuple[int, int | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout
        delay = 0.02
        maybe_stored = False
        while True:
            try:
                conn = await self.client.leader_connection(deadline)
                reply = await conn.request(request, self.client.timeout)
                if not isinstance(reply, m.PublishOk) or len(reply.offsets) != 1:
                    raise ClientError("bad-reply", f"unexpected {reply!r:.200}", definite=False)
                if reply.hlc is not None:
                    self.hlc = max(self.hlc, reply.hlc)
                return reply.offsets[0], reply.hlc
            except ClientError as e:
                # Retrying is safe whatever happened: the broker drops a repeated (id, seq).
                if e.code not in _RETRYABLE or loop.time() >= deadline:
                    raise e.after_attempts(maybe_stored) from None
                maybe_stored = maybe_stored or not e.definite
                self.client.forget_leader(e.leader_hint)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


async def _consume(client: Client, topic: str, offset: int) -> AsyncIterator[m.StoredMessage]:
    """A topic's messages from `offset`, riding out elections.

    `Consumer` gives up on a definite `timeout` (a node that could not confirm a read while
    no leader was elected); a causal consumer must outlive failovers, so it resumes from where
    the consumer stopped.
    """
    consumer = Consumer(client, topic, from_offset=offset)
    failures = 0
    while True:
        try:
            async for message in consumer.messages():
                failures = 0
                yield message
        except ClientError as e:
            failures += 1
            if e.code not in _RETRYABLE or failures > _MAX_RESUBSCRIBES:
                raise
            client.forget_leader()
            await asyncio.sleep(min(0.05 * failures, 1.0))


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


class CausalConsumer:
    """Delivers the messages of several topics in causal order, marking what it cannot order.

    `topics` maps each topic to the offset to read it from (a plain sequence reads every topic
    from 0). `deliveries()` yields `Delivered` values whose `message.value` is the
    `StoredMessage`; `marks` is empty for a message delivered after all its causes.
    """

    def __init__(
        self,
        client: Client,
        topics: Sequence[str] | Mapping[str, int],
        max_wait_ms: int,
        *,
        max_buffered: int = 10_000,
        max_gaps: int = 1_000,
        producer: CausalProducer | None = None,
        subscriber: Subscriber = _consume,
    ) -> None:
        starts = dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, 0)
        if not starts:
            raise ValueError("a causal consumer reads at least one topic")
        self.client = client
        self.starts = starts
        self.producer = producer
        self.buffer: ReorderBuffer[m.StoredMessage] = ReorderBuffer(
            max_wait_ms, starts, max_buffered=max_buffered, max_gaps=max_gaps
        )
        self._subscriber = subscriber

    @property
    def stats(self) -> ReorderStats:
        return self.buffer.stats

    async def deliveries(self) -> AsyncGenerator[Delivered[m.StoredMessage], None]:
        """Deliveries in causal order, forever; raises what a topic's subscription raised."""
        arrivals: asyncio.Queue[m.StoredMessage | BaseException] = asyncio.Queue()
        pumps = [
            asyncio.create_task(self._pump(topic, start, arrivals))
            for topic, start in self.starts.items()
        ]
        try:
            while True:
                for delivered in await self._next_batch(arrivals):
                    if self.producer is not None:
                        self.producer.observe_message(delivered.message.value)
                    yield delivered
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump

    async def _next_batch(
        self, arrivals: asyncio.Queue[m.StoredMessage | BaseException]
    ) -> list[Delivered[m.StoredMessage]]:
        """The deliveries of the next arrival, or of the next deadline if it comes first."""
        deadline = self.buffer.next_deadline()
        # One millisecond past the deadline: the buffer forces a message once now >= deadline.
        timeout = None if deadline is None else max(0, deadline + 1 - _now_ms()) / 1000
        try:
            item = await asyncio.wait_for(arrivals.get(), timeout)
        except TimeoutError:
            return self.buffer.poll(_now_ms())
        if isinstance(item, BaseException):
            raise item
        message = Message(item.topic, item.offset, item, item.deps)
        return self.buffer.offer(message, _now_ms())

    async def _pump(
        self,
        topic: str,
        start: int,
        arrivals: asyncio.Queue[m.StoredMessage | BaseException],
    ) -> None:
        try:
            async for message in self._subscriber(self.client, topic, start):
                arrivals.put_nowait(message)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # handed to the reader, who decides; never lost in a task
            arrivals.put_nowait(e)
