"""The idempotent producer: batching, pipelining and retries that never duplicate.

Messages handed to `send()` wait in a per-topic queue; a sender task cuts them into batches
(one `Publish` frame each) and keeps up to `max_inflight` messages unacknowledged. Every message
of an idempotent producer carries (producer id, seq) with consecutive seqs per topic, so the
broker drops a retried batch it already has and answers with the original offsets. After an
indefinite failure (lost connection, timeout, leader change) the batch is resent as it was;
a batch refused as out of order waits for the batch before it and is sent again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass, field

from wiber.client.client import Client
from wiber.client.connection import ClientError
from wiber.codec import messages as m

RETRYABLE = frozenset({"not-leader", "unavailable", "timeout", "unknown", "out-of-order-sequence"})


@dataclass
class _Batch:
    topic: str
    first_seq: int | None
    messages: list[m.PublishMessage]
    futures: list[asyncio.Future[int]]
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _TopicQueue:
    waiting: deque[tuple[bytes, int | None, asyncio.Future[int]]] = field(default_factory=deque)
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
        queue.waiting.append((payload, create_time_ms, future))
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
                take = min(len(queue.waiting), self.max_batch)
                items = [queue.waiting.popleft() for _ in range(take)]
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
        items: list[tuple[bytes, int | None, asyncio.Future[int]]],
    ) -> _Batch:
        first = queue.next_seq if self.producer_id is not None else None
        messages = [
            m.PublishMessage(
                payload,
                self.producer_id,
                None if first is None else first + i,
                create_time_ms,
            )
            for i, (payload, create_time_ms, _) in enumerate(items)
        ]
        queue.next_seq += len(items)
        return _Batch(topic, first, messages, [f for *_, f in items])

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

    async def _publish_with_retries(self, queue: _TopicQueue, batch: _Batch) -> list[int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout
        delay = 0.02
        request = m.Publish(batch.topic, batch.messages, self.acks)
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
