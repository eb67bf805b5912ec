"""The `causal` workload: publishes that depend on what their client saw, and subscribers that
must deliver causes before effects (DESIGN.md 1, "causal order across topics").

Every client is both a `CausalProducer` (each send carries as deps everything the client has
observed: its own sends and what it delivered) and a `CausalConsumer` of every topic from
offset 0, whose reorder buffer holds a message until its causes are delivered. A `deliver` op
takes the consumer's next delivery; `send` publishes a fresh value. Delivery ops are journaled
per process, so each process is one subscriber for the causal checker. The client's producer
observes a delivery only when its op completes, so a send's deps are exactly what the history
shows this process delivered before it.

For the clock checks, a delivery records the message's `hlc` and a send the node that
acknowledged it (`acked_by`): the checker compares timestamps along causality only when one
node stamped everything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from harness.generator.core import PENDING, Context, Generator, Result, Thread, fill
from harness.workloads.base import Workload, WorkloadOptions, failure, node_name, wiber_client
from harness.workloads.log import decode, topic_names
from wiber.client import ClientError
from wiber.client.causal import CausalConsumer, CausalProducer
from wiber.clocks.reorder import Delivered
from wiber.codec import messages as m

# Generous: a consumer failing over after a partition must not force effects out early.
MAX_WAIT_MS = 20_000
DELIVER_WAIT_S = 0.2  # a deliver op with nothing to deliver this long fails (nothing happened)


class CausalGen(Generator):
    """Sends of fresh values to random topics, and deliveries; `deliver_weight` deliveries per
    send keep every subscriber about level with what is sent in total."""

    __slots__ = ("deliver_weight", "next_value", "topics")

    def __init__(self, topics: Sequence[str], deliver_weight: int, next_value: int = 0) -> None:
        self.topics, self.deliver_weight, self.next_value = (
            tuple(topics),
            deliver_weight,
            next_value,
        )

    def op(self, ctx: Context) -> Result:
        if not ctx.free:
            return (PENDING, self)
        if ctx.rng.randrange(self.deliver_weight + 1) == 0:
            value = {"topic": ctx.rng.choice(self.topics), "value": self.next_value}
            op = fill({"f": "send", "value": value}, ctx)
            nxt = CausalGen(self.topics, self.deliver_weight, self.next_value + 1)
        else:
            op = fill({"f": "deliver", "value": {"topics": list(self.topics)}}, ctx)
            nxt = self
        return (PENDING, self) if op is None else (op, nxt)


class CausalClient:
    def __init__(self, opts: WorkloadOptions, process: Any, topics: Sequence[str]) -> None:
        self.client = wiber_client(opts, process)
        self.producer = CausalProducer(self.client, delivery_timeout=opts.op_timeout)
        self.consumer = CausalConsumer(self.client, list(topics), MAX_WAIT_MS)
        self.node = node_name(opts, process)
        self.inbox: asyncio.Queue[Delivered[m.StoredMessage] | BaseException] = asyncio.Queue()
        self.pump = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for delivered in self.consumer.deliveries():
                self.inbox.put_nowait(delivered)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the next deliver op reports it
            self.inbox.put_nowait(e)

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await (self._send(op["value"]) if op["f"] == "send" else self._deliver())
        except ClientError as e:
            reply = failure(op, e)
        if self.node is not None:
            reply["node"] = self.node
        return reply

    async def _send(self, value: dict[str, Any]) -> dict[str, Any]:
        sent = await self.producer.send(value["topic"], str(value["value"]).encode())
        deps = [list(d) for d in sent.deps]
        done = {**value, "offset": sent.offset, "deps": deps, "carried_hlc": sent.carried}
        if sent.hlc is not None:
            done["hlc"] = sent.hlc
        # The producer's pooled connection to the leader that just answered: no round trip.
        with contextlib.suppress(ClientError):
            done["acked_by"] = (await self.client.leader_connection()).node_id
        return {"type": "ok", "value": done}

    async def _deliver(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(DELIVER_WAIT_S):
                item = await self.inbox.get()
        except TimeoutError:
            return {"type": "fail", "error": "nothing-to-deliver"}
        if isinstance(item, BaseException):
            # The consumer gave up: this process ends (info) and its successor subscribes anew.
            return {"type": "info", "error": f"subscription failed: {item}"}
        msg = item.message.value
        self.producer.observe_message(msg)
        value: dict[str, Any] = {
            "topic": msg.topic,
            "offset": msg.offset,
            "value": decode(msg.payload),
            "deps": [list(d) for d in msg.deps],
            "hlc": msg.hlc,
        }
        if item.marks:
            value["marks"] = sorted(mark.value for mark in item.marks)
            value["missing"] = [list(d) for d in item.missing]
        return {"type": "ok", "value": value}

    async def close(self) -> None:
        self.pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.pump
        await self.client.close()


def workload(opts: WorkloadOptions, concurrency: int = 5) -> Workload:
    topics = topic_names(opts.topics)

    async def open_client(thread: Thread, process: Any) -> CausalClient:
        return CausalClient(opts, process, topics)

    return Workload(
        name="causal",
        open_client=open_client,
        generator=CausalGen(topics, deliver_weight=max(1, concurrency)),
        final=None,
        checkers=("causal", "stats", "perf"),
    )
