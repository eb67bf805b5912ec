"""The netns provider: real hosts in namespaces, every nemesis really happening and healing.

Needs root, `ip netns` and sshd (skipped otherwise). One 3-node cluster, Wiber installed from
the wheelhouse, serves the nemesis tests; teardown tests make their own small clusters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import net
from harness.cluster import get_provider
from harness.cluster.inventory import Inventory
from harness.cluster.netns import (
    PREFIX,
    SLOTS,
    bridge_name,
    claim_slot,
    namespace,
    plan_inventory,
)
from harness.nemesis import NemesisContext, get_nemesis
from harness.nemesis.delay import DAEMON as HOLDER
from tests.harness.infra.helpers import (
    HAVE_FAKETIME,
    can_connect,
    connect_seconds,
    connect_successes,
    context,
    reachability,
    require_netns,
    run,
    settled_leader,
    wait_for,
)

pytestmark = pytest.mark.netns


def leftovers(slot: int, workdir: Path) -> dict[str, list[str]]:
    """Everything of this cluster still on the machine: namespaces, links, processes, rules."""
    spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    bridge = bridge_name(slot)
    link_names = [line.split(":")[1].strip().split("@")[0] for line in links.stdout.splitlines()]
    processes = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if str(workdir) in cmdline and state != "Z":
            processes.append(f"{proc.name}: {cmdline}")
    return {
        "namespaces": [s for s in spaces.stdout.split() if s.startswith(f"{PREFIX}{slot}-")],
        "links": [name for name in link_names if name == bridge or name.startswith(f"{bridge}n")],
        "processes": processes,
        "rules": [r for r in rules.stdout.splitlines() if "WIBER" in r],
        "slot": [str(SLOTS / str(slot))] if (SLOTS / str(slot)).exists() else [],
    }


def nothing_left(slot: int, workdir: Path) -> dict[str, list[str]]:
    deadline = time.monotonic() + 5
    while True:
        found = {k: v for k, v in leftovers(slot, workdir).items() if v}
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cluster_down_from_a_fresh_process_leaves_nothing_behind(tmp_path: Path) -> None:
    require_netns()
    workdir = tmp_path / "c"
    up = cli("cluster", "up", "--provider", "netns", "--nodes", "2", "--dir", str(workdir))
    assert up.returncode == 0, up.stderr
    inventory = Inventory.load(workdir / "inventory.yaml")
    slot = int(inventory.extra["slot"])
    before = leftovers(slot, workdir)
    assert sorted(before["namespaces"]) == [namespace(slot, 1), namespace(slot, 2)]
    assert bridge_name(slot) in before["links"]
    assert before["slot"]

    async def break_things() -> None:
        async with context(inventory, install_mode="control") as ctx:
            await ctx.db.install()
            await ctx.db.configure()
            await ctx.db.start_all()
            await get_nemesis("partition").start(ctx, {"kind": "one", "target": "n1"})

    run(break_things())
    running = leftovers(slot, workdir)
    assert running["processes"], "expected brokers and sshds to be running"
    assert running["rules"] == []  # partition rules live inside the namespaces, not on the host
    inside = subprocess.run(
        ["ip", "netns", "exec", namespace(slot, 1), "iptables", "-S", net.PARTITION_CHAIN],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "-j DROP" in inside.stdout
    # `down` in another process, with only the files on disk to go by (as after a crash).
    down = cli("cluster", "down", "--dir", str(workdir))
    assert down.returncode == 0, down.stderr
    assert nothing_left(slot, workdir) == {}


def test_down_cleans_up_after_an_interrupted_up(tmp_path: Path) -> None:
    require_netns()
    workdir, slot = claim_slot(tmp_path / "c")
    provider = get_provider("netns")
    ns = namespace(slot, 1)
    subprocess.run(["ip", "link", "add", bridge_name(slot), "type", "bridge"], check=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    sleeper = subprocess.Popen(
        ["ip", "netns", "exec", ns, "sleep", "300", str(workdir)], start_new_session=True
    )
    try:
        partial = plan_inventory(slot, 3, workdir)
        run(provider.down(partial))
        sleeper.wait(timeout=10)
        assert nothing_left(slot, workdir) == {}
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


async def mismatches(ctx: NemesisContext, grudge: net.Grudge) -> list[str]:
    """Pairs whose real reachability differs from what the grudge says.

    A connect that should work is probed a second time before it counts: on a loaded machine
    a prober descheduled past its deadline reports a timeout for a connection that succeeded.
    """
    wrong: list[tuple[str, str]] = []
    for _attempt in range(2):
        found = await reachability(ctx, timeout=2.0)
        assert len(found) == len(ctx.inventory.names) * (len(ctx.inventory.names) - 1)
        wrong = [pair for pair, ok in sorted(found.items()) if ok != net.reachable(grudge, *pair)]
        if all(not net.reachable(grudge, *pair) for pair in wrong):
            break  # only cut pairs that connected: no retry can excuse those
    return [f"{a}->{b}: grudge says {net.reachable(grudge, a, b)}" for a, b in wrong]


@pytest.mark.parametrize("kind", ["one", "halves", "bridge", "majorities-ring"])
def test_partition_really_cuts_and_heal_really_mends(netns_cluster: Inventory, kind: str) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            done = await get_nemesis("partition").start(ctx, {"kind": kind})
            grudge = {n: set(v) for n, v in done["grudge"].items()}
            assert any(grudge.values()), done
            assert await mismatches(ctx, grudge) == []
            await get_nemesis("partition").heal(ctx)
            for node in ctx.inventory.nodes:
                assert await net.rules(ctx.remote, node, net.PARTITION_CHAIN) == []
            assert await mismatches(ctx, {}) == []

    run(scenario())


def test_isolated_leader_loses_leadership_to_the_majority(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            old = await settled_leader(ctx)

            async def new_leader_elsewhere() -> bool:
                rows = await ctx.db.status()
                return any(r.get("role") == "leader" and r.get("id") != old for r in rows)

            try:
                done = await get_nemesis("partition").start(ctx, {"kind": "leader"})
                assert done["grudge"][old] == sorted(set(ctx.inventory.names) - {old}), done
                assert await wait_for(new_leader_elsewhere, 30)
            finally:
                await get_nemesis("partition").heal(ctx)

    run(scenario())


def test_loss_drops_some_packets_and_heal_stops_it(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            try:
                done = await get_nemesis("loss").start(ctx, {"targets": ["n2"], "probability": 0.5})
                assert done["targets"] == ["n2"]
                lossy = await connect_successes(ctx, "n1", "n2", 30)
                assert 0 < lossy < 30
            finally:
                await get_nemesis("loss").heal(ctx)
            assert await connect_successes(ctx, "n1", "n2", 10, timeout=3.0) == 10

    run(scenario())


def test_delay_holds_packets_and_heal_releases_them(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            done = await get_nemesis("delay").start(
                ctx, {"targets": ["n3"], "delay_ms": 150, "jitter_ms": 0}
            )
            assert done["targets"] == ["n3"]
            # A connect needs the SYN to reach n3, which holds it 150 ms: it cannot be faster.
            assert await connect_seconds(ctx, "n1", "n3") >= 0.14
            await get_nemesis("delay").heal(ctx)
            node = ctx.inventory.node("n3")
            assert await ctx.remote.daemon_pid(node, HOLDER) is None
            assert await net.rules(ctx.remote, node, net.DELAY_CHAIN) == []
            assert await can_connect(ctx, "n1", "n3")

    run(scenario())


def test_pause_stops_the_process_and_heal_resumes_it(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            leader = await settled_leader(ctx)

            async def others_elect() -> bool:
                rows = await ctx.db.status()
                return any(r.get("role") == "leader" and r.get("id") != leader for r in rows)

            try:
                done = await get_nemesis("pause").start(ctx, {"targets": [leader]})
                assert done["paused"] == [leader]
                assert await ctx.db.process_state(leader) == "T"
                assert await wait_for(others_elect, 30)
            finally:
                await get_nemesis("pause").heal(ctx)
            assert await ctx.db.process_state(str(leader)) in ("S", "R")

    run(scenario())


def test_kill_all_then_heal_brings_the_cluster_back(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            done = await get_nemesis("kill").start(ctx, {"targets": "all"})
            assert sorted(done["killed"]) == ctx.inventory.names
            assert await ctx.db.leader() is None
            await get_nemesis("kill").heal(ctx)

            async def has_leader() -> bool:
                return await ctx.db.leader() is not None

            assert await wait_for(has_leader, 30)

    run(scenario())


@pytest.mark.skipif(not HAVE_FAKETIME, reason="needs libfaketime (Debian package faketime)")
def test_clock_offset_reaches_the_broker_in_its_namespace(netns_cluster: Inventory) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            node = ctx.inventory.node("n1")
            await get_nemesis("clock").start(
                ctx, {"kind": "bump", "targets": ["n1"], "delta_ms": 5000}
            )
            text = await ctx.remote.run(node, f"cat {ctx.db.clock_file(node)}")
            assert text.stdout.strip() == "+5.000s"
            pid = await ctx.remote.daemon_pid(node, "wiber")
            environ = await ctx.remote.run(node, f"tr '\\0' '\\n' < /proc/{pid}/environ")
            assert "FAKETIME_DONT_FAKE_MONOTONIC=1" in environ.stdout
            await get_nemesis("clock").heal(ctx)
            text = await ctx.remote.run(node, f"cat {ctx.db.clock_file(node)}")
            assert text.stdout.strip() == "+0.000s"

    run(scenario())


def test_collect_fetches_logs_and_config_over_ssh(netns_cluster: Inventory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with context(netns_cluster) as ctx:
            await ctx.db.collect(tmp_path / "run")

    run(scenario())
    for name in netns_cluster.names:
        folder = tmp_path / "run" / "nodes" / name
        assert (folder / "wiber.log").exists()
        assert f"id: {name}" in (folder / "cluster.yaml").read_text()


def test_ssh_provider_adopts_a_user_written_inventory(
    netns_cluster: Inventory, tmp_path: Path
) -> None:
    mine = Inventory("whatever", netns_cluster.nodes)
    mine.dump(tmp_path / "mine.yaml")
    provider = get_provider("ssh", inventory=tmp_path / "mine.yaml")
    adopted = run(provider.up(2, tmp_path / "work"))
    assert adopted.provider == "ssh"
    assert adopted.names == ["n1", "n2"]
    assert Inventory.load(tmp_path / "work" / "inventory.yaml") == adopted
    rows = run(provider.status(adopted))
    assert all(isinstance(r["pid"], int) for r in rows), rows
