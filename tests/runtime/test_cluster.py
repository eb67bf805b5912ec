"""A replicated cluster of real broker processes on loopback: failover, catch-up by
snapshot, membership changes and hostile peers, with nothing acknowledged ever lost."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path

from tests.runtime.clusters import Cluster, running_cluster
from wiber.client import Client, Consumer, Producer
from wiber.codec import messages as m
from wiber.codec.peer import encode_hello


async def produce(
    client: Client, topic: str, prefix: str, stop: asyncio.Event, acked: dict[int, bytes]
) -> None:
    """Publish `prefix-<i>` until `stop`, recording each acknowledged offset."""
    producer = Producer(client, max_inflight=32, delivery_timeout=30.0)
    pending: list[tuple[bytes, asyncio.Future[int]]] = []
    i = 0
    while not stop.is_set():
        value = f"{prefix}-{i}".encode()
        pending.append((value, await producer.send(topic, value)))
        i += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
    for value, future in pending:
        if future.exception() is None:
            acked[future.result()] = value


async def consume(client: Client, topic: str, until: int, seen: list[m.StoredMessage]) -> None:
    async for msg in Consumer(client, topic, from_offset=0).messages():
        seen.append(msg)
        if msg.offset + 1 >= until:
            return


def check_everywhere(
    cluster: Cluster, topic: str, acked: dict[int, bytes], addresses: list[str]
) -> list[m.StoredMessage]:
    """Every acknowledged message exactly once at its offset, on every node, in order."""
    views = asyncio.run(cluster.converged(addresses, topic))
    first = views[0]
    by_offset = {x.offset: x.payload for x in first}
    assert [x.offset for x in first] == list(range(len(first)))
    lost = {o: v for o, v in acked.items() if by_offset.get(o) != v}
    assert not lost, f"lost or moved: {sorted(lost.items())[:5]}"
    payloads = [x.payload for x in first]
    assert len(payloads) == len(set(payloads)), "a message was stored twice"
    return first


def test_killing_the_leader_repeatedly_loses_nothing(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:

        async def scenario() -> tuple[dict[int, bytes], list[m.StoredMessage]]:
            acked: dict[int, bytes] = {}
            seen: list[m.StoredMessage] = []
            stop = asyncio.Event()
            async with (
                Client(cluster.addresses, timeout=3.0) as pc,
                Client(cluster.addresses, timeout=3.0) as cc,
            ):
                producer = asyncio.create_task(produce(pc, "f", "p", stop, acked))
                for _ in range(3):
                    await asyncio.sleep(1.0)
                    leader = await cluster.leader()
                    cluster.kill(leader)
                    await asyncio.sleep(1.5)
                    cluster.start(leader)
                await asyncio.sleep(1.0)
                stop.set()
                await producer
                end = max(acked) + 1
                await asyncio.wait_for(consume(cc, "f", end, seen), 30)
            return acked, seen

        acked, seen = asyncio.run(scenario())
        assert len(acked) > 50
        stored = check_everywhere(cluster, "f", acked, cluster.addresses)
        # Producer order: the sequence numbers in the payloads only go up.
        order = [int(x.payload.split(b"-")[1]) for x in stored]
        assert order == sorted(order)
        # The subscriber failed over with the nodes it used and saw no gap, no duplicate.
        assert [x.offset for x in seen] == list(range(len(seen)))


def test_a_node_back_after_compaction_catches_up_by_snapshot(tmp_path: Path) -> None:
    from wiber import admin

    settings = {"snapshot_entries": 50, "retention_entries": 10, "segment_bytes": 2048}
    with running_cluster(tmp_path / "c", 3, **settings) as cluster:

        async def publish(n: int) -> dict[int, bytes]:
            async with Client(cluster.addresses) as client:
                producer = Producer(client, max_inflight=16, max_batch=4)
                futures = [
                    (f"v{i}".encode(), await producer.send("s", f"v{i}".encode())) for i in range(n)
                ]
                return {await f: v for v, f in futures}

        asyncio.run(cluster.leader())
        cluster.kill("n3")
        acked = asyncio.run(publish(600))
        first_segment = sorted((tmp_path / "c/data/n1/log").glob("*.log"))[0]
        assert int(first_segment.stem) > 1, "the leader's log was not compacted"
        cluster.start("n3")

        async def caught_up() -> None:
            leader = await cluster.leader()
            for _ in range(300):
                rows = await admin.cluster_status(cluster.addresses)
                by_id = {r["id"]: r for r in rows if r.get("id")}
                n3, top = by_id.get("n3"), by_id.get(leader)
                if n3 and top and n3.get("applied_index", -1) >= top["commit_index"]:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"n3 did not catch up: {rows}")

        asyncio.run(caught_up())
        snapshots = list((tmp_path / "c/data/n3/snapshots").iterdir())
        assert snapshots, "n3 caught up without installing a snapshot"
        assert int(sorted((tmp_path / "c/data/n3/log").glob("*.log"))[0].stem) > 1
        # n3 holds no bodies from before its snapshot; it serves what came after, at the
        # offsets every other node gives them.
        more = asyncio.run(publish(5))
        assert min(more) == len(acked)
        views: list[list[m.StoredMessage]] = []
        for _ in range(100):
            views = [asyncio.run(cluster.read_all(a, "s")) for a in cluster.addresses]
            if all(v and v[-1].offset == max(more) for v in views):
                break
            time.sleep(0.1)
        # Each node compacts on its own segment boundaries, so the views start at different
        # offsets; where they overlap they agree, and each is contiguous.
        payload_at: dict[int, bytes] = {}
        for view in views:
            assert view[-1].offset == max(more)
            assert [x.offset for x in view] == list(range(view[0].offset, max(more) + 1))
            for x in view:
                assert payload_at.setdefault(x.offset, x.payload) == x.payload


def test_membership_changes_while_publishing_lose_nothing(tmp_path: Path) -> None:
    from wiber import admin

    with running_cluster(tmp_path / "c", 5, voters=3) as cluster:

        async def scenario() -> dict[int, bytes]:
            acked: dict[int, bytes] = {}
            stop = asyncio.Event()
            async with Client(cluster.addresses, timeout=3.0) as client:
                producer = asyncio.create_task(produce(client, "mc", "p", stop, acked))
                leader = await cluster.leader()
                await asyncio.sleep(0.5)
                await admin.change_members(cluster.addresses, "add", "n4")
                await admin.change_members(cluster.addresses, "remove", leader)
                await asyncio.sleep(0.5)
                await admin.change_members(cluster.addresses, "add", "n5")
                await asyncio.sleep(0.5)
                stop.set()
                await producer
            return acked

        acked = asyncio.run(scenario())
        assert len(acked) > 20
        voters = [n.address for n in cluster.nodes if n.id in ("n4", "n5")]
        check_everywhere(cluster, "mc", acked, voters)


def test_hostile_peer_frames_are_dropped_and_the_node_keeps_running(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:
        asyncio.run(cluster.leader())
        target = cluster.node("n2")
        attacks = [
            struct.pack(">I", 0xFFFFFFF0) + b"huge",
            encode_hello("n1") + struct.pack(">I", 5) + b"\x93\x01\x02\x03\x04",
            encode_hello("n1") + struct.pack(">I", 3) + b"\xc1\xc1\xc1",
            b"\x00" * 64,
        ]
        for attack in attacks:
            with socket.create_connection(("127.0.0.1", target.peer_port)) as s:
                s.sendall(attack)

        async def still_serving() -> tuple[int, m.Message]:
            async with Client(cluster.addresses) as client:
                offset = await Producer(client).publish("after", b"still fine")
                return offset, await client.request(m.Status(), leader=False)

        offset, reply = asyncio.run(still_serving())
        assert offset == 0
        assert isinstance(reply, m.StatusOk)
        log = (tmp_path / "c" / "n2.log").read_text()
        assert "malformed" in log or "closing peer stream" in log


def test_traced_nodes_write_events_the_raft_checker_accepts(tmp_path: Path) -> None:
    from harness.checkers.raft import check, read_traces

    with running_cluster(tmp_path / "c", 3, trace=True) as cluster:

        async def publish_around_a_failover() -> None:
            async with Client(cluster.addresses) as client:
                await Producer(client).publish("t", b"before")
                leader = await cluster.leader()
                cluster.kill(leader)
                await Producer(client).publish("t", b"after")
                cluster.start(leader)  # a restart must not look like a regression
                await asyncio.sleep(1.0)
                await Producer(client).publish("t", b"again")

        asyncio.run(publish_around_a_failover())
    events = read_traces(tmp_path / "c" / "data")
    assert {e["node"] for e in events} == {"n1", "n2", "n3"}
    kinds = {e["event"] for e in events}
    assert {"send", "receive", "become-leader"} <= kinds
    assert all(isinstance(e["hlc"], int) for e in events)
    assert check(events)["valid"] is True
