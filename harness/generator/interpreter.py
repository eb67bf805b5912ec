"""The interpreter: runs a pure generator against real clients and a nemesis, with asyncio.

One worker slot per client thread plus the nemesis thread. The loop asks the generator for an
op, waits until the op's time, journals the invocation, runs it on its thread's client, and
journals the completion as soon as it arrives (DESIGN.md 4.3: the history is streamed). An op
whose client raised or timed out completes `info`, and its thread continues under a new
process number (process + concurrency), as in Jepsen: a process never has two ops in flight and
never issues again after an indeterminate one.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.generator.core import NEMESIS, PENDING, Context, Generator, Op, Thread, thread_order
from harness.history import HistoryWriter

POLL_NS = 10_000_000  # how often a pending generator is asked again, at most


class Client(Protocol):
    """A workload's client, bound to one process. `invoke` returns the completion: at least
    `type` (ok, fail or info), and `value` when it differs from the invocation's."""

    async def invoke(self, op: Op) -> Op: ...

    async def close(self) -> None: ...


ClientFactory = Callable[[Thread, Any], Awaitable[Client]]


class NemesisDriver(Protocol):
    async def invoke(self, op: Op) -> Op: ...


class Journal:
    """The history in memory, streamed to a file and to a listener as ops happen."""

    def __init__(
        self, writer: HistoryWriter | None = None, listener: Callable[[Op], None] | None = None
    ) -> None:
        self.ops: list[Op] = []
        self.writer = writer
        self.listener = listener

    def append(self, op: Op) -> None:
        op["index"] = len(self.ops)
        self.ops.append(op)
        if self.writer is not None:
            self.writer.write(op)
        if self.listener is not None:
            self.listener(op)


@dataclass
class _Threads:
    """Which threads are free and which process each runs: the mutable side of a Context."""

    concurrency: int
    threads: tuple[Thread, ...]
    free: list[Thread] = field(default_factory=list)
    process_of: dict[Thread, Any] = field(default_factory=dict)
    thread_of: dict[Any, Thread] = field(default_factory=dict)

    @classmethod
    def make(cls, concurrency: int, nemesis: bool) -> _Threads:
        threads: tuple[Thread, ...] = (*range(concurrency), *((NEMESIS,) if nemesis else ()))
        return cls(
            concurrency, threads, list(threads), {t: t for t in threads}, {t: t for t in threads}
        )

    def context(self, now: int, rng: random.Random) -> Context:
        return Context(now, tuple(self.free), self.threads, self.process_of, self.thread_of, rng)

    def release(self, thread: Thread) -> None:
        bisect.insort(self.free, thread, key=thread_order)

    def crash(self, thread: Thread) -> None:
        """The thread's process saw an indeterminate result: it continues as a new process."""
        old = self.process_of[thread]
        new = old + self.concurrency
        self.process_of = {**self.process_of, thread: new}
        self.thread_of = {**self.thread_of, new: thread}
        del self.thread_of[old]


