"""The `register` workload: a linearizable register per key, built on committed offsets.

A key k is the committed offset of consumer group `r<k>` on topic `register` (DESIGN.md 4.3):
read = FetchOffset (a ReadIndex read), write = CommitOffset, cas = CommitOffset with `expect`,
which the broker refuses definitely (`offset-mismatch`) when the stored offset differs, so a
refused cas is a `fail`. Values are small integers so that cas often succeeds. A key retires
after `ops_per_key` ops and a fresh one takes its place, which keeps each key's history short
enough for the linearizability search (Jepsen's independent keys do the same).
"""

from __future__ import annotations

from typing import Any

from harness.generator.core import PENDING, Context, Generator, Result, Thread, fill
from harness.workloads.base import Workload, WorkloadOptions, failure, node_name, wiber_client
from wiber.client import ClientError
from wiber.codec import messages as m

TOPIC = "register"
VALUES = 5


def group(key: int) -> str:
    return f"r{key}"


class RegisterGen(Generator):
    """Reads, writes and cas ops on `keys` live keys; key numbers only grow."""

    __slots__ = ("issued", "keys", "per_key")

    def __init__(self, keys: int, per_key: int, issued: int = 0) -> None:
        self.keys, self.per_key, self.issued = keys, per_key, issued

    def op(self, ctx: Context) -> Result:
        if not ctx.free:
            return (PENDING, self)
        rng = ctx.rng
        # Live keys form a window sliding by one key every per_key ops: ~per_key ops per key.
        base = self.issued // self.per_key if self.per_key > 0 else 0
        key = base + rng.randrange(self.keys)
        roll = rng.random()
        if roll < 0.5:
            template = {"f": "read", "value": {"key": key}}
        elif roll < 0.75:
            template = {"f": "write", "value": {"key": key, "value": rng.randrange(VALUES)}}
        else:
            a, b = rng.randrange(VALUES), rng.randrange(VALUES)
            template = {"f": "cas", "value": {"key": key, "from": a, "to": b}}
        op = fill(template, ctx)
        if op is None:
            return (PENDING, self)
        return (op, RegisterGen(self.keys, self.per_key, self.issued + 1))


class RegisterClient:
    def __init__(self, opts: WorkloadOptions, process: Any) -> None:
        self.client = wiber_client(opts, process)
        self.node = node_name(opts, process)

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        value = op["value"]
        key = int(value["key"])
        try:
            reply = await self._run(op["f"], key, value)
        except ClientError as e:
            reply = failure(op, e)
            if e.code == "offset-mismatch":
                reply["type"] = "fail"  # a refused compare-and-set certainly did not happen
        if self.node is not None:
            reply["node"] = self.node
        return reply

    async def _run(self, f: str, key: int, value: dict[str, Any]) -> dict[str, Any]:
        if f == "read":
            reply = await self.client.request(m.FetchOffset(group(key), TOPIC), leader=False)
            got = reply.offset if isinstance(reply, m.OffsetOk) else None
            return {"type": "ok", "value": {**value, "value": got}}
        if f == "write":
            request = m.CommitOffset(group(key), TOPIC, int(value["value"]))
        elif f == "cas":
            request = m.CommitOffset(group(key), TOPIC, int(value["to"]), expect=int(value["from"]))
        else:
            raise ValueError(f"the register workload has no op {f!r}")
        await self.client.request(request, leader=True)
        return {"type": "ok"}

    async def close(self) -> None:
        await self.client.close()


def workload(opts: WorkloadOptions) -> Workload:
    async def open_client(thread: Thread, process: Any) -> RegisterClient:
        return RegisterClient(opts, process)

    return Workload(
        name="register",
        open_client=open_client,
        generator=RegisterGen(opts.keys, opts.ops_per_key),
        final=None,
        checkers=("linearizable", "stats", "perf"),
        checker_opts={"model": "cas-register"},
    )
