"""`vagrant`: the nodes are the machines of `vagrant/Vagrantfile` (libvirt, VirtualBox or lxc).

`up` brings the machines up (or reuses them when they already run), then reads `vagrant
ssh-config` to learn which machines exist and how Vagrant reaches them. Each node's address in
the inventory is its fixed private address from the same plan the Vagrantfile uses, because
that is the address the brokers talk to each other on (VirtualBox's ssh-config points at a NAT
port on 127.0.0.1 instead); the harness logs in there as root with its own key, which the
provisioning authorized. Everything after `up` reads only the inventory, as for every provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cluster import ProviderError
from harness.cluster.inventory import Inventory, NodeSpec

VAGRANT_DIR = Path(__file__).resolve().parents[2] / "vagrant"
DEFAULT_NETWORK = "192.168.56"  # VirtualBox allows host-only addresses only in 192.168.56/21
DEFAULT_LXC_BRIDGE = "wibervbr0"
# Containers share the host's kernel: no netem and no clock of their own.
SHARED_KERNEL = frozenset({"lxc", "docker"})


class VagrantError(ProviderError):
    """A `vagrant` command failed or printed what we cannot read; the message says which."""


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], Path, Mapping[str, str], float], Awaitable[Completed]]


async def run_command(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
) -> Completed:
    """Run one command to completion; the default `Runner` (tests inject a fake one).

    The command gets its own process group: on a timeout or a cancelled run, Vagrant and the
    hypervisor tools it started are stopped together instead of left running.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        await _stop_group(proc)
        raise VagrantError(f"{shlex.join(argv)}: no result after {timeout:.0f} s") from None
    except asyncio.CancelledError:
        await _stop_group(proc)
        raise
    code = proc.returncode if proc.returncode is not None else -1
    return Completed(code, out.decode(errors="replace"), err.decode(errors="replace"))


async def _stop_group(proc: asyncio.subprocess.Process, grace: float = 30) -> None:
    """SIGINT first (Vagrant then cleans up after itself), SIGKILL if it does not end."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), wait)
            return
        except TimeoutError:
            continue


@dataclass(frozen=True)
class SshEntry:
    """One `Host` block of `vagrant ssh-config`."""

    name: str
    hostname: str
    port: int = 22
    user: str = "vagrant"
    identity_file: str | None = None


def parse_ssh_config(text: str) -> dict[str, SshEntry]:
    """The machines in `vagrant ssh-config` output, by name, in the order printed."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        key, value = key.lower(), _unquote(value.strip())
        if key == "host":
            current = blocks.setdefault(value, {})
        elif current is not None:
            # ssh keeps the first value of a repeated option; so do we.
            current.setdefault(key, value)
    entries = {}
    for name, opts in blocks.items():
        if "hostname" not in opts:
            raise VagrantError(f"vagrant ssh-config: host {name} has no HostName")
        entries[name] = SshEntry(
            name=name,
            hostname=opts["hostname"],
            port=int(opts.get("port", "22")),
            user=opts.get("user", "vagrant"),
            identity_file=opts.get("identityfile"),
        )
    return entries


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def parse_machine_states(text: str) -> dict[str, tuple[str, str]]:
    """`vagrant status --machine-readable` -> {machine: (state, provider)}."""
    states: dict[str, str] = {}
    providers: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(",", 3)
        if len(parts) < 4 or not parts[1]:
            continue
        _, target, kind, data = parts
        if kind == "state":
            states[target] = data
        elif kind == "provider-name":
            providers[target] = data
    return {name: (state, providers.get(name, "")) for name, state in states.items()}


def address_plan(nodes: int, network: str = DEFAULT_NETWORK) -> dict[str, str]:
    """Node name -> fixed private address; the Vagrantfile computes the very same plan."""
    if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}", network):
        raise VagrantError(f"network must be three octets such as 192.168.56, not {network!r}")
    if not 1 <= nodes <= 200:
        raise VagrantError(f"a vagrant cluster has 1 to 200 nodes, not {nodes}")
    return {f"n{i}": f"{network}.{10 + i}" for i in range(1, nodes + 1)}


def inventory_from_ssh_config(
    text: str,
    *,
    nodes: int,
    addresses: Mapping[str, str] | None,
    key: str | None,
    extra: Mapping[str, Any] | None = None,
) -> Inventory:
    """The inventory for machines n1..nN from `vagrant ssh-config` output.

    With `addresses` (the private address plan), a node is reached as root on port 22 of its
    private address with the harness's `key`; without it, exactly as Vagrant reaches it.
    """
    entries = parse_ssh_config(text)
    wanted = [f"n{i}" for i in range(1, nodes + 1)]
    missing = [name for name in wanted if name not in entries]
    if missing:
        raise VagrantError(f"vagrant ssh-config lists no machine {', '.join(missing)}")
    specs = []
    for name in wanted:
        entry = entries[name]
        if addresses is not None:
            specs.append(NodeSpec(name=name, host=addresses[name], key=key))
        else:
            specs.append(
                NodeSpec(
                    name=name,
                    host=entry.hostname,
                    ssh_port=entry.port,
                    user=entry.user,
                    key=entry.identity_file,
                )
            )
    seen = {
        name: {"host": e.hostname, "port": e.port, "user": e.user, "key": e.identity_file}
        for name, e in entries.items()
        if name in wanted
    }
    return Inventory("vagrant", tuple(specs), {**(extra or {}), "vagrant_ssh": seen})


