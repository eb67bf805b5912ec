"""The idempotent producer: batching, pipelining and retries that never duplicate.

Messages handed to `send()` wait in a per-topic queue; a sender task cuts them into batches
(one `Publish` frame each) and keeps up to `max_inflight` messages unacknowledged. Every message
of an idempotent producer carries (producer id, seq) with consecutive seqs per topic, so the
broker drops a retried batch it already has and answers with the original offsets. After an
indefinite failure (lost connection, timeout, leader change) the batch is resent as it was;
a batch refused as out of order waits for the batch before it and is sent again.

Tracing: given an OpenTelemetry `tracer`, each batch is a `wiber.client.publish` span (a
child of the caller's current span when `send` was called) whose context travels in the
`Publish` as its `traceparent`. Without one, a batch carries the caller's current span context
when the OpenTelemetry API is installed and a span is active, else nothing. Messages sent
under different contexts go in different batches.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from wiber.client.client import Client
from wiber.client.connection import ClientError
from wiber.codec import messages as m

_otel: Any = None  # the opentelemetry.trace module, once found
_otel_looked_for = False


def current_span() -> Any:
    """The caller's active OpenTelemetry span, or None (no span, or no OpenTelemetry API)."""
    global _otel, _otel_looked_for
    if not _otel_looked_for:
        _otel_looked_for = True
        try:
            from opentelemetry import trace
        except ImportError:  # optional: without it, nothing is traced
            trace = None  # type: ignore[assignment]
        _otel = trace
    if _otel is None:
        return None
    span = _otel.get_current_span()
    return span if span.get_span_context().is_valid else None


def start_client_span(tracer: Any, name: str, parent: Any, attributes: dict[str, Any]) -> Any:
    """A span of `tracer` (an OpenTelemetry tracer), child of the span `parent` if any."""
    from opentelemetry import trace

    context = None if parent is None else trace.set_span_in_context(parent)
    return tracer.start_span(name, context=context, attributes=attributes)


def span_traceparent(span: Any) -> str | None:
    """An OpenTelemetry span's context as a W3C traceparent (None when invalid)."""
    c = span.get_span_context()
    if not c.is_valid:
        return None
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


RETRYABLE = frozenset({"not-leader", "unavailable", "timeout", "unknown", "out-of-order-sequence"})


@dataclass
class _Batch:
    topic: str
    first_seq: int | None
    messages: list[m.PublishMessage]
    futures: list[asyncio.Future[int]]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    traceparent: str | None = None
    span: Any = None  # the batch's OpenTelemetry span, with a tracer


# payload, create_time_ms, the caller's OpenTelemetry context (None: untraced), its future
_Item = tuple[bytes, int | None, Any, asyncio.Future[int]]


