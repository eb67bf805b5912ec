"""`wiber bench`: publish to a running broker or cluster and measure what comes back.

The workload matches the peer baselines (../shared/bench/peers): one producer, messages of
`size` random bytes, at most `inflight` unacknowledged; latency runs from handing a message to
the producer until its acknowledgement; a warm-up period is not counted.
"""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import dataclass
from typing import Any

from wiber.client import Client, ClientError, Producer, bootstrap_from_env


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


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[position]


async def run_bench(config: BenchConfig) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    payload = os.urandom(config.size // 2 + 1).hex()[: config.size].encode()
    async with Client(bootstrap_from_env(config.bootstrap)) as client:
        producer = Producer(client, max_inflight=config.inflight, acks=config.acks)
        loop = asyncio.get_running_loop()
        start = loop.time()
        measure_from = start + (0 if config.count is not None else config.warmup)
        stop_at = measure_from + config.duration
        sent = 0
        last_ack = start
        pending: set[asyncio.Future[int]] = set()

        def done(future: asyncio.Future[int], t0: float) -> None:
            nonlocal errors, last_ack
            pending.discard(future)
            now = loop.time()
            if future.exception() is not None:
                errors += 1
            elif t0 >= measure_from:
                latencies.append((now - t0) * 1000)
                last_ack = now

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
    }


__all__ = ["BenchConfig", "ClientError", "run_bench"]
