"""The `local` provider (no root): Wiber processes on loopback, and the nemeses that fit it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import net
from harness.cluster import get_provider
from harness.cluster.inventory import Inventory
from harness.nemesis import NemesisContext, NemesisError, get_nemesis
from harness.nemesis.base import pick_targets
from tests.harness.infra.helpers import (
    HAVE_FAKETIME,
    context,
    run,
    settled_leader,
    start_cluster,
    wait_for,
)
from wiber.admin import node_status
from wiber.client import Client, Producer
from wiber.codec import messages as m


async def publish(
    ctx: NemesisContext, topic: str, count: int, avoid: str | None = None
) -> list[int]:
    """Publish through every node but `avoid` (a paused node accepts TCP but never answers, so a
    client trying it first would wait out its whole timeout)."""
    skip = ctx.inventory.node(avoid).client_address if avoid else None
    async with Client([a for a in ctx.db.addresses() if a != skip], timeout=20) as client:
        producer = Producer(client)
        offsets = [await producer.publish(topic, f"m{i}".encode()) for i in range(count)]
        await producer.close()
    return offsets


async def follower(ctx: NemesisContext) -> str:
    leader = await settled_leader(ctx)
    return next(n for n in ctx.inventory.names if n != leader)


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]


def test_local_cluster_runs_without_root_and_down_leaves_no_process(tmp_path: Path) -> None:
    provider = get_provider("local")
    inventory = run(provider.up(3, tmp_path / "c"))
    run(start_cluster(inventory))
    pids = [row["pid"] for row in run(provider.status(inventory))]
    assert all(isinstance(p, int) and Path(f"/proc/{p}").exists() for p in pids)
    run(provider.down(inventory))
    time.sleep(0.2)
    alive = [p for p in pids if Path(f"/proc/{p}").exists() and process_state(p) != "Z"]
    assert alive == []
    assert [row["pid"] for row in run(provider.status(inventory))] == [None, None, None]


def test_kill_leader_then_heal_restarts_it(local_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            leader = await settled_leader(ctx)
            done = await get_nemesis("kill").start(ctx, {"targets": [leader]})
            assert done["targets"] == [leader] == done["killed"]
            assert not await ctx.db.is_running(str(leader))

            async def new_leader() -> bool:
                return (await ctx.db.leader()) not in (None, leader)

            assert await wait_for(new_leader)
            healed = await get_nemesis("kill").heal(ctx)
            assert healed["restarted"] == [leader]
            assert all([await ctx.db.is_running(n) for n in ctx.inventory.names])

    run(scenario())


def test_paused_node_makes_no_progress_until_resumed(local_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            target = await follower(ctx)
            node = ctx.inventory.node(target)
            pid = await ctx.remote.daemon_pid(node, "wiber")
            assert pid is not None
            done = await get_nemesis("pause").start(ctx, {"targets": [target]})
            assert done["paused"] == [target]
            assert process_state(pid) == "T"
            await publish(ctx, "paused", 5, avoid=target)
            status = await node_status(node.client_address, timeout=1.0)
            assert status["role"] == "unreachable"
            await get_nemesis("pause").heal(ctx)
            assert process_state(pid) != "T"

            async def caught_up() -> bool:
                rows = await ctx.db.status()
                applied = {r["id"]: r.get("applied_index") for r in rows}
                return len(set(applied.values())) == 1 and None not in applied.values()

            assert await wait_for(caught_up)

    run(scenario())


def test_network_nemeses_refuse_a_loopback_cluster(local_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            for name in ("partition", "loss", "delay"):
                with pytest.raises(net.NetError, match="one address per node"):
                    await get_nemesis(name).start(ctx, {})

    run(scenario())


def test_membership_removes_a_voter_and_heal_adds_it_back(local_cluster: Inventory) -> None:
    async def voters(ctx: NemesisContext) -> list[str]:
        leader = await settled_leader(ctx)
        status = await node_status(ctx.inventory.node(leader).client_address)
        return sorted(status["voters"])

    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            target = await follower(ctx)
            done = await get_nemesis("membership").start(ctx, {"targets": [target]})
            assert done["targets"] == [target]
            assert target not in await voters(ctx)
            with pytest.raises(NemesisError, match="majority"):
                await get_nemesis("membership").start(ctx, {"targets": "majority"})
            healed = await get_nemesis("membership").heal(ctx)
            assert healed["targets"] == [target]

            async def back() -> bool:
                return target in await voters(ctx)

            assert await wait_for(back)

    run(scenario())


def test_disk_truncates_a_stopped_nodes_log_and_heal_restarts_it(local_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            await publish(ctx, "disk", 10)
            target = await follower(ctx)
            done = await get_nemesis("disk").start(
                ctx, {"targets": [target], "mode": "truncate", "bytes": 7}
            )
            info = done["files"][target]
            assert info["size_after"] == info["size_before"] - 7
            assert not await ctx.db.is_running(target)
            healed = await get_nemesis("disk").heal(ctx)
            assert healed["restarted"] == [target]
            assert await ctx.db.is_running(target)

    run(scenario())


def test_disk_corrupt_rewrites_the_tail_without_changing_the_size(local_cluster: Inventory) -> None:
    def segments(target: str) -> dict[str, bytes]:
        log_dir = Path(local_cluster.node(target).data_dir) / "log"
        return {str(p): p.read_bytes() for p in log_dir.glob("*.log")}

    async def scenario() -> None:
        async with context(local_cluster) as ctx:
            await publish(ctx, "corrupt", 5)
            target = await follower(ctx)
            await ctx.db.kill(target)
            before = await asyncio.to_thread(segments, target)
            done = await get_nemesis("disk").start(
                ctx, {"targets": [target], "mode": "corrupt", "bytes": 16}
            )
            info = done["files"][target]
            after = (await asyncio.to_thread(segments, target))[info["file"]]
            assert len(after) == info["size_before"] == len(before[info["file"]])
            assert after[:-16] == before[info["file"]][:-16]
            assert after != before[info["file"]]
            await get_nemesis("disk").heal(ctx)

    run(scenario())


def read_stamps(addresses: list[str], topic: str, count: int) -> list[dict[str, object]]:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "wiber", "sub", topic, "--json"),
            *("--from-offset", "0", "--count", str(count), "--bootstrap", ",".join(addresses)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.skipif(not HAVE_FAKETIME, reason="needs libfaketime (Debian package faketime)")
def test_clock_bump_shows_in_the_leaders_hlc_timestamps(local_cluster: Inventory) -> None:
    skew = 3600.0

    async def scenario() -> tuple[list[str], list[float], int]:
        async with context(local_cluster) as ctx:
            leader = await settled_leader(ctx)
            done = await get_nemesis("clock").start(
                ctx, {"kind": "bump", "targets": [leader], "delta_ms": skew * 1000}
            )
            assert done["offsets_s"] == {leader: skew}
            # libfaketime rereads its offset file once a second; a loaded machine may take
            # longer, so publish until a stamp shows the skew (each one's lead measured when
            # it is acknowledged), then three more.
            leads: list[float] = []
            published = 0
            async with Client(ctx.db.addresses(), timeout=20) as client:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while loop.time() < deadline and len(leads) < 3:
                    reply = await client.request(
                        m.Publish("clock", [m.PublishMessage(b"x", None, None, None)]),
                        leader=True,
                    )
                    assert isinstance(reply, m.PublishOk)
                    assert reply.hlc is not None
                    published += 1
                    lead = (reply.hlc >> 16) / 1000 - time.time()
                    if leads or lead > skew - 120:
                        leads.append(lead)
                    else:
                        await asyncio.sleep(0.2)
            healed = await get_nemesis("clock").heal(ctx)
            assert set(healed["offsets_s"].values()) == {0.0}
            return ctx.db.addresses(), leads, published

    addresses, leads, published = run(scenario())
    assert len(leads) == 3, "no stamp showed the skew within 20 s"
    assert all(skew - 120 < a < skew + 120 for a in leads), leads
    stamps = read_stamps(addresses, "clock", published)
    assert len(stamps) == published
    assert all(int(str(s["hlc"])) >> 16 == round(float(str(s["ts"])) * 1000) for s in stamps)


def test_leader_target_falls_back_to_a_random_node_without_a_leader(tmp_path: Path) -> None:
    provider = get_provider("local")
    inventory = run(provider.up(3, tmp_path / "c"))

    async def scenario() -> list[str]:
        async with context(inventory) as ctx:
            return await pick_targets(ctx, "leader")

    targets = run(scenario())
    assert len(targets) == 1
    assert targets[0] in inventory.names
