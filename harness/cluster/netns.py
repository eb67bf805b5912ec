"""`netns`: N hosts on this machine, each a network namespace on a bridge with its own sshd.

Node i of slot S is the namespace `wbhS-ni` with address 10.231.S.(10+i)/24 on `eth0`, a veth
whose other end `wbhSni` sits on the bridge `wbhS` (10.231.S.1, the control host's address on
that subnet). Its sshd runs under `unshare --uts --mount`, so commands over SSH see the node's
own hostname, mounts and network. Traffic goes only between these addresses: nothing is routed
or forwarded anywhere else.

A slot is claimed by creating /run/wiber-harness/slots/S (O_EXCL) before anything else, and
the slot file names the work folder, so `down` (or `cleanup_all`) finds every namespace, link
and process even after an interrupted `up`. Killing every pid that `ip netns pids` lists is
what guarantees no process survives: brokers, holders and sshds all live in the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from harness.cluster import ProviderError
from harness.cluster.inventory import Inventory, NodeSpec
from harness.cluster.sshd import ssh_keys, sshd_config, wait_ssh

SLOTS = Path("/run/wiber-harness/slots")
MAX_SLOTS = 200
SUBNET = "10.231.{slot}"
PREFIX = "wbh"


class NetnsProvider:
    name = "netns"

    def __init__(self, slot: int | None = None) -> None:
        self.slot = slot

    async def up(self, nodes: int, workdir: Path) -> Inventory:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise ProviderError("the netns provider needs root and `ip` (iproute2)")
        if not 1 <= nodes <= 9:
            raise ProviderError(f"--nodes must be between 1 and 9, not {nodes}")
        workdir, slot = claim_slot(workdir, self.slot)
        inventory = plan_inventory(slot, nodes, workdir)
        inventory.dump(workdir / "inventory.yaml")
        try:
            await _create(inventory)
        except BaseException:
            await self.down(inventory)
            raise
        return inventory

    async def down(self, inventory: Inventory) -> None:
        await teardown(int(inventory.extra["slot"]), len(inventory.nodes))
        workdir = inventory.extra.get("workdir")
        if workdir:
            for sub in ("nodes", "ssh"):
                shutil.rmtree(Path(workdir) / sub, ignore_errors=True)

    async def status(self, inventory: Inventory) -> list[dict[str, Any]]:
        slot = int(inventory.extra["slot"])
        spaces = set((await _ip("netns", "list", check=False)).split())
        rows = []
        for i, node in enumerate(inventory.nodes, start=1):
            ns = namespace(slot, i)
            pid_file = Path(node.root_dir) / "run" / "wiber.pid"
            rows.append(
                {
                    "name": node.name,
                    "host": node.host,
                    "address": node.client_address,
                    "netns": ns if ns in spaces else None,
                    "ssh": await _port_open(node.host, node.ssh_port),
                    "pid": _live_pid(pid_file),
                }
            )
        return rows


def namespace(slot: int, i: int) -> str:
    return f"{PREFIX}{slot}-n{i}"


def bridge_name(slot: int) -> str:
    return f"{PREFIX}{slot}"


def veth_name(slot: int, i: int) -> str:
    return f"{PREFIX}{slot}n{i}"


def claim_slot(workdir: Path, wanted: int | None = None) -> tuple[Path, int]:
    """Claim a free slot for `workdir`; returns the absolute workdir and the slot."""
    workdir = workdir.resolve()
    SLOTS.mkdir(parents=True, exist_ok=True)
    # sshd's privilege-separation dir; there is no systemd here to make it.
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    for slot in [wanted] if wanted is not None else range(MAX_SLOTS):
        if Path(f"/sys/class/net/{bridge_name(slot)}").exists():
            continue  # made by hand or left by a crash with its slot file gone: not ours
        try:
            fd = os.open(SLOTS / str(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{workdir}\n")
        return workdir, slot
    raise ProviderError(f"no free netns slot (see {SLOTS}; `harness cluster down` old clusters)")


def plan_inventory(slot: int, count: int, workdir: Path) -> Inventory:
    """The inventory of slot `slot`: written to disk before anything is created."""
    key = str(workdir / "ssh" / "id_ed25519")
    nodes = tuple(
        NodeSpec(
            name=f"n{i}",
            host=f"{SUBNET.format(slot=slot)}.{10 + i}",
            ssh_port=22,
            user="root",
            key=key,
            root_dir=str(workdir / "nodes" / f"n{i}"),
        )
        for i in range(1, count + 1)
    )
    extra = {"slot": slot, "workdir": str(workdir), "shared_fs": True, "bridge": bridge_name(slot)}
    return Inventory("netns", nodes, extra)


async def _create(inventory: Inventory) -> None:
    slot = int(inventory.extra["slot"])
    workdir = Path(inventory.extra["workdir"])
    keys = await asyncio.to_thread(ssh_keys, workdir / "ssh")
    bridge = bridge_name(slot)
    await _ip("link", "add", bridge, "type", "bridge")
    await _ip("addr", "add", f"{SUBNET.format(slot=slot)}.1/24", "dev", bridge)
    await _ip("link", "set", bridge, "up")
    for i, node in enumerate(inventory.nodes, start=1):
        await _create_node(slot, i, node, keys)
    await asyncio.gather(*(wait_ssh(node) for node in inventory.nodes))


async def _create_node(slot: int, i: int, node: NodeSpec, keys: dict[str, Path]) -> None:
    ns, veth = namespace(slot, i), veth_name(slot, i)
    await _ip("netns", "add", ns)
    await _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    await _ip("link", "set", veth, "master", bridge_name(slot), "up")
    await _ip("-n", ns, "addr", "add", f"{node.host}/24", "dev", "eth0")
    await _ip("-n", ns, "link", "set", "eth0", "up")
    await _ip("-n", ns, "link", "set", "lo", "up")
    root = Path(node.root_dir)
    (root / "run").mkdir(parents=True, exist_ok=True)
    config = root / "sshd_config"
    config.write_text(sshd_config(node.host, node.ssh_port, keys))
    log = root / "sshd.log"
    # The shell backgrounds unshare so that it is reparented to init: no zombie is left when
    # `down` kills it from this or any later process.
    script = (
        f"ip netns exec {ns} unshare --uts --mount --fork --kill-child "
        f"sh -c 'hostname {node.name}; exec /usr/sbin/sshd -D -e -f {config}' "
        f"</dev/null >>{log} 2>&1 & echo $!"
    )
    process = await asyncio.create_subprocess_exec(
        "sh", "-c", script, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    out, _ = await process.communicate()
    (root / "run" / "sshd.pid").write_text(out.decode().strip() + "\n")


async def teardown(slot: int, count: int | None = None) -> None:
    """Remove slot `slot`: kill every process in its namespaces, then namespaces, links, slot."""
    spaces = (await _ip("netns", "list", check=False)).split()
    mine = [s for s in spaces if s.startswith(f"{PREFIX}{slot}-n")]
    if count is not None:
        mine = sorted(set(mine) | {namespace(slot, i) for i in range(1, count + 1)} & set(spaces))
    for ns in mine:
        await _kill_namespace(ns)
        await _ip("netns", "del", ns, check=False)
    links = await _ip("-o", "link", "show", check=False)
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name == bridge_name(slot) or name.startswith(f"{PREFIX}{slot}n"):
            await _ip("link", "del", name, check=False)
    (SLOTS / str(slot)).unlink(missing_ok=True)


async def cleanup_all() -> list[int]:
    """Tear down every slot this machine has claimed (an operator's and the tests' safety net)."""
    slots = claimed_slots()
    spaces = (await _ip("netns", "list", check=False)).split()
    for ns in spaces:
        head = ns.split("-n")[0]
        if head.startswith(PREFIX) and head[len(PREFIX) :].isdigit():
            slots.append(int(head[len(PREFIX) :]))
    for slot in sorted(set(slots)):
        await teardown(slot)
    return sorted(set(slots))


def claimed_slots() -> list[int]:
    if not SLOTS.exists():
        return []
    return sorted(int(p.name) for p in SLOTS.iterdir() if p.name.isdigit())


async def _kill_namespace(ns: str) -> None:
    for _ in range(50):
        pids = [int(p) for p in (await _ip("netns", "pids", ns, check=False)).split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)
        await asyncio.sleep(0.05)
    raise ProviderError(f"processes in namespace {ns} survived SIGKILL")


async def _ip(*args: str, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if check and process.returncode != 0:
        raise ProviderError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def _live_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