class VagrantProvider:
    """Machines n1..nN of a Vagrantfile (by default the project's `vagrant/Vagrantfile`)."""

    name = "vagrant"

    def __init__(
        self,
        *,
        vagrant_dir: Path | str | None = None,
        vm_provider: str | None = None,
        network: str | None = None,
        box: str | None = None,
        reuse: bool = True,
        install_wheels: bool = True,
        runner: Runner | None = None,
        up_timeout: float = 3600,
    ) -> None:
        self.vagrant_dir = Path(vagrant_dir or VAGRANT_DIR).resolve()
        self.vm_provider = vm_provider or os.environ.get("VAGRANT_DEFAULT_PROVIDER") or None
        self.network = network or os.environ.get("WIBER_NETWORK") or DEFAULT_NETWORK
        self.box = box
        self.reuse = reuse
        self.install_wheels = install_wheels
        self.runner = runner or run_command
        self.up_timeout = up_timeout

    @property
    def state_dir(self) -> Path:
        """Where the harness key lives: beside the machines, which outlive any one workdir."""
        return self.vagrant_dir / ".wiber"

    async def up(self, nodes: int, workdir: Path) -> Inventory:
        workdir = await asyncio.to_thread(_make_dir, workdir)
        addresses = address_plan(nodes, self.network)
        key = await asyncio.to_thread(ensure_key, self.state_dir / "harness_key")
        env = self._env(nodes, key)
        if self.install_wheels:
            env["WIBER_WHEELHOUSE"] = str(await asyncio.to_thread(_wheelhouse))
        states = await self._states(env)
        if not (self.reuse and all(states.get(n, ("", ""))[0] == "running" for n in addresses)):
            # Written before anything is made, so that `down` finds and removes whatever a
            # failed or interrupted `vagrant up` leaves behind.
            planned = Inventory(
                "vagrant",
                tuple(NodeSpec(name=n, host=a, key=str(key)) for n, a in addresses.items()),
                {**_extra(self.vagrant_dir, self.vm_provider or "", env), "provisional": True},
            )
            await asyncio.to_thread(planned.dump, workdir / "inventory.yaml")
            await self._vagrant_up(env, workdir / "vagrant-up.log")
            states = await self._states(env)
        vm_provider = next((p for _, p in states.values() if p), self.vm_provider or "")
        config = await self._vagrant(["ssh-config", *addresses], env, 120)
        extra = _extra(self.vagrant_dir, vm_provider, env)
        if any(extra["tools"].values()):
            found = await self._tools_found(list(addresses), env)
            extra["tools_found"] = found
            extra["tools"] = tools_from_facts(extra["tools"], found)
        inventory = inventory_from_ssh_config(
            config.stdout,
            nodes=nodes,
            addresses=addresses,
            key=str(key),
            extra=extra,
        )
        await asyncio.to_thread(inventory.dump, workdir / "inventory.yaml")
        return inventory

    async def _tools_found(
        self, names: list[str], env: Mapping[str, str]
    ) -> dict[str, dict[str, str]]:
        """Each machine's /etc/wiber/tools (what provisioning found), or {"error": why}."""

        async def one(name: str) -> dict[str, str]:
            done = await self._vagrant(
                ["ssh", name, "-c", f"cat {TOOLS_FILE}"], env, 120, check=False
            )
            if done.returncode != 0:
                return {"error": (done.stderr.strip() or done.stdout.strip())[-300:]}
            return parse_tools_file(done.stdout)

        return dict(zip(names, await asyncio.gather(*(one(n) for n in names)), strict=True))

    async def _vagrant_up(self, env: Mapping[str, str], log: Path) -> None:
        if self.vm_provider in SHARED_KERNEL:
            await self._host_bridge("up", env, self.vagrant_dir)
        flags = [f"--provider={self.vm_provider}"] if self.vm_provider else []
        done = await self._vagrant(["up", *flags], env, self.up_timeout, check=False)
        await asyncio.to_thread(log.write_text, done.stdout + done.stderr)
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise VagrantError(f"vagrant up failed ({done.returncode}; log {log}):\n{tail}")

    async def down(self, inventory: Inventory) -> None:
        env = {str(k): str(v) for k, v in inventory.extra.get("vagrant_env", {}).items()}
        await self._vagrant(["destroy", "--force"], env, 1800, cwd=_dir_of(inventory))
        if inventory.extra.get("vm_provider") in SHARED_KERNEL:
            await self._host_bridge("down", env, _dir_of(inventory))

    async def status(self, inventory: Inventory) -> list[dict[str, Any]]:
        env = {str(k): str(v) for k, v in inventory.extra.get("vagrant_env", {}).items()}
        states = await self._states(env, cwd=_dir_of(inventory))
        return [
            {
                "name": node.name,
                "host": node.host,
                "address": node.client_address,
                "state": states.get(node.name, ("not_created", ""))[0],
                "vm_provider": states.get(node.name, ("", ""))[1],
            }
            for node in inventory.nodes
        ]

    def _env(self, nodes: int, key: Path) -> dict[str, str]:
        env = {
            "WIBER_NODES": str(nodes),
            "WIBER_NETWORK": self.network,
            "WIBER_SSH_KEY": str(key),
            "WIBER_SSH_PUBKEY": f"{key}.pub",
            "WIBER_LXC_BRIDGE": os.environ.get("WIBER_LXC_BRIDGE", DEFAULT_LXC_BRIDGE),
            # No version check against the vendor's servers: send no traffic we don't need.
            "VAGRANT_CHECKPOINT_DISABLE": "1",
        }
        if self.vm_provider:
            # Also for `status` and `destroy`, which take no --provider: Vagrant otherwise
            # refuses to run where no default provider is usable.
            env["VAGRANT_DEFAULT_PROVIDER"] = self.vm_provider
        if self.box:
            box_key = "WIBER_LXC_BOX" if self.vm_provider in SHARED_KERNEL else "WIBER_BOX"
            env[box_key] = self.box
        return env

    async def _states(
        self, env: Mapping[str, str], cwd: Path | None = None
    ) -> dict[str, tuple[str, str]]:
        done = await self._vagrant(["status", "--machine-readable"], env, 300, cwd=cwd)
        return parse_machine_states(done.stdout)

    async def _vagrant(
        self,
        args: list[str],
        env: Mapping[str, str],
        timeout: float,
        cwd: Path | None = None,
        check: bool = True,
    ) -> Completed:
        argv = ["vagrant", *args]
        done = await self.runner(argv, cwd or self.vagrant_dir, env, timeout)
        if check and done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise VagrantError(f"{shlex.join(argv)} failed ({done.returncode}):\n{tail}")
        return done

    async def _host_bridge(self, action: str, env: Mapping[str, str], vagrant_dir: Path) -> None:
        """The isolated bridge lxc containers join; `down` reads the network from the inventory."""
        network = env.get("WIBER_NETWORK", self.network)
        bridge = env.get("WIBER_LXC_BRIDGE", DEFAULT_LXC_BRIDGE)
        script = str(vagrant_dir / "host" / "lxc-bridge.sh")
        done = await self.runner([script, action, network, bridge], vagrant_dir, env, 60)
        if done.returncode != 0:
            raise VagrantError(f"{script} {action} failed:\n{done.stderr.strip()[-2000:]}")


