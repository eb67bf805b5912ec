"""Wiber on the nodes: install, configure, start, stop, kill, pause, resume, wipe, collect.

Everything goes through a `Remote`, so the same steps serve netns, SSH, Vagrant and local
nodes. Each node works under its own `root_dir`:

    venv/            Wiber installed offline from the control host's wheelhouse
    cluster.yaml     the node's config (the whole cluster; its own entry carries data_dir)
    data/            the broker's data dir (log/, raft-state, snapshots/, trace.jsonl)
    logs/wiber.log   the broker's stdout and stderr
    run/wiber.pid    the daemon's pid file
    faketime         libfaketime's offset file (the clock nemesis writes it)
    certs/           with TLS, on a node that does not share the control host's filesystem:
                     ca.crt and the node's certificate and key (`harness.tls`)
"""

from __future__ import annotations

import asyncio
import functools
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control import Remote, RemoteError, shell
from harness.control.wheels import build_wheelhouse, prune_cache
from harness.tls import NODE_DIR, ClusterTls
from wiber.admin import cluster_status
from wiber.client.connection import Credentials

DAEMON = "wiber"
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
START_TIMEOUT = 30.0
STOP_GRACE = 10.0


class DBError(Exception):
    pass


class WiberDB:
    def __init__(
        self,
        inventory: Inventory,
        remote: Remote,
        *,
        fsync: str = "group",
        settings: dict[str, Any] | None = None,
        install_mode: str | None = None,
        python: str = "/usr/bin/python3",
        faketime: bool | None = None,
        tls: ClusterTls | None = None,
    ) -> None:
        """`install_mode`: "wheel" (a venv per node) or "control" (run the control host's own
        interpreter: only for nodes that share its filesystem; the default for `local`).
        `faketime`: start brokers under libfaketime (None: when the library is on the node).
        `tls`: the cluster's certificates; every node then serves TLS only and every client
        made through `credentials`/`client` connects with them."""
        self.inventory = inventory
        self.remote = remote
        self.fsync = fsync
        self.settings = dict(settings or {})
        self.install_mode = install_mode or (
            "control" if inventory.provider == "local" else "wheel"
        )
        if self.install_mode not in ("wheel", "control"):
            raise DBError(f"install_mode must be wheel or control, not {self.install_mode!r}")
        self.python = python
        self.faketime = faketime
        self.tls = tls
        self._faketime_on: dict[str, bool] = {}
        self._stepped: dict[str, float] = {}  # offsets given to nodes' own clocks (clock_step)
        self.chrony_mark = CHRONY_MARK

    # -- paths ------------------------------------------------------------------------------

    def node(self, name: str) -> NodeSpec:
        return self.inventory.node(name)

    def node_python(self, node: NodeSpec) -> str:
        if self.install_mode == "control":
            return sys.executable
        return f"{node.root_dir}/venv/bin/python"

    @staticmethod
    def log_dir(node: NodeSpec) -> str:
        return f"{node.root_dir}/logs"

    @staticmethod
    def clock_file(node: NodeSpec) -> str:
        return f"{node.root_dir}/faketime"

    def addresses(self) -> list[str]:
        return [n.client_address for n in self.inventory.nodes]

    @property
    def shared_fs(self) -> bool:
        return bool(self.inventory.extra.get("shared_fs"))

    # -- clients ----------------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials | None:
        """What every client of the harness connects with (None: plaintext)."""
        return None if self.tls is None else self._credentials

    @functools.cached_property
    def _credentials(self) -> Credentials:
        # One object for every client, so that its SSL context is built once.
        assert self.tls is not None
        return self.tls.credentials

    def tls_folder(self, node: NodeSpec) -> str:
        """Where `node` reads its TLS files: ours, when it shares our filesystem."""
        assert self.tls is not None
        return str(self.tls.directory) if self.shared_fs else f"{node.root_dir}/{NODE_DIR}"

    # -- install and configure --------------------------------------------------------------

    async def install(self) -> None:
        if self.install_mode == "control":
            await self._each(lambda n: self.remote.run(n, f"mkdir -p {_q(n.root_dir)}"))
            return
        wheelhouse = await asyncio.to_thread(build_wheelhouse)
        await asyncio.to_thread(prune_cache)
        if not self.shared_fs:
            await self._each(lambda n: self._install_node(n, wheelhouse))
            return
        # Nodes sharing this filesystem share one venv per wheelhouse, kept between clusters:
        # the first node builds it (same steps as a remote node), every node links to it.
        shared = f"{wheelhouse.parent.parent}/venvs/{wheelhouse.name}"
        await self._make_venv(self.inventory.nodes[0], shared, str(wheelhouse))
        await self._each(
            lambda n: self.remote.run(
                n, f"mkdir -p {_q(n.root_dir)} && ln -sfn {_q(shared)} {_q(n.root_dir)}/venv"
            )
        )

    async def _install_node(self, node: NodeSpec, wheelhouse: Path) -> None:
        remote_wheels = f"{node.root_dir}/wheelhouse/{wheelhouse.name}"
        await self.remote.run(node, f"mkdir -p {_q(remote_wheels)}")
        for wheel in sorted(await asyncio.to_thread(lambda: list(wheelhouse.glob("*.whl")))):
            await self.remote.upload(node, wheel, f"{remote_wheels}/{wheel.name}")
        await self._make_venv(node, f"{node.root_dir}/venv", remote_wheels)

    async def _make_venv(self, node: NodeSpec, venv: str, wheels: str) -> None:
        """Create `venv` and install Wiber offline from `wheels`, unless already done.

        On a node sharing our filesystem, the control host's own pip installs into a venv made
        without pip (`pip --python`): bootstrapping pip into every venv is most of the cost.
        """
        stamp = f"{venv}/.installed"
        if self.shared_fs:
            make = f"{_q(self.python)} -m venv --without-pip {_q(venv)}"
            pip = f"{_q(sys.executable)} -m pip --python {_q(venv)}/bin/python"
        else:
            make = f"{_q(self.python)} -m venv {_q(venv)}"
            pip = f"{_q(venv)}/bin/pip"
        script = (
            f"test -e {_q(stamp)} || {{ rm -rf {_q(venv)} && {make} && "
            f"{pip} install -q --no-index --find-links {_q(wheels)} wiber && "
            f"touch {_q(stamp)}; }}"
        )
        lock = f"{venv}.lock"
        await self.remote.run(
            node,
            f"mkdir -p $(dirname {_q(venv)}) && flock {_q(lock)} sh -c {_q(script)}",
            timeout=300,
        )

    def node_config(self, node: NodeSpec) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        for other in self.inventory.nodes:
            entry: dict[str, Any] = {
                "id": other.name,
                "host": other.host,
                "client_port": other.client_port,
                "peer_port": other.peer_port,
            }
            if other.name == node.name:
                entry["data_dir"] = node.data_dir
            entries.append(entry)
        config: dict[str, Any] = {"fsync": self.fsync, "trace": True, **self.settings}
        if self.tls is not None:
            config["tls"] = self.tls.section(node, self.tls_folder(node))
        return {**config, "nodes": entries}

    async def configure(self) -> None:
        async def one(node: NodeSpec) -> None:
            if self.tls is not None and not self.shared_fs:
                await self._upload_tls(node, self.tls)
            text = yaml.safe_dump(self.node_config(node), sort_keys=False)
            await self.remote.run(
                node,
                f"mkdir -p {_q(node.root_dir)} {_q(self.log_dir(node))} && "
                f"cat > {_q(node.root_dir)}/cluster.yaml <<'WIBER_EOF'\n{text}WIBER_EOF\n"
                f"test -e {_q(self.clock_file(node))} || echo +0s > {_q(self.clock_file(node))}",
            )

        await self._each(one)

    async def _upload_tls(self, node: NodeSpec, tls: ClusterTls) -> None:
        folder = self.tls_folder(node)
        await self.remote.run(node, f"mkdir -p {_q(folder)} && chmod 700 {_q(folder)}")
        for name, local in tls.node_files(node).items():
            await self.remote.upload(node, local, f"{folder}/{name}")
        # An upload does not carry the mode over: the key must not be readable by others.
        await self.remote.run(node, f"chmod 600 {_q(folder)}/*.key")

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, name: str) -> int:
        """Start the broker (if it is not running) and wait until its client port answers."""
        node = self.node(name)
        pid = await self.remote.daemon_pid(node, DAEMON)
        if pid is None:
            cmd = (
                f"{_q(self.node_python(node))} -m wiber broker "
                f"--config {_q(node.root_dir)}/cluster.yaml --id {_q(node.name)}"
            )
            pid = await self.remote.start_daemon(
                node,
                DAEMON,
                cmd,
                env=await self._env(node),
                logfile=f"{self.log_dir(node)}/wiber.log",
            )
        await self._wait_listening(node)
        return pid

    async def _env(self, node: NodeSpec) -> dict[str, str]:
        env = {"PYTHONUNBUFFERED": "1"}
        if await self.uses_faketime(node):
            env.update(
                LD_PRELOAD=FAKETIME_LIB,
                FAKETIME_TIMESTAMP_FILE=self.clock_file(node),
                # Only the wall clock may move: Raft timers run on the monotonic clock.
                FAKETIME_DONT_FAKE_MONOTONIC="1",
                FAKETIME_CACHE_DURATION="1",
            )
        return env

    async def uses_faketime(self, node: NodeSpec) -> bool:
        if node.name not in self._faketime_on:
            # A node with a clock of its own gets the real thing (`date`), not a preload.
            if self.faketime is False or (
                self.faketime is None and self.inventory.tools.clock_step
            ):
                self._faketime_on[node.name] = False
            else:
                found = await self.remote.run(node, f"test -e {FAKETIME_LIB}", check=False)
                if self.faketime and not found.ok:
                    raise DBError(f"{node.name}: libfaketime is not installed ({FAKETIME_LIB})")
                self._faketime_on[node.name] = found.ok
        return self._faketime_on[node.name]

    async def _wait_listening(self, node: NodeSpec, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(node.host, node.client_port), 1.0
                )
            except (OSError, TimeoutError):
                if await self.remote.daemon_pid(node, DAEMON) is None:
                    tail = await self._log_tail(node)
                    raise DBError(f"{node.name}: broker exited; {tail}") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise DBError(f"{node.name}: broker did not listen within {timeout}s")

    async def _log_tail(self, node: NodeSpec) -> str:
        log = f"{self.log_dir(node)}/wiber.log"
        result = await self.remote.run(node, f"tail -n 20 {_q(log)}", check=False)
        return result.stdout.strip() or "(empty log)"

    async def stop(self, name: str) -> bool:
        """SIGTERM, then SIGKILL after a grace period; False if it was not running."""
        node = self.node(name)
        if not await self.remote.signal_daemon(node, DAEMON, "CONT"):
            return False
        await self.remote.signal_daemon(node, DAEMON, "TERM")
        if not await self._wait_dead(node, STOP_GRACE):
            await self.remote.signal_daemon(node, DAEMON, "KILL")
            await self._wait_dead(node, STOP_GRACE)
        return True

    async def kill(self, name: str) -> bool:
        node = self.node(name)
        killed = await self.remote.signal_daemon(node, DAEMON, "KILL")
        if killed:
            await self._wait_dead(node, STOP_GRACE)
        return killed

    async def _wait_dead(self, node: NodeSpec, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.remote.daemon_pid(node, DAEMON) is None:
                return True
            await asyncio.sleep(0.05)
        return False

    async def pause(self, name: str) -> bool:
        """SIGSTOP the broker and wait until the kernel reports it stopped."""
        node = self.node(name)
        if not await self.remote.signal_daemon(node, DAEMON, "STOP"):
            return False
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if await self.process_state(name) in ("T", None):
                break
            await asyncio.sleep(0.02)
        return True

    async def process_state(self, name: str) -> str | None:
        """The broker's state letter from /proc (R, S, D, T, Z), or None when not running."""
        node = self.node(name)
        script = (
            f'p=$({shell.daemon_pid_script(node, DAEMON)}) && [ -n "$p" ] && '
            f"sed -n 's/^State:[[:space:]]*\\(.\\).*/\\1/p' /proc/$p/status"
        )
        result = await self.remote.run(node, script, check=False)
        return result.stdout.strip() or None

    async def resume(self, name: str) -> bool:
        return await self.remote.signal_daemon(self.node(name), DAEMON, "CONT")

    async def is_running(self, name: str) -> bool:
        return await self.remote.daemon_pid(self.node(name), DAEMON) is not None

    async def wipe(self, name: str) -> None:
        """Delete the node's data (the broker must be stopped) and reset its clock offset."""
        node = self.node(name)
        if await self.is_running(name):
            raise DBError(f"{name}: stop the broker before wiping its data")
        await self.remote.run(
            node, f"rm -rf {_q(node.data_dir)} && echo +0s > {_q(self.clock_file(node))}"
        )

    async def start_all(self) -> None:
        await self._each(lambda n: self.start(n.name))

    async def stop_all(self) -> None:
        await self._each(lambda n: self.stop(n.name))

    # -- clock ------------------------------------------------------------------------------

    async def clock_mode(self, node: NodeSpec) -> str | None:
        """How the clock nemesis moves this node's wall clock: "system" (step the node's own
        clock with `date`, chrony stopped meanwhile), "faketime" (the broker's view only,
        through libfaketime), or None (it cannot)."""
        if await self.uses_faketime(node):
            return "faketime"
        if self.inventory.tools.clock_step:
            return "system"
        return None

    async def set_clock_offset(self, name: str, seconds: float) -> None:
        """Move the broker's wall clock `seconds` away from real time (see `clock_mode`)."""
        node = self.node(name)
        mode = await self.clock_mode(node)
        if mode == "faketime":
            await self.remote.run(node, f"echo {seconds:+.3f}s > {_q(self.clock_file(node))}")
        elif mode == "system":
            step = seconds - self._stepped.get(name, 0.0)
            script = step_clock_script(self.python, step, home=seconds == 0, mark=self.chrony_mark)
            await self.remote.run(node, script)
            self._stepped[name] = seconds
        else:
            raise DBError(
                f"{name}: cannot skew its clock: the broker does not run under libfaketime "
                "and the inventory does not say the node has a clock of its own (tools.clock_step)"
            )

    # -- observation ------------------------------------------------------------------------

    async def status(self) -> list[dict[str, Any]]:
        return await cluster_status(self.addresses(), credentials=self.credentials)

    async def leader(self) -> str | None:
        """The node the highest-term self-declared leader says it is, or None."""
        rows = await self.status()
        leaders = [r for r in rows if r.get("role") == "leader"]
        if not leaders:
            return None
        best = max(leaders, key=lambda r: int(r.get("term") or 0))
        ident = best.get("id")
        return str(ident) if ident is not None else None

    async def collect(self, run_dir: Path) -> None:
        """Copy every node's logs, config and event trace to run_dir/nodes/<node>/."""

        async def one(node: NodeSpec) -> None:
            target = run_dir / "nodes" / node.name
            target.mkdir(parents=True, exist_ok=True)
            wanted = {
                f"{self.log_dir(node)}/wiber.log": "wiber.log",
                f"{node.root_dir}/cluster.yaml": "cluster.yaml",
                f"{node.data_dir}/trace.jsonl": "trace.jsonl",
            }
            for remote_path, local_name in wanted.items():
                try:
                    found = await self.remote.run(node, f"test -f {_q(remote_path)}", check=False)
                    if found.ok:
                        await self.remote.download(node, remote_path, target / local_name)
                except RemoteError as e:
                    # An unreachable node must not cost the run its other nodes' files.
                    with (target / "collect-errors.txt").open("a") as errors:
                        errors.write(f"{local_name}: {e}\n")

        await self._each(one)

    async def _each(self, action: Any) -> None:
        results = await asyncio.gather(
            *(action(n) for n in self.inventory.nodes), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            if len(errors) == 1 or not all(isinstance(e, Exception) for e in errors):
                raise errors[0]
            raise DBError("; ".join(str(e) for e in errors))


CHRONY_MARK = "/run/wiber-harness-chrony-stopped"
# Prints the node's time plus argv[1] seconds, as `date -s @EPOCH` wants it.
_NOW_PLUS = "import sys, time; print('%.6f' % (time.time() + float(sys.argv[1])))"


def step_clock_script(python: str, step_s: float, *, home: bool, mark: str) -> str:
    """Shell that steps the node's clock by `step_s`; chrony, which would slew it back, is
    stopped before the first step (a marker remembers it) and started again once the clock is
    `home` (the offset the harness gave it is back to zero)."""
    now_plus = f"{_q(python)} -c {_q(_NOW_PLUS)}"
    lines = [
        "set -e",
        f"if [ ! -e {mark} ] && pgrep -x chronyd >/dev/null; then",
        "  systemctl stop chrony 2>/dev/null || service chrony stop 2>/dev/null"
        " || pkill -x chronyd",
        f"  touch {mark}",
        "fi",
        f'date -s "@$({now_plus} {step_s:.6f})" >/dev/null',
    ]
    if home:
        lines += [
            f"if [ -e {mark} ]; then",
            "  systemctl start chrony 2>/dev/null || service chrony start 2>/dev/null || chronyd",
            f"  rm -f {mark}",
            "fi",
        ]
    return "\n".join(lines)


def _q(text: str) -> str:
    return shlex.quote(text)


__all__ = ["DAEMON", "FAKETIME_LIB", "DBError", "RemoteError", "WiberDB"]
