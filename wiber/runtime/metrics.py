"""Prometheus metrics of one node, served over HTTP on the metrics port (`/metrics`).

Counters and histograms are updated where things happen; gauges that mirror state (Raft term,
indexes, clock offsets, replication and consumer lag) are read from the node when scraped, so
they cost nothing between scrapes. Every node has its own registry: several nodes in one
process (tests) do not mix their figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wiber.runtime.node import Node

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.publish_latency = Histogram(
            "wiber_publish_latency_seconds",
            "Time from receiving a publish request to acknowledging it.",
            ["acks"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fsync_latency = Histogram(
            "wiber_fsync_seconds", "Duration of one log fsync.", buckets=LATENCY_BUCKETS, registry=r
        )
        self.append_latency = Histogram(
            "wiber_log_append_seconds",
            "Duration of one append to the log (page cache).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.messages_in = Counter(
            "wiber_messages_in_total", "Messages acknowledged to publishers.", ["topic"], registry=r
        )
        self.bytes_in = Counter(
            "wiber_bytes_in_total", "Payload bytes acknowledged.", ["topic"], registry=r
        )
        self.messages_out = Counter(
            "wiber_messages_out_total", "Messages sent to readers.", ["topic"], registry=r
        )
        self.bytes_out = Counter(
            "wiber_bytes_out_total", "Payload bytes sent to readers.", ["topic"], registry=r
        )
        self.leader_changes = Counter(
            "wiber_leader_changes_total", "Times this node saw the leader change.", registry=r
        )
        self.rejected = Counter(
            "wiber_rejected_requests_total",
            "Requests answered with an error.",
            ["reason"],
            registry=r,
        )

    def attach(self, node: Node) -> None:
        self.registry.register(_StateCollector(node))

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)


class _StateCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        status = node.core.status()
        yield _gauge("wiber_raft_term", "Current Raft term.", status.term)
        yield _gauge("wiber_raft_commit_index", "Highest committed index.", status.commit)
        yield _gauge(
            "wiber_raft_applied_index", "Highest applied index.", node.broker.applied_index
        )
        yield _gauge("wiber_raft_last_index", "Last index in the local log.", status.last_index)
        yield _gauge("wiber_raft_is_leader", "1 on the leader.", int(node.is_leader))
        yield _gauge("wiber_log_first_index", "First index in the log.", node.disk.first_index())
        lagging = node.is_leader and any(
            pr.match < status.last_index for pr in status.progress.values()
        )
        yield _gauge("wiber_under_replicated", "1: a voter is behind the leader.", int(lagging))
        yield from self._clocks()
        yield from self._lag()

    def _clocks(self) -> Iterable[Metric]:
        offsets = GaugeMetricFamily(
            "wiber_peer_clock_offset_seconds", "Peer clock minus ours (estimate).", labels=["peer"]
        )
        errors = GaugeMetricFamily(
            "wiber_peer_clock_offset_error_seconds", "Error bound of the offset.", labels=["peer"]
        )
        rtts = GaugeMetricFamily(
            "wiber_peer_rtt_seconds",
            "Round trip of the fastest recent clock probe to the peer (network + scheduling).",
            labels=["peer"],
        )
        for peer, (offset_ms, error_ms) in self.node.peer_offsets().items():
            offsets.add_metric([peer], offset_ms / 1000)
            errors.add_metric([peer], error_ms / 1000)
        transport = self.node.transport
        if transport is not None:
            now_us = time.time_ns() // 1000
            for peer in transport.offsets.peers():
                estimate = transport.offsets.estimate(peer, now_us)
                if estimate is not None:
                    rtts.add_metric([peer], estimate.delay_us / 1e6)
        skew = self.node.skew()
        yield offsets
        yield errors
        yield rtts
        stats = self.node.clock.stats
        beyond = CounterMetricFamily(
            "wiber_hlc_remote_ahead",
            "Remote hybrid timestamps further ahead than max_clock_offset_ms: a peer's is "
            "clamped (Raft must not depend on clocks), a client's publish is refused.",
            labels=["source", "action"],
        )
        beyond.add_metric(["peer", "clamped"], stats.clamped_peer)
        beyond.add_metric(["client", "refused"], stats.refused_client)
        yield beyond
        yield _gauge(
            "wiber_clock_offset_seconds",
            "This node's clock minus the cluster median (estimate).",
            0.0 if skew is None else skew[0] / 1e6,
        )

    def _lag(self) -> Iterable[Metric]:
        messages = GaugeMetricFamily(
            "wiber_consumer_lag_messages",
            "End offset minus committed offset.",
            labels=["group", "topic"],
        )
        seconds = GaugeMetricFamily(
            "wiber_consumer_lag_seconds",
            "Age of the oldest message the group has not committed.",
            labels=["group", "topic"],
        )
        broker = self.node.broker
        now = time.time()
        for (group, topic), committed in broker.committed_offsets().items():
            end = broker.end_offset(topic)
            messages.add_metric([group, topic], max(0, end - committed))
            age = 0.0
            if committed < end:
                page = self.node.read(topic, from_offset=committed, max_count=1)
                if page.messages:
                    age = max(0.0, now - (page.messages[0].hlc >> 16) / 1000)
            seconds.add_metric([group, topic], age)
        yield messages
        yield seconds


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
