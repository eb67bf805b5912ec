"""Prometheus metrics scraped from a running 3-node cluster while it publishes and consumes."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.runtime.clusters import Cluster, running_cluster
from wiber.client import Client, Producer
from wiber.codec import messages as m


def scrape(cluster: Cluster, node: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    port = cluster.node(node).client_port + 2
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "wiber-cluster.json"


def exported_names(cluster: Cluster, node: str) -> set[str]:
    """Family and sample names a node exports (a labelled counter nobody incremented yet has
    a family but no sample)."""
    port = cluster.node(node).client_port + 2
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def dashboard_metrics() -> set[str]:
    exprs = [
        t["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for t in panel["targets"]
    ]
    exprs += [v["query"] for v in json.loads(DASHBOARD.read_text())["templating"]["list"]]
    return {name for expr in exprs for name in re.findall(r"\bwiber_[a-z_]+", expr)}


def lag(cluster: Cluster, node: str) -> float:
    return scrape(cluster, node).get(
        ("wiber_consumer_lag_messages", (("group", "g"), ("topic", "m"))), -1.0
    )


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert check(), "condition not reached in time"


def test_metrics_follow_publishing_and_consumer_lag(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:

        async def publish(n: int, commit: int) -> str:
            async with Client(cluster.addresses) as client:
                producer = Producer(client)
                for i in range(n):
                    await producer.publish("m", f"v{i}".encode())
                await client.request(m.CommitOffset("g", "m", commit), leader=True)
                return await cluster.leader()

        leader = asyncio.run(publish(20, 0))
        nodes = [n.id for n in cluster.nodes]
        eventually(lambda: all(lag(cluster, n) == 20 for n in nodes))
        metrics = scrape(cluster, leader)
        assert metrics[("wiber_messages_in_total", (("topic", "m"),))] == 20
        assert metrics[("wiber_publish_latency_seconds_count", (("acks", "quorum"),))] == 20
        assert sum(scrape(cluster, n)[("wiber_raft_is_leader", ())] for n in nodes) == 1

        asyncio.run(publish(0, 20))
        eventually(lambda: all(lag(cluster, n) == 0 for n in nodes))
        commits = {scrape(cluster, n)[("wiber_raft_commit_index", ())] for n in nodes}
        assert min(commits) >= 22  # 20 publishes, 2 commits (and the leader's no-op)

        # The sample Grafana dashboard asks only for what a node exports.
        wanted = dashboard_metrics()
        assert len(wanted) >= 15
        eventually(lambda: "wiber_peer_rtt_seconds" in exported_names(cluster, leader))
        names = exported_names(cluster, leader)
        missing = {
            w for w in wanted if w not in names and re.sub(r"_(total|bucket)$", "", w) not in names
        }
        assert missing == set(), f"dashboard uses metrics no node exports: {missing}"
