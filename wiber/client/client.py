"""A client of a Wiber cluster: finds nodes and the leader by itself.

`bootstrap` lists some node addresses; any one that answers tells the members and the leader
(`Metadata`). Writes go to the leader; a `not-leader` answer names the new one, and the client
follows it. Reads and subscriptions may use any node.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from wiber.client.connection import ClientError, Connection, Credentials
from wiber.codec import messages as m

DEFAULT_BOOTSTRAP = "127.0.0.1:7070"
# Errors another node would answer the same way: trying the next one only hides the reason.
REFUSALS = frozenset({"auth-required", "auth-failed", "denied", "tls-failed", "tls-required"})


def bootstrap_from_env(explicit: str | None = None) -> list[str]:
    """`--bootstrap` wins over WIBER_BOOTSTRAP, which wins over WIBER_HOST:WIBER_PORT."""
    text = explicit or os.environ.get("WIBER_BOOTSTRAP")
    if not text:
        host = os.environ.get("WIBER_HOST", "127.0.0.1")
        text = f"{host}:{os.environ.get('WIBER_PORT', '7070')}"
    return [a.strip() for a in text.split(",") if a.strip()]


class Client:
    def __init__(
        self,
        bootstrap: Sequence[str],
        *,
        timeout: float = 10.0,
        credentials: Credentials | None = None,
    ) -> None:
        if not bootstrap:
            raise ClientError("bad-address", "no bootstrap address given", definite=True)
        self.bootstrap = list(bootstrap)
        self.timeout = timeout
        self.credentials = credentials or Credentials()
        self._connections: dict[str, Connection] = {}
        self._members: dict[str, str] = {}  # node id -> address
        self._leader: str | None = None  # address
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, address: str) -> Connection:
        conn = self._connections.get(address)
        if conn is None or conn.closed:
            conn = await Connection.open(
                address, timeout=self.timeout, credentials=self.credentials
            )
            self._connections[address] = conn
        return conn

    def addresses(self) -> list[str]:
        """Every node address known, current members first, without repeats."""
        return list(dict.fromkeys([*self._members.values(), *self.bootstrap]))

    async def any_connection(self) -> Connection:
        errors = []
        for address in [*self._connections, *self.addresses()]:
            try:
                return await self.connect(address)
            except ClientError as e:
                if e.code in REFUSALS:
                    raise
                errors.append(str(e))
        raise ClientError("unavailable", "no node answered: " + "; ".join(errors), definite=True)

    async def leader_connection(self, deadline: float | None = None) -> Connection:
        """A connection to the leader, waiting (until `deadline`) while none is elected."""
        loop = asyncio.get_running_loop()
        deadline = deadline or loop.time() + self.timeout
        async with self._lock:
            while True:
                if self._leader is not None:
                    try:
                        return await self.connect(self._leader)
                    except ClientError as e:
                        if e.code in REFUSALS:
                            raise
                        self._leader = None
                if await self._refresh_metadata() is not None:
                    continue
                if loop.time() >= deadline:
                    raise ClientError("unavailable", "no leader known", definite=True)
                await asyncio.sleep(0.05)

    def forget_leader(self, hint: str | None = None) -> None:
        self._leader = hint

    async def _refresh_metadata(self) -> str | None:
        """Ask the nodes in turn for the members and the leader, until one knows a leader (a
        node cut off or removed from the cluster may not); returns the leader's address."""
        for address in self.addresses():
            try:
                conn = await self.connect(address)
                reply = await conn.request(m.Metadata(), self.timeout)
            except ClientError as e:
                if e.code in REFUSALS:
                    raise
                continue
            if isinstance(reply, m.MetadataOk) and reply.leader is not None:
                self._members = {x.id: x.address for x in reply.members}
                self._leader = self._members.get(reply.leader)
                if self._leader is not None:
                    return self._leader
        return None

    async def request(self, message: m.Message, *, leader: bool) -> m.Message:
        """One request to the leader, or to any node that can answer it: a node that cannot
        (unreachable, or without a leader to confirm a read) is skipped for the next one."""
        if leader:
            conn = await self.leader_connection()
            return await conn.request(message, self.timeout)
        last: ClientError | None = None
        for address in [*self._connections, *self.addresses()]:
            try:
                conn = await self.connect(address)
                return await conn.request(message, self.timeout)
            except ClientError as e:
                if e.code not in ("unavailable", "timeout", "not-leader"):
                    raise
                last = e
        raise last or ClientError("unavailable", "no node answered", definite=True)

    async def close(self) -> None:
        for conn in self._connections.values():
            await conn.close()
        self._connections.clear()
