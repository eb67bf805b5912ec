"""Forwarding of line-protocol publishes from a follower to the leader.

The seed's line protocol has no way to say "not leader, try there", and `nc` could not follow
such a hint anyway, so a follower forwards a line-protocol `PUB` to the leader over the framed
protocol and relays the answer (DESIGN.md 4.1). Framed clients are told to go to the leader.
"""

from __future__ import annotations

from wiber.broker import NewMessage
from wiber.client.connection import ClientError, Connection
from wiber.codec import messages as m
from wiber.runtime.node import Node, RequestError


class Forwarder:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._conn: Connection | None = None

    async def publish(self, topic: str, payload: bytes) -> int:
        try:
            return (await self.node.publish(topic, [NewMessage(payload)])).offsets[0]
        except RequestError as e:
            if e.code != "not-leader" or e.leader is None:
                raise
            leader = e.leader
        try:
            conn = await self._connection(leader)
            reply = await conn.request(m.Publish(topic, [m.PublishMessage(payload)]), 30.0)
        except ClientError as e:
            why = f"forwarded to {leader}: {e.message}"
            raise RequestError(e.code, why, definite=e.definite) from None
        if not isinstance(reply, m.PublishOk):
            raise RequestError("internal", f"unexpected reply {reply!r}", definite=False)
        return reply.offsets[0]

    async def _connection(self, address: str) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.address != address:
            if self._conn is not None:
                await self._conn.close()
            self._conn = await Connection.open(address)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
