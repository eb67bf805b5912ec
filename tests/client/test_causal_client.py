"""CausalProducer and CausalConsumer against in-process fakes: deps attached, retries keep
their sequence number, arrivals reordered, late causes marked, deliveries fed back.

The real-cluster run is in `test_causal_cluster.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import cast

import pytest

from tests.client.causal_check import causal_violations
from wiber.client import Client, ClientError
from wiber.client.causal import CausalConsumer, CausalProducer, Subscriber
from wiber.clocks.reorder import Delivered, Mark, Message
from wiber.codec import messages as m


class FakeConnection:
    """A leader that dedups by (producer id, seq) and can lose answers or refuse."""

    def __init__(self) -> None:
        self.requests: list[m.PublishMessage] = []
        self.logs: dict[str, list[m.PublishMessage]] = {}
        self.lose_answers = 0
        self.refuse = False

    async def request(self, message: m.Message, timeout: float | None = None) -> m.Message:
        assert isinstance(message, m.Publish)
        (sent,) = message.messages
        self.requests.append(sent)
        if self.refuse:
            raise ClientError("bad-request", "refused", definite=True)
        log = self.logs.setdefault(message.topic, [])
        key = (sent.producer_id, sent.seq)
        offset = next((i for i, x in enumerate(log) if (x.producer_id, x.seq) == key), None)
        if offset is None:
            offset = len(log)
            log.append(sent)
        if self.lose_answers:
            self.lose_answers -= 1
            raise ClientError("timeout", "answer lost", definite=False)
        return m.PublishOk([offset])


class FakeClient:
    timeout = 1.0

    def __init__(self) -> None:
        self.conn = FakeConnection()

    async def leader_connection(self, deadline: float | None = None) -> FakeConnection:
        return self.conn

    def forget_leader(self, hint: str | None = None) -> None:
        pass


def stored(topic: str, offset: int, deps: tuple[tuple[str, int], ...] = ()) -> m.StoredMessage:
    return m.StoredMessage(topic, offset, offset, None, None, None, b"", None, deps)


def test_sends_carry_what_was_observed_and_published() -> None:
    async def run() -> list[m.PublishMessage]:
        client = FakeClient()
        producer = CausalProducer(cast(Client, client))
        first = await producer.send("a", b"0")
        producer.observe_message(stored("b", 4, deps=(("c", 9),)))
        second = await producer.send("a", b"1")
        third = await producer.send("d", b"2")
        assert (first.offset, second.offset, third.offset) == (0, 1, 0)
        assert producer.deps() == (("a", 1), ("b", 4), ("c", 9), ("d", 0))
        return client.conn.requests

    requests = asyncio.run(run())
    assert [r.deps for r in requests] == [
        (),
        (("a", 0), ("b", 4), ("c", 9)),
        (("a", 1), ("b", 4), ("c", 9)),
    ]
    assert [r.seq for r in requests] == [0, 1, 0]  # per topic, as the broker's windows are


def test_a_lost_answer_is_retried_with_the_same_seq_and_not_duplicated() -> None:
    async def run() -> FakeConnection:
        client = FakeClient()
        producer = CausalProducer(cast(Client, client))
        client.conn.lose_answers = 2
        assert (await producer.send("a", b"x")).offset == 0
        assert (await producer.send("a", b"y")).offset == 1
        return client.conn

    conn = asyncio.run(run())
    assert [r.seq for r in conn.requests] == [0, 0, 0, 1]
    assert [x.payload for x in conn.logs["a"]] == [b"x", b"y"]


def test_a_failed_send_raises_and_the_next_uses_a_fresh_producer_id() -> None:
    async def run() -> tuple[str, str, str]:
        client = FakeClient()
        producer = CausalProducer(cast(Client, client))
        await producer.send("a", b"x")
        before = producer.producer_id
        client.conn.refuse = True
        with pytest.raises(ClientError, match="refused"):
            await producer.send("a", b"y")
        client.conn.refuse = False
        sent = await producer.send("a", b"z")
        assert sent.offset == 1
        last = client.conn.requests[-1]
        assert last.seq == 0
        return before, producer.producer_id, cast(str, last.producer_id)

    before, after, used = asyncio.run(run())
    assert before != after == used


def test_more_observed_topics_than_deps_allow_is_a_clear_error() -> None:
    async def run() -> None:
        producer = CausalProducer(cast(Client, FakeClient()))
        for i in range(m.MAX_DEPS + 1):
            producer.observe(f"t{i}", 0)
        with pytest.raises(ClientError, match="65 topics observed"):
            await producer.send("a", b"x")

    asyncio.run(run())


def scripted(
    script: Mapping[str, tuple[float, Sequence[m.StoredMessage]]],
) -> Subscriber:
    """A subscriber that, per topic, waits `delay` seconds and then yields its messages."""

    async def subscribe(client: Client, topic: str, offset: int) -> AsyncIterator[m.StoredMessage]:
        delay, messages = script[topic]
        await asyncio.sleep(delay)
        for msg in messages:
            if msg.offset >= offset:
                yield msg
        await asyncio.Event().wait()  # a live subscription never ends by itself

    return subscribe


async def collect(consumer: CausalConsumer, n: int) -> list[Delivered[m.StoredMessage]]:
    out: list[Delivered[m.StoredMessage]] = []
    async with contextlib.aclosing(consumer.deliveries()) as deliveries:
        async for d in deliveries:
            out.append(d)
            if len(out) == n:
                break
    return out


CAUSES = [stored("causes", 0), stored("causes", 1, (("effects", 0),))]
EFFECTS = [stored("effects", 0, (("causes", 0),)), stored("effects", 1, (("causes", 1),))]


def keys(deliveries: list[Delivered[m.StoredMessage]]) -> list[tuple[str, int]]:
    return [d.message.key for d in deliveries]


def test_effects_that_arrive_first_wait_for_their_causes() -> None:
    script = {"causes": (0.2, CAUSES), "effects": (0.0, EFFECTS)}

    async def run() -> tuple[list[Delivered[m.StoredMessage]], CausalProducer]:
        feed = CausalProducer(cast(Client, FakeClient()))
        consumer = CausalConsumer(
            cast(Client, None),
            ["causes", "effects"],
            5_000,
            producer=feed,
            subscriber=scripted(script),
        )
        return await collect(consumer, 4), feed

    deliveries, feed = asyncio.run(run())
    order = [("causes", 0), ("effects", 0), ("causes", 1), ("effects", 1)]
    assert keys(deliveries) == order
    assert not any(d.marks for d in deliveries)
    assert deliveries[1].waited_ms > 0  # the effect really was held
    assert causal_violations(deliveries, {"causes": 0, "effects": 0}) == []
    assert feed.deps() == (("causes", 1), ("effects", 1))


def test_a_cause_later_than_the_bound_is_reported_not_hidden() -> None:
    script = {"causes": (0.3, CAUSES[:1]), "effects": (0.0, EFFECTS[:1])}

    async def run() -> list[Delivered[m.StoredMessage]]:
        consumer = CausalConsumer(
            cast(Client, None),
            {"causes": 0, "effects": 0},
            50,
            subscriber=scripted(script),
        )
        return await collect(consumer, 2)

    effect, cause = asyncio.run(run())
    assert effect.message.key == ("effects", 0)
    assert effect.marks == frozenset({Mark.MISSING_CAUSE})
    assert effect.missing == (("causes", 0),)
    assert cause.message.key == ("causes", 0)
    assert not cause.marks


def test_a_subscription_error_reaches_the_reader() -> None:
    async def failing(client: Client, topic: str, offset: int) -> AsyncIterator[m.StoredMessage]:
        if topic == "never":  # a yield makes this an async generator
            yield stored(topic, offset)
        raise ClientError("unknown-topic", "no such topic", definite=True)

    async def run() -> None:
        consumer = CausalConsumer(cast(Client, None), ["a"], 10, subscriber=failing)
        await collect(consumer, 1)

    with pytest.raises(ClientError, match="no such topic"):
        asyncio.run(run())


def test_the_checker_catches_an_effect_delivered_unmarked_before_its_cause() -> None:
    effect = Delivered(Message("effects", 0, EFFECTS[0], EFFECTS[0].deps))
    cause = Delivered(Message("causes", 0, CAUSES[0]))
    starts = {"causes": 0, "effects": 0}
    assert causal_violations([effect, cause], starts) == [
        "effects/0 delivered unmarked before [('causes', 0)]"
    ]
    marked = Delivered(effect.message, frozenset({Mark.MISSING_CAUSE}), (("causes", 0),))
    assert causal_violations([marked, cause], starts) == []
    gap = Delivered(Message("causes", 1, CAUSES[1]))
    assert causal_violations([gap], {"causes": 0, "effects": 5}) == [
        "causes/1 delivered unmarked before [('causes', 0)]"
    ]
