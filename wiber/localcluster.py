"""`wiber cluster up|down`: a cluster of broker processes on loopback, under one folder.

The folder holds `cluster.yaml` (the cluster file every node reads), one data directory, one
log and one pid file per node; with `tls`, also `certs/` (the CA, a certificate per node and
one for the superuser client `admin`). `down` stops exactly the processes whose pid files are there
(and only if they are still Wiber brokers of this folder), so it never kills a stranger.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_DIR = Path(".wiber-cluster")


class ClusterError(Exception):
    pass


@dataclass(frozen=True)
class LocalNode:
    id: str
    client_port: int
    peer_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"


def plan_nodes(count: int, base_port: int) -> list[LocalNode]:
    if not 1 <= count <= 9:
        raise ClusterError(f"--nodes must be between 1 and 9, not {count}")
    return [
        LocalNode(f"n{i}", base_port + 10 * (i - 1), base_port + 10 * (i - 1) + 1)
        for i in range(1, count + 1)
    ]


def read_nodes(directory: Path) -> list[LocalNode]:
    path = directory / "cluster.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError:
        raise ClusterError(f"no cluster in {directory} (missing {path})") from None
    return [LocalNode(n["id"], n["client_port"], n["peer_port"]) for n in raw["nodes"]]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pid_of(directory: Path, node: LocalNode) -> int | None:
    try:
        pid = int((directory / f"{node.id}.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    ours = b"broker" in cmdline and str(directory / "cluster.yaml").encode() in cmdline
    return pid if ours else None


def up(
    directory: Path,
    count: int,
    base_port: int,
    *,
    fsync: str = "group",
    voters: int | None = None,
    extra: dict[str, object] | None = None,
    timeout: float = 30.0,
    tls: bool = False,
) -> list[LocalNode]:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    nodes = plan_nodes(count, base_port)
    if any(_pid_of(directory, n) for n in nodes):
        raise ClusterError(f"a cluster is already running in {directory}; `wiber cluster down`")
    busy = [p for n in nodes for p in (n.client_port, n.peer_port) if _port_open(p)]
    if busy:
        raise ClusterError(f"ports already in use: {busy}; choose another --base-port")
    security: dict[str, object] = {}
    if tls:
        from wiber.security.certs import ensure_cluster_certs

        ensure_cluster_certs(directory / CERTS, [n.id for n in nodes], [ADMIN])
        security = {"tls": tls_section(directory)}
    config = {
        "data_dir": str(directory / "data"),
        **security,
        "fsync": fsync,
        **(extra or {}),
        **({"voters": [n.id for n in nodes[:voters]]} if voters else {}),
        "nodes": [
            {
                "id": n.id,
                "host": "127.0.0.1",
                "client_port": n.client_port,
                "peer_port": n.peer_port,
            }
            for n in nodes
        ],
    }
    (directory / "cluster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    processes = {node.id: start_node(directory, node) for node in nodes}
    try:
        _wait_listening(processes, nodes, timeout, directory)
    except ClusterError:
        # A cluster that did not come up leaves nothing running behind the error.
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for node in nodes:
            (directory / f"{node.id}.pid").unlink(missing_ok=True)
        raise
    return nodes


CERTS = "certs"
ADMIN = "admin"  # the superuser client certificate `cluster up --tls` issues


def tls_section(directory: Path, client_auth: str = "any") -> dict[str, object]:
    certs = directory / CERTS
    return {
        "ca": str(certs / "ca.crt"),
        "cert": str(certs / "node-{id}.crt"),
        "key": str(certs / "node-{id}.key"),
        "client_auth": client_auth,
        "superusers": [ADMIN],
    }


def admin_env(directory: Path) -> dict[str, str]:
    """WIBER_TLS_* settings that make the CLI the superuser of a `--tls` local cluster."""
    certs = directory.resolve() / CERTS
    return {
        "WIBER_TLS_CA": str(certs / "ca.crt"),
        "WIBER_TLS_CERT": str(certs / f"client-{ADMIN}.crt"),
        "WIBER_TLS_KEY": str(certs / f"client-{ADMIN}.key"),
    }


def start_node(
    directory: Path, node: LocalNode, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = (directory / f"{node.id}.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wiber",
            "broker",
            "--config",
            str(directory / "cluster.yaml"),
            "--id",
            node.id,
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("WIBER_")} | (env or {}),
    )
    (directory / f"{node.id}.pid").write_text(str(process.pid))
    return process


def _wait_listening(
    processes: dict[str, subprocess.Popen[bytes]],
    nodes: list[LocalNode],
    timeout: float,
    directory: Path,
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        pending = [n for n in pending if not _port_open(n.client_port)]
        dead = [n.id for n in pending if processes[n.id].poll() is not None]
        if dead:
            raise ClusterError(f"node(s) {dead} exited; see their logs in {directory}")
        time.sleep(0.1)
    if pending:
        raise ClusterError(f"node(s) {[n.id for n in pending]} did not listen within {timeout}s")


def stop_node(directory: Path, node: LocalNode, sig: signal.Signals = signal.SIGTERM) -> bool:
    pid = _pid_of(directory, node)
    if pid is None:
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if _zombie(pid):
            break
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists() and not _zombie(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def down(directory: Path) -> list[str]:
    directory = directory.resolve()
    stopped = []
    for node in read_nodes(directory):
        if stop_node(directory, node):
            stopped.append(node.id)
        (directory / f"{node.id}.pid").unlink(missing_ok=True)
    return stopped


def find_node(directory: Path, node_id: str) -> LocalNode:
    for node in read_nodes(directory):
        if node.id == node_id:
            return node
    raise ClusterError(f"no node {node_id!r} in {directory}")


def pids(directory: Path) -> dict[str, int | None]:
    directory = directory.resolve()
    return {n.id: _pid_of(directory, n) for n in read_nodes(directory)}
