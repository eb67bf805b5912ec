"""`local`: nodes are processes on 127.0.0.1 with their own ports and folders; no root needed.

There is no network to break between loopback processes, so the network nemeses refuse this
provider; kill, pause, clock, membership and disk work as on any other.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
from pathlib import Path
from typing import Any

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control import Remote

PORT_STEP = 10  # client, peer, metrics, and room to spare


class LocalProvider:
    name = "local"

    def __init__(self, base_port: int | None = None, host: str = "127.0.0.1") -> None:
        self.base_port = base_port
        self.host = host

    async def up(self, nodes: int, workdir: Path) -> Inventory:
        return await asyncio.to_thread(self._up, nodes, workdir)

    def _up(self, nodes: int, workdir: Path) -> Inventory:
        workdir = workdir.resolve()
        base = self.base_port or free_base_port(nodes, self.host)
        specs = tuple(
            NodeSpec(
                name=f"n{i}",
                host=self.host,
                ssh_port=0,
                user="",
                root_dir=str(workdir / "nodes" / f"n{i}"),
                client_port=base + PORT_STEP * (i - 1),
                peer_port=base + PORT_STEP * (i - 1) + 1,
            )
            for i in range(1, nodes + 1)
        )
        for spec in specs:
            Path(spec.root_dir).mkdir(parents=True, exist_ok=True)
        inventory = Inventory("local", specs, {"workdir": str(workdir), "shared_fs": True})
        inventory.dump(workdir / "inventory.yaml")
        return inventory

    async def down(self, inventory: Inventory) -> None:
        from harness.control.local import LocalRemote

        remote = LocalRemote()
        for node in inventory.nodes:
            await stop_all_daemons(remote, node)
        workdir = inventory.extra.get("workdir")
        if workdir:
            shutil.rmtree(Path(workdir) / "nodes", ignore_errors=True)

    async def status(self, inventory: Inventory) -> list[dict[str, Any]]:
        from harness.control.local import LocalRemote

        return await daemon_status(LocalRemote(), inventory)


async def stop_all_daemons(remote: Remote, node: NodeSpec) -> list[str]:
    """SIGKILL every daemon with a pid file under the node's root_dir/run."""
    result = await remote.run(
        node, f"ls {node.root_dir}/run 2>/dev/null | sed -n 's/\\.pid$//p'", check=False
    )
    names = result.stdout.split()
    for name in names:
        await remote.signal_daemon(node, name, "KILL")
    for name in names:  # SIGKILL is not instant: report only once they are gone
        for _ in range(100):
            if await remote.daemon_pid(node, name) is None:
                break
            await asyncio.sleep(0.05)
    return list(names)


async def daemon_status(remote: Remote, inventory: Inventory) -> list[dict[str, Any]]:
    rows = []
    for node in inventory.nodes:
        pid = await remote.daemon_pid(node, "wiber")
        rows.append(
            {"name": node.name, "host": node.host, "address": node.client_address, "pid": pid}
        )
    return rows


def free_base_port(count: int, host: str = "127.0.0.1") -> int:
    """A base port whose whole block of node ports is free (found by binding, then released).

    Drawn below Linux's ephemeral range (32768+), where outgoing connections take their ports.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - PORT_STEP * count, PORT_STEP)
        if all(_free(host, base + k) for k in range(PORT_STEP * count)):
            return base
    raise OSError("no free block of ports found for the local cluster")


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True
