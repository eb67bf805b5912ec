"""The `log` workload: Jepsen's Kafka workload (research/jepsen.md 1.7) on Wiber.

Clients send unique integers to a few topics through an idempotent producer, poll topics from
offsets (a Fetch, or a short subscription window: both recorded as `poll`), and commit and
read consumer-group offsets. The final phase reads every topic back from offset 0 until a poll
comes back empty, so that every acknowledged send must have been seen (`unseen` otherwise).
Op values as DESIGN.md 4.3.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from harness.generator.core import PENDING, Context, Generator, Op, Result, Thread, fill
from harness.workloads.base import Workload, WorkloadOptions, failure, node_name, wiber_client
from wiber.client import ClientError, Producer
from wiber.codec import messages as m

GROUPS = ("g0", "g1")
PAGE = 200  # messages per Fetch
WINDOW_S = 0.25  # how long a subscription poll listens


def topic_names(count: int) -> tuple[str, ...]:
    return tuple(f"t{i}" for i in range(count))


def decode(payload: bytes) -> Any:
    """Sent values are decimal integers; anything else is kept as text for the checker."""
    try:
        return int(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


class LogGen(Generator):
    """Sends of fresh values, polls near the known end of a topic, commits and committed reads.

    `ends` tracks, per topic, one past the highest offset an ok send or poll revealed, so that
    polls and commits aim at offsets that exist."""

    __slots__ = ("ends", "next_value", "topics")

    def __init__(
        self, topics: Sequence[str], next_value: int = 0, ends: dict[str, int] | None = None
    ) -> None:
        self.topics = tuple(topics)
        self.next_value = next_value
        self.ends = ends or {}

    def op(self, ctx: Context) -> Result:
        if not ctx.free:
            return (PENDING, self)
        rng = ctx.rng
        topic = rng.choice(self.topics)
        end = self.ends.get(topic, 0)
        roll = rng.random()
        value: dict[str, Any]
        nxt = self
        if roll < 0.5:
            f, value = "send", {"topic": topic, "value": self.next_value}
            nxt = LogGen(self.topics, self.next_value + 1, self.ends)
        elif roll < 0.85:
            start = max(0, end - rng.randint(0, 30))
            via = "subscribe" if rng.random() < 0.3 else "fetch"
            f, value = "poll", {"topic": topic, "from": start, "via": via}
        elif roll < 0.93:
            group = rng.choice(GROUPS)
            f, value = "commit", {"group": group, "topic": topic, "offset": rng.randint(0, end)}
        else:
            f, value = "committed", {"group": rng.choice(GROUPS), "topic": topic}
        op = fill({"f": f, "value": value}, ctx)
        return (PENDING, self) if op is None else (op, nxt)

    def update(self, ctx: Context, event: Op) -> Generator:
        top = _highest_offset(event)
        if top is None:
            return self
        topic, offset = top
        if offset < self.ends.get(topic, 0):
            return self
        return LogGen(self.topics, self.next_value, {**self.ends, topic: offset + 1})


def _highest_offset(event: Op) -> tuple[str, int] | None:
    value = event.get("value")
    if event.get("type") != "ok" or not isinstance(value, dict):
        return None
    if event.get("f") == "send" and "offset" in value:
        return (value["topic"], int(value["offset"]))
    if event.get("f") == "poll" and value.get("msgs"):
        return (value["topic"], int(value["msgs"][-1][0]))
    return None


class FinalReads(Generator):
    """Reads each topic from offset 0 page by page until a poll returns nothing new."""

    __slots__ = ("busy", "cursor", "todo")

    def __init__(
        self,
        todo: tuple[str, ...],
        cursor: dict[str, int] | None = None,
        busy: frozenset[str] = frozenset(),
    ) -> None:
        self.todo, self.cursor, self.busy = todo, cursor or {}, busy

    def op(self, ctx: Context) -> Result:
        if not self.todo:
            return None
        ready = [t for t in self.todo if t not in self.busy]
        if not ready:
            return (PENDING, self)
        topic = ready[0]
        value = {"topic": topic, "from": self.cursor.get(topic, 0), "via": "fetch", "final": True}
        op = fill({"f": "poll", "value": value}, ctx)
        if op is None:
            return (PENDING, self)
        return (op, FinalReads(self.todo, self.cursor, self.busy | {topic}))

    def update(self, ctx: Context, event: Op) -> Generator:
        value = event.get("value")
        if event.get("f") != "poll" or event.get("type") == "invoke" or not isinstance(value, dict):
            return self
        topic = value.get("topic")
        if topic not in self.busy or not value.get("final"):
            return self
        busy = self.busy - {topic}
        if event["type"] != "ok":
            return FinalReads(self.todo, self.cursor, busy)  # try the same page again
        msgs = value.get("msgs") or []
        if not msgs:
            return FinalReads(tuple(t for t in self.todo if t != topic), self.cursor, busy)
        return FinalReads(self.todo, {**self.cursor, topic: int(msgs[-1][0]) + 1}, busy)


class LogClient:
    def __init__(self, opts: WorkloadOptions, process: Any) -> None:
        self.client = wiber_client(opts, process)
        self.op_timeout = opts.op_timeout
        self.producer = Producer(self.client, delivery_timeout=opts.op_timeout)
        self.node = node_name(opts, process)

    async def invoke(self, op: Op) -> Op:
        value = op["value"]
        try:
            reply = await self._run(op["f"], value)
        except ClientError as e:
            reply = failure(op, e)
        if self.node is not None:
            reply.setdefault("node", self.node)
        return reply

    async def _run(self, f: str, value: dict[str, Any]) -> Op:
        topic = value["topic"]
        if f == "send":
            try:
                offset = await self.producer.publish(topic, str(value["value"]).encode())
            except ClientError:
                # Its sequence number is spent either way: a fresh producer starts clean.
                self.producer = Producer(self.client, delivery_timeout=self.op_timeout)
                raise
            return {"type": "ok", "value": {**value, "offset": offset}}
        if f == "poll":
            if value.get("via") == "subscribe":
                msgs = await self._subscribe(topic, int(value["from"]))
            else:
                msgs = await self._fetch(topic, int(value["from"]))
            return {"type": "ok", "value": {**value, "msgs": msgs}}
        if f == "commit":
            request = m.CommitOffset(value["group"], topic, int(value["offset"]))
            await self.client.request(request, leader=True)
            return {"type": "ok"}
        if f == "committed":
            reply = await self.client.request(m.FetchOffset(value["group"], topic), leader=False)
            stored = reply.offset if isinstance(reply, m.OffsetOk) else None
            return {"type": "ok", "value": {**value, "offset": stored}}
        raise ValueError(f"the log workload has no op {f!r}")

    async def _fetch(self, topic: str, start: int) -> list[list[Any]]:
        reply = await self.client.request(
            m.Fetch(topic, from_offset=start, max_count=PAGE), leader=False
        )
        if isinstance(reply, m.Error) or not isinstance(reply, m.FetchOk):
            raise ClientError("bad-reply", f"unexpected {reply!r:.200}", definite=True)
        return [[x.offset, decode(x.payload)] for x in reply.messages]

    async def _subscribe(self, topic: str, start: int) -> list[list[Any]]:
        """What one subscription from `start` delivers in a short window, in order."""
        conn = await self.client.any_connection()
        reply = await conn.request(m.Subscribe(topic, from_offset=start), self.client.timeout)
        if not isinstance(reply, m.SubscribeOk):
            raise ClientError("bad-reply", f"unexpected {reply!r:.200}", definite=True)
        queue = conn.deliveries(reply.subscription_id)
        msgs: list[list[Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WINDOW_S):
                while len(msgs) < PAGE:
                    delivery = await queue.get()
                    if delivery is None:
                        break  # the connection closed: what arrived so far was delivered
                    msgs.extend([x.offset, decode(x.payload)] for x in delivery.messages)
        with contextlib.suppress(ClientError):
            await conn.request(m.Unsubscribe(reply.subscription_id), self.client.timeout)
        return msgs

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.producer.close()
        await self.client.close()


def workload(opts: WorkloadOptions) -> Workload:
    topics = topic_names(opts.topics)

    async def open_client(thread: Thread, process: Any) -> LogClient:
        return LogClient(opts, process)

    return Workload(
        name="log",
        open_client=open_client,
        generator=LogGen(topics),
        final=FinalReads(topics),
        checkers=("log", "stats", "perf"),
    )
