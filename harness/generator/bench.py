"""Throughput of the generator and interpreter alone: `python -m harness.generator.bench`.

Clients answer at once (no I/O), so the figure is what the harness itself can drive: Jepsen's
generator reaches about 20,000 ops/s. Prints ops/s by wall clock and by this process's CPU
time (the machine is shared, so CPU time is the fairer figure).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from harness.generator import Limit, Mix, Repeat, Stagger, clients
from harness.generator.interpreter import Interpreter, Journal
from harness.workloads.log import LogGen


class NoopClient:
    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        return {"type": "ok"}

    async def close(self) -> None:
        return None


async def _open(thread: Any, process: Any) -> NoopClient:
    return NoopClient()


def generators(ops: int) -> dict[str, Any]:
    mix = Mix([Repeat({"f": "read"}), Repeat({"f": "write", "value": 1})])
    return {
        "mix": clients(Limit(ops, mix)),
        "mix+stagger(0)": clients(Limit(ops, Stagger(0, mix))),
        "log workload": clients(Limit(ops, LogGen(["t0", "t1", "t2"]))),
    }


async def measure(gen: Any, concurrency: int) -> tuple[int, float, float]:
    interpreter = Interpreter(_open, concurrency, Journal(), rng=random.Random(1))
    wall, cpu = time.perf_counter(), time.process_time()
    history = await interpreter.run(gen)
    return len(history) // 2, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    for name, gen in generators(args.ops).items():
        ops, wall, cpu = asyncio.run(measure(gen, args.concurrency))
        print(f"{name:16} {ops} ops  {ops / wall:8.0f} ops/s wall  {ops / cpu:8.0f} ops/s cpu")


if __name__ == "__main__":
    main()
