"""`harness cluster up|down|status`: stand up hosts for a test, tear them down, show them.

`up` writes DIR/inventory.yaml (default DIR: .harness-cluster), which `down`, `status` and
`harness run` read; with `--start` it also installs and starts Wiber on every node. `down`
works from that file alone, so it cleans up after an interrupted run too.

`up --tls` makes the cluster's certificates in DIR/certs and names them in the inventory
(`tls:`), so that `--start`, `status` and a later `harness run --inventory` all speak TLS to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from harness.cluster import PROVIDERS, ProviderError, default_provider, get_provider
from harness.cluster.inventory import Inventory, InventoryError
from harness.control import RemoteError, remote_for
from harness.db import DBError, WiberDB
from harness.tls import CLIENT_AUTH, ClusterTls, TlsSetupError
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
        "--tls", action="store_true", help="up: a TLS cluster, certificates in DIR/certs"
    )
    parser.add_argument(
        "--tls-client-auth",
        choices=CLIENT_AUTH,
        default="cert",
        help="up --tls: how the harness's clients authenticate (default cert)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="down: remove every netns cluster on this machine, found by its slot (for leftovers"
        " of runs whose folder is gone)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (ProviderError, InventoryError, RemoteError, DBError, TlsSetupError, OSError) as error:
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
        shutil.rmtree(directory / CERTS, ignore_errors=True)
        print(f"down: {len(inventory.nodes)} {inventory.provider} node(s) removed")
        return 0
    rows = await _status(provider, inventory, _tls_of(inventory))
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
    tls: ClusterTls | None = None
    if args.tls:
        try:
            tls = await asyncio.to_thread(_make_tls, directory, inventory, args.tls_client_auth)
        except BaseException:
            await provider.down(inventory)
            (directory / "inventory.yaml").unlink(missing_ok=True)
            raise
        inventory = Inventory(
            inventory.provider, inventory.nodes, {**inventory.extra, "tls": tls.to_json()}
        )
        inventory.dump(directory / "inventory.yaml")
    print(
        f"up: {len(inventory.nodes)} {inventory.provider} node(s) in {loop.time() - started:.1f}s;"
        f" inventory {directory / 'inventory.yaml'}"
    )
    if args.start:
        remote = remote_for(inventory)
        try:
            db = WiberDB(inventory, remote, tls=tls)
            await db.install()
            await db.configure()
            await db.start_all()
        finally:
            await remote.close()
        print(f"wiber running: --bootstrap {','.join(db.addresses())}")
    if tls is not None:
        for key, value in _tls_env(tls).items():
            print(f"export {key}={shlex.quote(value)}")
    return 0


CERTS = "certs"


def _make_tls(directory: Path, inventory: Inventory, client_auth: str) -> ClusterTls:
    # Certificates of a cluster torn down without `down` would name other hosts: start over.
    shutil.rmtree(directory / CERTS, ignore_errors=True)
    return ClusterTls.create(directory / CERTS, inventory.nodes, client_auth)


def _tls_of(inventory: Inventory) -> ClusterTls | None:
    raw = inventory.extra.get("tls")
    return ClusterTls.from_json(raw) if raw else None


def _tls_env(tls: ClusterTls) -> dict[str, str]:
    """The WIBER_* settings that make the `wiber` CLI the harness's superuser."""
    credentials = tls.credentials
    env = {"WIBER_TLS_CA": credentials.ca or ""}
    if credentials.user is not None:
        env.update(WIBER_USER=credentials.user, WIBER_PASSWORD=credentials.password or "")
    else:
        env.update(WIBER_TLS_CERT=credentials.cert or "", WIBER_TLS_KEY=credentials.key or "")
    return env


async def _status(
    provider: Any, inventory: Inventory, tls: ClusterTls | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await provider.status(inventory)
    addresses = [n.client_address for n in inventory.nodes]
    credentials = tls.credentials if tls is not None else None
    brokers = {r.get("address"): r for r in await cluster_status(addresses, credentials)}
    for row in rows:
        broker = brokers.get(row.get("address"), {})
        row.update({k: broker.get(k) for k in ("role", "term", "commit_index")})
    return rows