class Interpreter:
    def __init__(
        self,
        open_client: ClientFactory,
        concurrency: int,
        journal: Journal,
        *,
        nemesis: NemesisDriver | None = None,
        rng: random.Random | None = None,
        op_timeout: float = 10.0,
        nemesis_timeout: float = 180.0,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.open_client = open_client
        self.journal = journal
        self.nemesis = nemesis
        self.rng = rng or random.Random(0)
        self.op_timeout = op_timeout
        self.nemesis_timeout = nemesis_timeout
        self.clock = clock
        self.threads = _Threads.make(concurrency, nemesis is not None)
        self.clients: dict[Thread, tuple[Any, Client]] = {}
        self.arrived: deque[tuple[Thread, Op]] = deque()  # completions not yet journaled
        self.wake = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.outstanding = 0  # ops invoked and not yet completed
        self.started: dict[asyncio.Task[None], float] = {}  # op -> when it times out
        self.expired: set[asyncio.Task[None]] = set()  # cancelled by the watchdog
        self.origin = clock()

    def now(self) -> int:
        return self.clock() - self.origin

    async def run(self, gen: Generator | None) -> list[Op]:
        """Runs until the generator is exhausted and every op has completed."""
        watchdog = asyncio.create_task(self._watchdog())
        try:
            while True:
                gen = self._complete_ready(gen)
                now = self.now()
                ctx = self.threads.context(now, self.rng)
                result = gen.op(ctx) if gen is not None else None
                if result is None:
                    if not self.outstanding:
                        return self.journal.ops
                    gen = await self._wait(gen, None)
                    continue
                value, rest = result
                if value is PENDING or not isinstance(value, dict):
                    gen = await self._wait(rest, POLL_NS)
                elif value["time"] > now:
                    gen = await self._wait(gen, value["time"] - now)  # then ask again
                else:
                    gen = self._dispatch(rest, value, now)
        finally:
            watchdog.cancel()
            await self._stop()

    def _dispatch(self, gen: Generator | None, op: Op, now: int) -> Generator | None:
        thread = self.threads.thread_of[op["process"]]
        self.threads.free.remove(thread)
        op["time"] = now
        self.journal.append(op)
        if gen is not None:
            gen = gen.update(self.threads.context(now, self.rng), op)
        self.outstanding += 1
        task = asyncio.create_task(self._execute(thread, op))
        self.tasks.add(task)
        task.add_done_callback(self._forget)
        limit = self.nemesis_timeout if thread == NEMESIS else self.op_timeout
        self.started[task] = asyncio.get_running_loop().time() + limit
        return gen

    async def _wait(self, gen: Generator | None, ns: int | None) -> Generator | None:
        if not self.arrived:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if ns is None else ns / 1e9):
                    await self.wake.wait()
        return self._complete_ready(gen)

    def _complete_ready(self, gen: Generator | None) -> Generator | None:
        while self.arrived:
            thread, op = self.arrived.popleft()
            now = self.now()
            op["time"] = now
            self.journal.append(op)
            self.outstanding -= 1
            self.threads.release(thread)
            if gen is not None:
                gen = gen.update(self.threads.context(now, self.rng), op)
            if op["type"] == "info" and thread != NEMESIS:
                self.threads.crash(thread)
        return gen

    async def _execute(self, thread: Thread, op: Op) -> None:
        try:
            if thread == NEMESIS:
                if self.nemesis is None:
                    raise RuntimeError("no nemesis to run a nemesis op")
                reply = await self.nemesis.invoke(op)
            else:
                client = await self._client(thread, op["process"])
                reply = await client.invoke(op)
        except asyncio.CancelledError:
            if asyncio.current_task() not in self.expired:
                self._arrive(thread, _completion(op, {"type": "info", "error": "interrupted"}))
                raise
            reply = {"type": "info", "error": "timeout"}
        except Exception as e:  # an exception is indeterminate, never a silent ok or fail
            reply = {"type": "info", "error": f"{type(e).__name__}: {e}"}
        self._arrive(thread, _completion(op, reply))

    async def _watchdog(self) -> None:
        """Cancels ops running past their limit (`op_timeout`, or `nemesis_timeout` for the
        nemesis): they complete as info. One periodic scan instead of a timer per op keeps the
        per-op cost low."""
        loop = asyncio.get_running_loop()
        period = min(0.1, self.op_timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for task, deadline in list(self.started.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.started.pop(task, None)
        self.expired.discard(task)

    def _arrive(self, thread: Thread, op: Op) -> None:
        self.arrived.append((thread, op))
        self.wake.set()

    async def _client(self, thread: Thread, process: Any) -> Client:
        held = self.clients.get(thread)
        if held is not None and held[0] == process:
            return held[1]
        if held is not None:
            del self.clients[thread]
            with contextlib.suppress(Exception):
                await held[1].close()
        client = await self.open_client(thread, process)
        self.clients[thread] = (process, client)
        return client

    async def _stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self._complete_ready(None)
        for _, client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self.clients.clear()


def _completion(invoke: Op, reply: Op) -> Op:
    op: Op = {
        "type": reply.get("type", "info"),
        "f": invoke["f"],
        "value": reply.get("value", invoke.get("value")),
        "process": invoke["process"],
    }
    for key in ("error", "node"):
        if key in reply:
            op[key] = reply[key]
    return op
