"""Local clusters of real broker processes for integration tests."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wiber import localcluster
from wiber.client import Client, ClientError
from wiber.codec import messages as m


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(nodes: int) -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000, 10)
        if all(_free(base + 10 * i + j) for i in range(nodes) for j in range(3)):
            return base
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self, directory: Path, nodes: list[localcluster.LocalNode]) -> None:
        self.directory = directory.resolve()
        self.nodes = nodes

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.nodes]

    def node(self, node_id: str) -> localcluster.LocalNode:
        return next(n for n in self.nodes if n.id == node_id)

    def kill(self, node_id: str) -> None:
        localcluster.stop_node(self.directory, self.node(node_id), signal.SIGKILL)

    def start(self, node_id: str) -> None:
        """Start a node and wait until it listens. A node that does not listen within 20 s
        gets its thread stacks dumped into its log (SIGUSR1) and the test fails with them."""
        node = self.node(node_id)
        process = localcluster.start_node(self.directory, node)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{node_id} exited on start:\n{self.log_tail(node_id)}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", node.client_port)) == 0:
                    return
            time.sleep(0.05)
        process.send_signal(signal.SIGUSR1)
        time.sleep(1)
        raise AssertionError(f"{node_id} did not listen in 20 s:\n{self.log_tail(node_id)}")

    def log_tail(self, node_id: str, lines: int = 60) -> str:
        text = (self.directory / f"{node_id}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def leader(self, timeout: float = 20.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            async with Client(self.addresses, timeout=2.0) as client:
                try:
                    reply = await client.request(m.Metadata(), leader=False)
                except Exception:
                    reply = None
            if isinstance(reply, m.MetadataOk) and reply.leader is not None:
                return reply.leader
            await asyncio.sleep(0.1)
        raise TimeoutError("no leader")

    async def converged(
        self, addresses: list[str], topic: str, timeout: float = 30.0
    ) -> list[list[m.StoredMessage]]:
        """Each node's view of `topic` once they all hold the same messages."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                views = [await self.read_all(a, topic) for a in addresses]
            except ClientError:
                views = []
            keys = [[(x.offset, x.payload) for x in v] for v in views]
            if views and all(k == keys[0] for k in keys):
                return views
            if loop.time() > deadline:
                raise AssertionError(
                    f"nodes still disagree after {timeout}s: {keys and [len(k) for k in keys]}"
                )
            await asyncio.sleep(0.2)

    async def read_all(self, address: str, topic: str) -> list[m.StoredMessage]:
        """Everything a node has applied for `topic` (its own view: no read barrier)."""
        out: list[m.StoredMessage] = []
        async with Client([address]) as client:
            offset = 0
            while True:
                request = m.Fetch(topic, from_offset=offset, stale_ok=True)
                reply = await client.request(request, leader=False)
                assert isinstance(reply, m.FetchOk)
                if not reply.messages:
                    return out
                out += reply.messages
                offset = reply.next_offset


@contextmanager
def running_cluster(
    directory: Path, nodes: int, *, voters: int | None = None, **extra: object
) -> Iterator[Cluster]:
    base = free_base_port(nodes)
    started = localcluster.up(directory, nodes, base, voters=voters, extra=dict(extra))
    try:
        yield Cluster(directory, started)
    finally:
        localcluster.down(directory)
