"""The real thing, as far as this machine allows: `vagrant up --provider=lxc` through the
harness's vagrant provider, the nodes reached over SSH from the inventory, Wiber installed and
started by the harness as on any provider, a leader elected, and `down` leaving nothing behind.

Slow (minutes: the box is built with debootstrap when missing, containers boot and are
provisioned); needs root, `vagrant-lxc`, `lxc` and `debootstrap` (Debian packages).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cluster.inventory import Inventory
from harness.cluster.vagrant import DEFAULT_LXC_BRIDGE, VAGRANT_DIR, VagrantProvider

BOX = "wiber/bookworm-lxc"
NETWORK = "10.213.7"  # this project's own corner of 10/8; the bridge is isolated

pytestmark = pytest.mark.slow


def require_lxc() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    missing = [t for t in ("vagrant", "lxc-start", "debootstrap") if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: vagrant vagrant-lxc lxc debootstrap)")
    plugins = subprocess.run(
        ["vagrant", "plugin", "list"], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    if "vagrant-lxc" not in plugins:
        pytest.skip("needs the vagrant-lxc plugin (Debian package vagrant-lxc)")


def ensure_box() -> None:
    boxes = subprocess.run(
        ["vagrant", "box", "list"], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    if BOX not in boxes:
        subprocess.run([str(VAGRANT_DIR / "box" / "build-lxc-box.sh")], check=True, timeout=1800)


async def exercise(inventory: Inventory) -> str | None:
    from harness.control.ssh import SshRemote
    from harness.db import WiberDB

    remote = SshRemote(inventory)
    try:
        for node in inventory.nodes:
            done = await remote.run(
                node, "hostname; cat /etc/wiber/node-id; /usr/local/bin/wiber --help >/dev/null"
                " && echo wiber-ok; grep -c 'id: n' /etc/wiber/cluster.yaml",
            )  # fmt: skip
            assert done.stdout.split() == [node.name, node.name, "wiber-ok", "3"], done
        db = WiberDB(inventory, remote, fsync="never")
        await db.install()
        await db.configure()
        await db.start_all()
        for _ in range(60):
            leader = await db.leader()
            if leader is not None:
                return leader
            await asyncio.sleep(1)
        return None
    finally:
        await remote.close()


def test_vagrant_lxc_cluster_comes_up_runs_wiber_and_goes(tmp_path: Path) -> None:
    require_lxc()
    ensure_box()
    provider = VagrantProvider(vm_provider="lxc", network=NETWORK)
    try:
        inventory = asyncio.run(provider.up(3, tmp_path))
        assert [n.host for n in inventory.nodes] == [f"{NETWORK}.{10 + i}" for i in (1, 2, 3)]
        assert inventory.extra["vm_provider"] == "lxc"
        rows = asyncio.run(provider.status(inventory))
        assert {r["state"] for r in rows} == {"running"}
        assert asyncio.run(exercise(inventory)) in inventory.names
    finally:
        # Even after a failed up: the provider wrote the inventory before making anything.
        asyncio.run(provider.down(Inventory.load(tmp_path / "inventory.yaml")))
    containers = subprocess.run(["lxc-ls"], capture_output=True, text=True, check=False).stdout
    assert "wiber-n" not in containers
    bridge = subprocess.run(["ip", "link", "show", DEFAULT_LXC_BRIDGE], capture_output=True)
    assert bridge.returncode != 0, "the lxc bridge is still there"