@dataclass
class _TopicQueue:
    waiting: deque[_Item] = field(default_factory=deque)
    inflight: deque[_Batch] = field(default_factory=deque)
    next_seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Producer:
    def __init__(
        self,
        client: Client,
        *,
        idempotent: bool = True,
        max_inflight: int = 256,
        max_batch: int | None = None,
        delivery_timeout: float = 60.0,
        acks: str = "quorum",
        tracer: Any = None,
    ) -> None:
        # A batch of the whole window would make the pipeline stop-and-wait: keep several
        # batches in flight so one is being synced while the next is being sent.
        max_batch = max_batch or max(1, min(1000, max_inflight // 4))
        if max_inflight < 1 or max_batch < 1:
            raise ValueError("max_inflight and max_batch must be at least 1")
        self.client = client
        self.producer_id = uuid.uuid4().hex if idempotent else None
        self.max_batch = max_batch
        self.acks: m.Acks = "all" if acks == "all" else "quorum"
        self.delivery_timeout = delivery_timeout
        self._window = asyncio.Semaphore(max_inflight)
        self._topics: dict[str, _TopicQueue] = {}
        self._batches: set[asyncio.Task[None]] = set()
        self.tracer = tracer  # an opentelemetry.trace.Tracer, or None

    async def send(
        self, topic: str, payload: bytes, create_time_ms: int | None = None
    ) -> asyncio.Future[int]:
        """Queue one message; waits for room in the window. The future gives its offset."""
        await self._window.acquire()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self._window.release())
        queue = self._topics.get(topic)
        if queue is None:
            queue = self._topics[topic] = _TopicQueue()
            queue.task = asyncio.create_task(self._sender(topic, queue))
        queue.waiting.append((payload, create_time_ms, current_span(), future))
        queue.wake.set()
        return future

    async def publish(self, topic: str, payload: bytes) -> int:
        return await (await self.send(topic, payload))

    async def flush(self) -> None:
        futures = [f for q in self._topics.values() for *_, f in q.waiting]
        futures += [f for q in self._topics.values() for b in q.inflight for f in b.futures]
        await asyncio.gather(*futures, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        for queue in self._topics.values():
            if queue.task is not None:
                queue.task.cancel()

    async def _sender(self, topic: str, queue: _TopicQueue) -> None:
        while True:
            await queue.wake.wait()
            queue.wake.clear()
            while queue.waiting:
                # One batch, one trace context: cut where the callers' contexts change.
                context = queue.waiting[0][2]
                items: list[_Item] = []
                while queue.waiting and len(items) < self.max_batch:
                    if queue.waiting[0][2] is not context:
                        break
                    items.append(queue.waiting.popleft())
                batch = self._batch(topic, queue, items)
                queue.inflight.append(batch)
                task = asyncio.create_task(self._deliver(queue, batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)
                await asyncio.sleep(0)  # let the batch reach the wire before cutting the next

    def _batch(
        self,
        topic: str,
        queue: _TopicQueue,
        items: list[_Item],
    ) -> _Batch:
        first = queue.next_seq if self.producer_id is not None else None
        messages = [
            m.PublishMessage(
                payload,
                self.producer_id,
                None if first is None else first + i,
                create_time_ms,
            )
            for i, (payload, create_time_ms, *_) in enumerate(items)
        ]
        queue.next_seq += len(items)
        batch = _Batch(topic, first, messages, [f for *_, f in items])
        context = items[0][2]
        if self.tracer is not None:
            attributes = {"wiber.topic": topic, "wiber.count": len(items)}
            batch.span = start_client_span(self.tracer, "wiber.client.publish", context, attributes)
            batch.traceparent = span_traceparent(batch.span)
        elif context is not None:
            batch.traceparent = span_traceparent(context)
        return batch

    async def _deliver(self, queue: _TopicQueue, batch: _Batch) -> None:
        try:
            offsets = await self._publish_with_retries(queue, batch)
        except ClientError as e:
            for future in batch.futures:
                if not future.done():
                    future.set_exception(e)
        else:
            for future, offset in zip(batch.futures, offsets, strict=True):
                if not future.done():
                    future.set_result(offset)
        finally:
            batch.done.set()
            queue.inflight.remove(batch)
            if batch.span is not None:
                batch.span.end()

    async def _publish_with_retries(self, queue: _TopicQueue, batch: _Batch) -> list[int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout
        delay = 0.02
        request = m.Publish(batch.topic, batch.messages, self.acks, traceparent=batch.traceparent)
        maybe_stored = False
        while True:
            try:
                conn = await self.client.leader_connection(deadline)
                reply = await conn.request(request, self.client.timeout)
                if not isinstance(reply, m.PublishOk):
                    raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
                return reply.offsets
            except ClientError as e:
                retry_safe = e.definite or self.producer_id is not None
                if e.code not in RETRYABLE or not retry_safe or loop.time() >= deadline:
                    raise e.after_attempts(maybe_stored) from None
                maybe_stored = maybe_stored or not e.definite
                if e.code == "out-of-order-sequence":
                    await self._wait_for_earlier(queue, batch)
                else:
                    self.client.forget_leader(e.leader_hint)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)

    @staticmethod
    async def _wait_for_earlier(queue: _TopicQueue, batch: _Batch) -> None:
        index = queue.inflight.index(batch)
        if index > 0:
            await queue.inflight[index - 1].done.wait()
        else:
            await asyncio.sleep(0.01)
