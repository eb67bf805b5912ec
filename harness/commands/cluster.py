"""`harness cluster up|down|status`: stand up hosts for a test, tear them down, show them.

`up` writes DIR/inventory.yaml (default DIR: .harness-cluster), which `down`, `status` and
`harness run` read; with `--start` it also installs and starts Wiber on every node. `down`
works from that file alone, so it cleans up after an interrupted run too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from harness.cluster import PROVIDERS, ProviderError, default_provider, get_provider
from harness.cluster.inventory import Inventory, InventoryError
from harness.control import RemoteError, remote_for
from harness.db import DBError, WiberDB
from wiber.admin import cluster_status

DEFAULT_DIR = Path(".harness-cluster")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument(
        "--provider",
        choices=sorted(PROVIDERS),
        help=f"how to make hosts (default here: {default_provider()})",
    )
    parser.add_argument("--nodes", type=int, default=5, help="number of nodes (default: 5)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="holds inventory.yaml")
    parser.add_argument("--inventory", type=Path, help="ssh provider: your inventory YAML")
    parser.add_argument("--start", action="store_true", help="up: also install and start Wiber")
    parser.add_argument("--json", action="store_true", help="status: print JSON")
    parser.add_argument(
        "--all",
        action="store_true",
        help="down: remove every netns cluster on this machine, found by its slot (for leftovers"
        " of runs whose folder is gone)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (ProviderError, InventoryError, RemoteError, DBError, OSError) as error:
        print(f"harness cluster {args.action}: {error}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    if args.action == "up":
        return await _up(args, directory)
    if args.action == "down" and args.all:
        from harness.cluster.netns import cleanup_all

        slots = await cleanup_all()
        print(f"down: removed netns slot(s) {slots}" if slots else "down: no netns cluster found")
        return 0
    inventory = Inventory.load(directory / "inventory.yaml")
    provider = get_provider(inventory.provider)
    if args.action == "down":
        await provider.down(inventory)
        (directory / "inventory.yaml").unlink(missing_ok=True)
        print(f"down: {len(inventory.nodes)} {inventory.provider} node(s) removed")
        return 0
    rows = await _status(provider, inventory)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


async def _up(args: argparse.Namespace, directory: Path) -> int:
    if (directory / "inventory.yaml").exists():
        print(
            f"harness cluster up: {directory} already holds a cluster; `down` first",
            file=sys.stderr,
        )
        return 2
    options: dict[str, Any] = {}
    if args.inventory is not None:
        options["inventory"] = args.inventory
    provider = get_provider(args.provider, **options)
    loop = asyncio.get_running_loop()
    started = loop.time()
    inventory = await provider.up(args.nodes, directory)
    print(
        f"up: {len(inventory.nodes)} {inventory.provider} node(s) in {loop.time() - started:.1f}s;"
        f" inventory {directory / 'inventory.yaml'}"
    )
    if args.start:
        remote = remote_for(inventory)
        try:
            db = WiberDB(inventory, remote)
            await db.install()
            await db.configure()
            await db.start_all()
        finally:
            await remote.close()
        print(f"wiber running: --bootstrap {','.join(db.addresses())}")
    return 0


async def _status(provider: Any, inventory: Inventory) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await provider.status(inventory)
    addresses = [n.client_address for n in inventory.nodes]
    brokers = {r.get("address"): r for r in await cluster_status(addresses)}
    for row in rows:
        broker = brokers.get(row.get("address"), {})
        row.update({k: broker.get(k) for k in ("role", "term", "commit_index")})
    return rows
