"""`ssh`: machines the user already has, listed in an inventory YAML they wrote (DESIGN 4.7).

`up` checks that every node answers over SSH and copies the inventory (its first N nodes) to
the work folder; `down` kills what the harness started there and removes its iptables chains,
but leaves the machines and their installed venvs alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from harness import net
from harness.cluster import ProviderError
from harness.cluster.inventory import Inventory
from harness.cluster.local import daemon_status, stop_all_daemons
from harness.control.ssh import SshRemote


class SshProvider:
    name = "ssh"

    def __init__(self, inventory: Path | str | None = None) -> None:
        self.source = Path(inventory) if inventory is not None else None

    async def up(self, nodes: int, workdir: Path) -> Inventory:
        if self.source is None:
            raise ProviderError("the ssh provider needs --inventory FILE listing your machines")
        given = await asyncio.to_thread(Inventory.load, self.source)
        if nodes > len(given.nodes):
            raise ProviderError(f"{self.source} lists {len(given.nodes)} nodes, not {nodes}")
        inventory = dataclasses.replace(given, provider="ssh", nodes=given.nodes[:nodes])
        remote = SshRemote(inventory)
        try:
            await asyncio.gather(*(remote.run(n, "true", timeout=30) for n in inventory.nodes))
        finally:
            await remote.close()
        await asyncio.to_thread(inventory.dump, workdir / "inventory.yaml")
        return inventory

    async def down(self, inventory: Inventory) -> None:
        remote = SshRemote(inventory)
        try:
            for node in inventory.nodes:
                await stop_all_daemons(remote, node)
            await net.heal(remote, inventory)
        finally:
            await remote.close()

    async def status(self, inventory: Inventory) -> list[dict[str, Any]]:
        remote = SshRemote(inventory)
        try:
            return await daemon_status(remote, inventory)
        finally:
            await remote.close()
