"""Helpers for the harness infrastructure tests: event loops, contexts, waiting, probes."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control import remote_for
from harness.db import FAKETIME_LIB, WiberDB
from harness.nemesis import NemesisContext

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def wrap() -> T:
        return await coro

    return asyncio.run(wrap())


def netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None or not Path("/usr/sbin/sshd").exists():
        return "needs iproute2 and openssh-server"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "`ip netns` does not work here"
    return None


def require_netns() -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"netns: {reason}")


HAVE_FAKETIME = Path(FAKETIME_LIB).exists()


@asynccontextmanager
async def context(
    inventory: Inventory, seed: int = 7, **db_options: Any
) -> AsyncIterator[NemesisContext]:
    """A nemesis context on a fresh remote (one per event loop: SSH connections are per loop)."""
    import random

    remote = remote_for(inventory)
    db = WiberDB(inventory, remote, **db_options)
    try:
        yield NemesisContext(inventory, remote, db, random.Random(seed))
    finally:
        await remote.close()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def settled_leader(ctx: NemesisContext, timeout: float = 30.0) -> str:
    """The cluster's leader once there is one: a test that follows another fault must not
    start from the election that fault left behind."""
    found: list[str] = []

    async def has_leader() -> bool:
        leader = await ctx.db.leader()
        if leader is not None:
            found.append(leader)
        return leader is not None

    assert await wait_for(has_leader, timeout), "no leader elected"
    return found[-1]


async def start_cluster(inventory: Inventory, **db_options: Any) -> None:
    async with context(inventory, **db_options) as ctx:
        await ctx.db.install()
        await ctx.db.configure()
        await ctx.db.start_all()

        async def has_leader() -> bool:
            return await ctx.db.leader() is not None

        assert await wait_for(has_leader, 30), "no leader elected"


async def can_connect(ctx: NemesisContext, source: str, target: str, timeout: float = 3.0) -> bool:
    """Whether `source` opens a TCP connection to `target`'s peer port, run on `source` itself."""
    node, other = ctx.inventory.node(source), ctx.inventory.node(target)
    code = (
        "import socket,sys\n"
        "try: socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3]))\n"
        "except OSError: sys.exit(1)"
    )
    result = await ctx.remote.run(
        node,
        f"/usr/bin/python3 -c {shlex.quote(code)} {other.host} {other.peer_port} {timeout}",
        check=False,
        timeout=timeout + 10,
    )
    return result.exit_status == 0


async def connect_seconds(ctx: NemesisContext, source: str, target: str) -> float:
    """How long a TCP connect from `source` to `target`'s peer port takes, measured on source."""
    node, other = ctx.inventory.node(source), ctx.inventory.node(target)
    code = (
        "import socket,sys,time\n"
        "t=time.monotonic(); socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)\n"
        "print(time.monotonic()-t)"
    )
    result = await ctx.remote.run(
        node, f"/usr/bin/python3 -c {shlex.quote(code)} {other.host} {other.peer_port}", timeout=20
    )
    return float(result.stdout.strip())


async def connect_successes(
    ctx: NemesisContext, source: str, target: str, attempts: int, timeout: float = 0.3
) -> int:
    """How many of `attempts` TCP connects from `source` to `target`'s peer port succeed."""
    node, other = ctx.inventory.node(source), ctx.inventory.node(target)
    code = (
        "import socket,sys\n"
        "ok=0\n"
        "for _ in range(int(sys.argv[3])):\n"
        "    try:\n"
        "        socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[4]))\n"
        "        ok+=1\n"
        "    except OSError: pass\n"
        "print(ok)"
    )
    result = await ctx.remote.run(
        node,
        f"/usr/bin/python3 -c {shlex.quote(code)} "
        f"{other.host} {other.peer_port} {attempts} {timeout}",
        timeout=attempts * (timeout + 1) + 10,
    )
    return int(result.stdout.strip())


async def reachability(ctx: NemesisContext, timeout: float = 1.0) -> dict[tuple[str, str], bool]:
    """For every ordered pair of nodes, whether the first opens a TCP connection to the
    second's peer port; one remote call per source node, all targets tried in parallel."""
    code = (
        "import socket,sys,threading\n"
        "res={}\n"
        "def go(h,p):\n"
        "    try:\n"
        "        socket.create_connection((h,int(p)),float(sys.argv[1])).close(); res[h]=1\n"
        "    except OSError: res[h]=0\n"
        "ts=[threading.Thread(target=go,args=a.split(':')) for a in sys.argv[2:]]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(' '.join(f'{h}={v}' for h,v in res.items()))"
    )
    nodes = ctx.inventory.nodes
    by_host = {n.host: n.name for n in nodes}

    async def from_node(source: NodeSpec) -> dict[tuple[str, str], bool]:
        targets = " ".join(f"{o.host}:{o.peer_port}" for o in nodes if o.name != source.name)
        result = await ctx.remote.run(
            source,
            f"/usr/bin/python3 -c {shlex.quote(code)} {timeout} {targets}",
            timeout=timeout + 20,
        )
        pairs = (item.split("=") for item in result.stdout.split())
        return {(source.name, by_host[h]): v == "1" for h, v in pairs}

    found: dict[tuple[str, str], bool] = {}
    for part in await asyncio.gather(*(from_node(n) for n in nodes)):
        found.update(part)
    return found
