"""Cluster operations over the framed protocol: status, membership, leadership transfer."""

from __future__ import annotations

import asyncio
from typing import Any

from wiber.client import Client, ClientError
from wiber.client.connection import Connection
from wiber.codec import messages as m


async def node_status(address: str, timeout: float = 3.0) -> dict[str, Any]:
    """One node's view of itself; `role: unreachable` when it does not answer."""
    try:
        conn = await Connection.open(address, timeout=timeout)
    except ClientError as e:
        return {"id": None, "address": address, "role": "unreachable", "error": e.message}
    try:
        reply = await conn.request(m.Status(), timeout)
    except ClientError as e:
        return {"id": conn.node_id, "address": address, "role": "unreachable", "error": e.message}
    finally:
        await conn.close()
    if not isinstance(reply, m.StatusOk):
        return {"id": conn.node_id, "address": address, "role": "unknown"}
    host, _, port = address.rpartition(":")
    return {
        "id": reply.id,
        "address": address,
        "role": reply.role,
        "term": reply.term,
        "leader": reply.leader,
        "commit_index": reply.commit_index,
        "applied_index": reply.applied_index,
        "last_index": reply.last_index,
        "voters": reply.voters,
        "pid": reply.pid,
        "clock_offset_ms": reply.clock_offset_ms,
        "metrics_url": f"http://{host}:{int(port) + 2}/metrics",
    }


async def cluster_status(addresses: list[str]) -> list[dict[str, Any]]:
    rows = await asyncio.gather(*(node_status(a) for a in addresses))
    top = max((r.get("commit_index", 0) for r in rows), default=0)
    for row in rows:
        if "applied_index" in row:
            row["lag"] = top - row["applied_index"]
    return list(rows)


async def members(bootstrap: list[str]) -> list[str]:
    """The client addresses of the current voters, as any node reports them."""
    async with Client(bootstrap) as client:
        reply = await client.request(m.Metadata(), leader=False)
    if not isinstance(reply, m.MetadataOk):
        raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
    return [x.address for x in reply.members]


async def change_members(bootstrap: list[str], action: str, node: str) -> None:
    async with Client(bootstrap, timeout=30.0) as client:
        await client.request(m.ChangeMembers(action, node), leader=True)  # type: ignore[arg-type]


async def transfer_leader(bootstrap: list[str], node: str, timeout: float = 10.0) -> str:
    """Ask the leader to hand over to `node`; returns once `node` leads (or raises)."""
    async with Client(bootstrap) as client:
        await client.request(m.TransferLeader(node), leader=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            client.forget_leader()
            reply = await client.request(m.Metadata(), leader=False)
            if isinstance(reply, m.MetadataOk) and reply.leader == node:
                return node
            await asyncio.sleep(0.1)
    raise ClientError("timeout", f"{node} did not become leader in {timeout}s", definite=False)
