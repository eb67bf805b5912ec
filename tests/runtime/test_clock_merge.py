"""Hybrid clocks merge what peers and clients send (issue 8): a new leader whose wall clock is
behind still stamps above what the old leader stamped, and a client's timestamp too far ahead
is refused before anything is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.runtime.clusters import Cluster, running_cluster
from wiber import admin, localcluster
from wiber.client import Client
from wiber.client.connection import ClientError
from wiber.clocks.hlc import pack, physical_ms
from wiber.codec import messages as m

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SKEW_S = 3
# Tolerate the skew, so that a peer's clock is merged rather than clamped.
MAX_OFFSET_MS = 10_000


def slow_down(cluster: Cluster, node_id: str) -> None:
    """Restart the node with its wall clock 3 s behind. Its persisted clock bound goes too: a
    restart floor is a lease (10 s) ahead of the clock and would hide the skew."""
    node = cluster.node(node_id)
    localcluster.stop_node(cluster.directory, node)
    (cluster.directory / "data" / node_id / "clock-bound").unlink()
    localcluster.start_node(
        cluster.directory,
        node,
        env={
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME": f"-{SKEW_S}s",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_NO_CACHE": "1",
        },
    )


async def publish(client: Client, topic: str, hlc: int | None = None) -> m.PublishOk:
    reply = await client.request(
        m.Publish(topic, [m.PublishMessage(b"x", None, None, None)], hlc=hlc), leader=True
    )
    assert isinstance(reply, m.PublishOk), reply
    return reply


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime (Debian faketime) not installed")
def test_a_leader_with_a_slow_clock_stamps_above_what_it_learnt(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "c", 3, max_clock_offset_ms=MAX_OFFSET_MS) as cluster:
        slow_down(cluster, "n3")

        async def scenario() -> tuple[int, int]:
            await admin.transfer_leader(cluster.addresses, "n1", timeout=30)
            async with Client(cluster.addresses) as client:
                before = await publish(client, "a")
            # n3 learns n1's clock from the appends and heartbeats it receives.
            await asyncio.sleep(1.0)
            await admin.transfer_leader(cluster.addresses, "n3", timeout=30)
            async with Client(cluster.addresses) as client:
                after = await publish(client, "b")  # a fresh topic: no per-topic raise
            assert before.hlc is not None
            assert after.hlc is not None
            return before.hlc, after.hlc

        before, after = asyncio.run(scenario())
        # n3's wall clock is 3 s behind: without the merge its stamp would be about 2 s
        # below n1's, whatever the time the transfers took.
        assert after > before, (physical_ms(after) - physical_ms(before), "ms")


def test_a_client_timestamp_too_far_ahead_is_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:

        async def scenario() -> None:
            async with Client(cluster.addresses) as client:
                seen = await publish(client, "t")
                assert seen.hlc is not None
                # A client echoing a stamp it saw is merged: the next stamp is above it.
                echoed = await publish(client, "u", hlc=seen.hlc)
                assert echoed.hlc is not None
                assert echoed.hlc > seen.hlc
                ahead = pack(physical_ms(seen.hlc) + 60_000, 0)
                with pytest.raises(ClientError) as refused:
                    await publish(client, "v", hlc=ahead)
                assert refused.value.code == "clock-offset"
                assert refused.value.definite
                assert "ahead" in str(refused.value)
                assert await cluster.read_all(cluster.addresses[0], "v") == []

        asyncio.run(scenario())
