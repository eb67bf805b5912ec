"""A deterministic stand-in for the interpreter: virtual time, every op takes `latency` ns.

`simulate` drives a generator the way the asyncio interpreter does (ask, wait for the op's
time, invoke, complete, update) but in a plain loop, so generator tests need no event loop
and no clock. `complete` decides each op's completion type (ok by default).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

from harness.generator.core import NEMESIS, PENDING, Generator, Op, Thread
from harness.generator.interpreter import _Threads

Completer = Callable[[Op], str]


def simulate(
    gen: Generator | None,
    *,
    concurrency: int = 2,
    nemesis: bool = False,
    latency: int = 10,
    complete: Completer = lambda op: "ok",
    seed: int = 0,
    max_ops: int = 10_000,
) -> list[Op]:
    """The history (invocations and completions) of running `gen` to its end."""
    threads = _Threads.make(concurrency, nemesis)
    rng = random.Random(seed)
    now, seq = 0, 0
    history: list[Op] = []
    running: list[tuple[int, int, Thread, Op]] = []  # a heap by end time
    while len(history) < 2 * max_ops:
        ctx = threads.context(now, rng)
        result = gen.op(ctx) if gen is not None else None
        if result is not None and isinstance(result[0], dict) and result[0]["time"] <= now:
            op, gen = result[0], result[1]
            thread = threads.thread_of[op["process"]]
            threads.free.remove(thread)
            op["time"] = now
            history.append(op)
            gen = gen.update(threads.context(now, rng), op) if gen is not None else None
            seq += 1
            heapq.heappush(running, (now + latency, seq, thread, op))
            continue
        if result is not None and result[0] is PENDING:
            gen = result[1]
        # Nothing to invoke now: move time to the next completion or the op's time.
        wake = [running[0][0]] if running else []
        if result is not None and isinstance(result[0], dict):
            wake.append(result[0]["time"])
        elif result is not None:
            wake.append(now + 1_000_000)  # pending on time alone (a sleep): step 1 ms
        if not wake:
            return history
        now = max(now, min(wake))
        while running and running[0][0] <= now:
            _, _, thread, invoke = heapq.heappop(running)
            outcome = complete(invoke)  # may add results to the op's value
            done: Op = {**invoke, "type": outcome, "time": now}
            history.append(done)
            threads.release(thread)
            gen = gen.update(threads.context(now, rng), done) if gen is not None else None
            if done["type"] == "info" and thread != NEMESIS:
                threads.crash(thread)
    raise AssertionError("the generator did not end within max_ops")


def invokes(history: list[Op]) -> list[Op]:
    return [op for op in history if op["type"] == "invoke"]


def fs(history: list[Op]) -> list[Any]:
    return [op["f"] for op in invokes(history)]
