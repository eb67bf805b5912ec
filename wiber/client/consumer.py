"""The consumer: history then live messages, resuming where it left off after a failover.

A subscription starts from a position (offset, last N, time, the group's committed offset, or
"live only") and yields messages in offset order. If its node goes away, the consumer
subscribes again on another node from the offset after the last message it yielded, so the
caller sees no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from wiber.client.client import Client
from wiber.client.connection import ClientError
from wiber.codec import messages as m


class Consumer:
    def __init__(
        self,
        client: Client,
        topic: str,
        *,
        from_offset: int | None = None,
        last_n: int | None = None,
        from_time_ms: int | None = None,
        group: str | None = None,
        max_failovers: int = 100,
    ) -> None:
        self.client = client
        self.topic = topic
        self.group = group
        self.next_offset: int | None = from_offset
        self._last_n = last_n
        self._from_time_ms = from_time_ms
        self._max_failovers = max_failovers

    async def messages(self) -> AsyncIterator[m.StoredMessage]:
        failovers = 0
        while True:
            try:
                async for msg in self._subscription():
                    failovers = 0
                    yield msg
            except ClientError as e:
                failovers += 1
                # Elections and lost nodes pass; a bad request does not.
                if e.code not in ("unavailable", "not-leader", "timeout", "unknown"):
                    raise
                if failovers > self._max_failovers:
                    raise
                self.client.forget_leader()
                await asyncio.sleep(min(0.05 * failovers, 1.0))

    async def _subscription(self) -> AsyncIterator[m.StoredMessage]:
        conn = await self.client.any_connection()
        request = m.Subscribe(
            self.topic,
            from_offset=self.next_offset,
            last_n=self._last_n if self.next_offset is None else None,
            from_time_ms=self._from_time_ms if self.next_offset is None else None,
            group=self.group if self.next_offset is None else None,
        )
        reply = await conn.request(request, self.client.timeout)
        if not isinstance(reply, m.SubscribeOk):
            raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
        self.next_offset = reply.next_offset
        queue = conn.deliveries(reply.subscription_id)
        while True:
            delivery = await queue.get()
            if delivery is None:
                raise ClientError("unavailable", f"lost {conn.address}", definite=False)
            for msg in delivery.messages:
                if msg.offset < self.next_offset:
                    continue  # already yielded before a failover
                self.next_offset = msg.offset + 1
                yield msg

    async def commit(self, offset: int | None = None) -> None:
        """Store the group's position (the next offset to read) through Raft."""
        if self.group is None:
            raise ClientError("bad-request", "commit needs a consumer group", definite=True)
        position = self.next_offset if offset is None else offset
        if position is None:
            return
        await self.client.request(m.CommitOffset(self.group, self.topic, position), leader=True)
