"""Real 3-node TLS clusters for the security test matrix (one per module)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.runtime.clusters import free_base_port
from wiber import admin, localcluster
from wiber.client import Client, Credentials
from wiber.codec import messages as m


@dataclass
class SecureCluster:
    directory: Path
    nodes: list[localcluster.LocalNode]

    @property
    def certs(self) -> Path:
        return self.directory / localcluster.CERTS

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.nodes]

    def credentials(self, **fields: str) -> Credentials:
        return Credentials(ca=str(self.certs / "ca.crt"), **fields)

    @property
    def admin(self) -> Credentials:
        return self.credentials(
            cert=str(self.certs / "client-admin.crt"), key=str(self.certs / "client-admin.key")
        )

    def client(self, credentials: Credentials) -> Client:
        return Client(self.addresses, timeout=5.0, credentials=credentials)

    def metric(self, node: localcluster.LocalNode, name: str, label: str) -> float:
        """One sample of a node's Prometheus metrics (0 when absent)."""
        url = f"http://127.0.0.1:{node.client_port + 2}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(f"{name}{{{label}}} "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def stored(self, topic: str) -> list[bytes]:
        """Every message of `topic`, read by the superuser through a linearizable read."""
        async with self.client(self.admin) as client:
            reply = await client.request(m.Fetch(topic, from_offset=0), leader=False)
        assert isinstance(reply, m.FetchOk)
        return [x.payload for x in reply.messages]

    async def wait_for_leader(self, timeout: float = 30.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            rows = await admin.cluster_status(self.addresses, self.admin)
            leaders = [r["id"] for r in rows if r["role"] == "leader"]
            if leaders:
                return str(leaders[0])
            await asyncio.sleep(0.2)
        raise AssertionError(f"no leader within {timeout}s")


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    directory = tmp_path_factory.mktemp("tls-cluster")
    nodes = localcluster.up(directory, 3, free_base_port(3), tls=True)
    cluster = SecureCluster(directory.resolve(), nodes)
    try:
        asyncio.run(cluster.wait_for_leader())
        yield cluster
    finally:
        localcluster.down(directory)