def _extra(vagrant_dir: Path, vm_provider: str, env: Mapping[str, str]) -> dict[str, Any]:
    real_kernel = vm_provider not in SHARED_KERNEL
    return {
        "vagrant_dir": str(vagrant_dir),
        "vm_provider": vm_provider,
        # down and status need the same machine count and paths the Vagrantfile saw at up.
        "vagrant_env": dict(env),
        "shared_fs": False,
        # What the nemeses may use on these nodes (each node also has /etc/wiber/tools):
        # machines have their own kernel and clock, containers share the host's.
        "tools": {"netem": real_kernel, "clock_step": real_kernel},
    }


TOOLS_FILE = "/etc/wiber/tools"


def parse_tools_file(text: str) -> dict[str, str]:
    """`key=value` lines of /etc/wiber/tools (written by vagrant/provision/system.sh)."""
    facts = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            facts[key.strip()] = value.strip()
    return facts


def tools_from_facts(
    possible: Mapping[str, bool], found: Mapping[str, Mapping[str, str]]
) -> dict[str, bool]:
    """What the nemeses may use: what the machine kind allows AND what every node has.

    netem needs every node to have passed provisioning's netem probe; stepping the clock needs
    nothing beyond a kernel of its own (`date` is everywhere). A node whose facts could not be
    read does not get netem: the userspace delay works anywhere iptables does.
    """
    netem = possible.get("netem", False) and all(f.get("netem") == "yes" for f in found.values())
    return {"netem": netem, "clock_step": possible.get("clock_step", False)}


def _make_dir(path: Path) -> Path:
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dir_of(inventory: Inventory) -> Path:
    return Path(str(inventory.extra.get("vagrant_dir", VAGRANT_DIR)))


def ensure_key(path: Path) -> Path:
    """The harness's SSH key pair at `path` (and `path`.pub), made once."""
    if path.exists() and path.with_name(path.name + ".pub").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wiber-harness", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def _wheelhouse() -> Path:
    from harness.control.wheels import build_wheelhouse

    return build_wheelhouse()
