"""Cluster operations over the framed protocol: status, membership, leadership transfer."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from wiber.client import Client, ClientError
from wiber.client.connection import Connection, Credentials
from wiber.codec import messages as m
from wiber.security import scram


async def node_status(
    address: str, timeout: float = 3.0, credentials: Credentials | None = None
) -> dict[str, Any]:
    """One node's view of itself; `role: unreachable` when it does not answer."""
    try:
        conn = await Connection.open(address, timeout=timeout, credentials=credentials)
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


async def cluster_status(
    addresses: list[str], credentials: Credentials | None = None
) -> list[dict[str, Any]]:
    rows = await asyncio.gather(*(node_status(a, credentials=credentials) for a in addresses))
    top = max((r.get("commit_index", 0) for r in rows), default=0)
    for row in rows:
        if "applied_index" in row:
            row["lag"] = top - row["applied_index"]
    return list(rows)


async def members(bootstrap: list[str], credentials: Credentials | None = None) -> list[str]:
    """The client addresses of the current voters, as any node reports them."""
    async with Client(bootstrap, credentials=credentials) as client:
        reply = await client.request(m.Metadata(), leader=False)
    if not isinstance(reply, m.MetadataOk):
        raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
    return [x.address for x in reply.members]


async def change_members(
    bootstrap: list[str],
    action: str,
    node: str,
    credentials: Credentials | None = None,
    timeout: float = 30.0,
) -> None:
    """Add a voter or remove a member; returns once the change applied.

    A definite "no leader" answer (an election is under way, as after removing the leader)
    is asked again until `timeout`: nothing was proposed. Any other failure is raised as it
    is, since asking again after an indefinite one could apply the change twice.
    """
    async with Client(bootstrap, timeout=timeout, credentials=credentials) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                request = m.ChangeMembers(action, node)  # type: ignore[arg-type]
                await client.request(request, leader=True)
                return
            except ClientError as e:
                no_leader = e.definite and e.code in ("not-leader", "unavailable")
                if not no_leader or loop.time() >= deadline:
                    raise
                client.forget_leader(e.leader_hint)
                await asyncio.sleep(0.2)


_TRANSFER_RETRYABLE = frozenset({"not-leader", "unavailable", "timeout", "transferring"})


async def transfer_leader(
    bootstrap: list[str],
    node: str,
    timeout: float = 10.0,
    credentials: Credentials | None = None,
) -> str:
    """Ask the leader to hand over to `node`; returns once `node` leads (or raises).

    The request is repeated every second: the leader gives a transfer up after one election
    timeout, and its TimeoutNow is lost when the transferee's connection is down (a node
    that just restarted), so one request alone may never take effect.
    """
    async with Client(bootstrap, credentials=credentials) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        asked = -1.0
        while loop.time() < deadline:
            if loop.time() - asked >= 1.0:
                try:
                    await client.request(m.TransferLeader(node), leader=True)
                except ClientError as e:
                    if e.code not in _TRANSFER_RETRYABLE:
                        raise  # e.g. the node is not a voter: asking again cannot help
                asked = loop.time()
            client.forget_leader()
            with contextlib.suppress(ClientError):
                reply = await client.request(m.Metadata(), leader=False)
                if isinstance(reply, m.MetadataOk) and reply.leader == node:
                    return node
            await asyncio.sleep(0.1)
    raise ClientError("timeout", f"{node} did not become leader in {timeout}s", definite=False)


async def topic_bounds(client: Client, topic: str) -> tuple[int, int]:
    """(log start offset, end offset) of a topic, through a linearizable read."""
    reply = await client.request(m.Fetch(topic, last_n=0), leader=False)
    if not isinstance(reply, m.FetchOk):
        raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
    return reply.log_start_offset, reply.next_offset


async def describe_group(
    bootstrap: list[str],
    group: str,
    topics: list[str],
    credentials: Credentials | None = None,
) -> list[dict[str, Any]]:
    rows = []
    async with Client(bootstrap, credentials=credentials) as client:
        for topic in topics:
            reply = await client.request(m.FetchOffset(group, topic), leader=False)
            committed = reply.offset if isinstance(reply, m.OffsetOk) else None
            start, end = await topic_bounds(client, topic)
            lag = end - (committed if committed is not None else start)
            rows.append(
                {
                    "group": group,
                    "topic": topic,
                    "committed": committed,
                    "log_start": start,
                    "end": end,
                    "lag": lag,
                }
            )
    return rows


async def reset_group(
    bootstrap: list[str],
    group: str,
    topic: str,
    *,
    to: str,
    offset: int | None = None,
    time_ms: int | None = None,
    credentials: Credentials | None = None,
) -> int:
    """Move a group's committed offset on `topic`; returns the new offset."""
    async with Client(bootstrap, credentials=credentials) as client:
        start, end = await topic_bounds(client, topic)
        if to == "earliest":
            target = start
        elif to == "latest":
            target = end
        elif to == "offset" and offset is not None:
            target = min(max(offset, start), end)
        elif to == "time" and time_ms is not None:
            reply = await client.request(
                m.Fetch(topic, from_time_ms=time_ms, max_count=1), leader=False
            )
            if not isinstance(reply, m.FetchOk):
                raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
            target = reply.messages[0].offset if reply.messages else reply.next_offset
        else:
            raise ClientError("bad-request", f"bad reset target {to!r}", definite=True)
        await client.request(m.CommitOffset(group, topic, target, reset=True), leader=True)
    return target


async def add_user(
    bootstrap: list[str], name: str, password: str, credentials: Credentials | None = None
) -> None:
    """Store a SCRAM verifier for `name` through Raft; the password never leaves this process."""
    cred = scram.derive(password, secrets.token_bytes(16))
    async with Client(bootstrap, credentials=credentials) as client:
        request = m.PutUser(name, cred.salt, cred.iterations, cred.stored_key, cred.server_key)
        await client.request(request, leader=True)


async def remove_user(
    bootstrap: list[str], name: str, credentials: Credentials | None = None
) -> None:
    async with Client(bootstrap, credentials=credentials) as client:
        await client.request(m.RemoveUser(name), leader=True)


async def change_acl(
    bootstrap: list[str],
    action: str,
    principal: str,
    operation: str,
    pattern: str,
    credentials: Credentials | None = None,
) -> None:
    async with Client(bootstrap, credentials=credentials) as client:
        request = m.ChangeAcl(action, principal, operation, pattern)  # type: ignore[arg-type]
        await client.request(request, leader=True)


async def list_acls(bootstrap: list[str], credentials: Credentials | None = None) -> m.AclList:
    async with Client(bootstrap, credentials=credentials) as client:
        reply = await client.request(m.ListAcls(), leader=False)
    if not isinstance(reply, m.AclList):
        raise ClientError("bad-reply", f"unexpected {reply!r}", definite=False)
    return reply
