"""`wiber bench`: publish to a running broker or cluster and measure what comes back.

The workload matches the peer baselines (../shared/bench/peers): one producer, messages of
`size` random bytes, at most `inflight` unacknowledged; latency runs from handing a message to
the producer until its acknowledgement; a warm-up period is not counted.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wiber import localcluster
from wiber.client import Client, ClientError, Credentials, Producer, bootstrap_from_env
from wiber.codec import messages as m


@dataclass(frozen=True)
class BenchConfig:
    bootstrap: str | None = None
    topic: str = "bench"
    size: int = 100
    inflight: int = 256
    duration: float = 10.0
    count: int | None = None
    warmup: float = 1.0
    acks: str = "quorum"
    kill_leader_after: float | None = None  # seconds into the measured period
    cluster_dir: Path | None = None  # the local cluster whose leader is killed
    credentials: Credentials | None = None  # TLS and user, for a secured cluster


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[position]


async def run_bench(config: BenchConfig) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    payload = os.urandom(config.size // 2 + 1).hex()[: config.size].encode()
    client = Client(bootstrap_from_env(config.bootstrap), credentials=config.credentials)
    async with client:
        producer = Producer(client, max_inflight=config.inflight, acks=config.acks)
        loop = asyncio.get_running_loop()
        start = loop.time()
        measure_from = start + (0 if config.count is not None else config.warmup)
        stop_at = measure_from + config.duration
        sent = 0
        last_ack = start
        pending: set[asyncio.Future[int]] = set()
        killed_at: list[float] = []
        recovered_at: list[float] = []
        if config.kill_leader_after is not None:
            delay = measure_from - start + config.kill_leader_after
            killer = asyncio.create_task(_kill_leader(client, config, delay, killed_at))

        def done(future: asyncio.Future[int], t0: float) -> None:
            nonlocal errors, last_ack
            pending.discard(future)
            now = loop.time()
            if future.exception() is not None:
                errors += 1
            elif t0 >= measure_from:
                latencies.append((now - t0) * 1000)
                last_ack = now
                if killed_at and not recovered_at and t0 >= killed_at[0]:
                    recovered_at.append(now)

        while True:
            now = loop.time()
            if config.count is not None and sent >= config.count:
                break
            if config.count is None and now >= stop_at:
                break
            t0 = loop.time()
            future = await producer.send(config.topic, payload)
            pending.add(future)
            future.add_done_callback(functools.partial(done, t0=t0))
            sent += 1
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await producer.close()
        if config.kill_leader_after is not None:
            await killer
    elapsed = max(last_ack - measure_from, 1e-9)
    latencies.sort()
    return {
        "msgs_per_s": len(latencies) / elapsed,
        "mb_per_s": len(latencies) * config.size / elapsed / 1e6,
        "p50_ms": quantile(latencies, 0.5),
        "p90_ms": quantile(latencies, 0.9),
        "p99_ms": quantile(latencies, 0.99),
        "p999_ms": quantile(latencies, 0.999),
        "max_ms": latencies[-1] if latencies else 0.0,
        "acked": len(latencies),
        "errors": errors,
        "size": config.size,
        "inflight": config.inflight,
        "acks": config.acks,
        "failover_s": recovered_at[0] - killed_at[0] if recovered_at and killed_at else None,
    }


async def _kill_leader(
    client: Client, config: BenchConfig, delay: float, killed_at: list[float]
) -> None:
    """SIGKILL the local cluster's leader after `delay` seconds and note when."""
    await asyncio.sleep(delay)
    if config.cluster_dir is None:
        raise ValueError("--kill-leader-after needs the local cluster's --cluster-dir")
    reply = await client.request(m.Metadata(), leader=False)
    leader = reply.leader if isinstance(reply, m.MetadataOk) else None
    if leader is None:
        return
    node = localcluster.find_node(config.cluster_dir, leader)
    loop = asyncio.get_running_loop()
    killed_at.append(loop.time())
    await loop.run_in_executor(
        None, localcluster.stop_node, config.cluster_dir.resolve(), node, signal.SIGKILL
    )


__all__ = ["BenchConfig", "ClientError", "run_bench"]
