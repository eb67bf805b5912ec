"""Causal order end to end on a real 3-node cluster.

Two producers play ping-pong across two topics: one publishes causes, the other publishes an
effect of each cause it consumed, and the first waits for that effect before its next cause.
Every message's deps therefore point into the other topic. A consumer of both topics whose
`causes` subscription starts late sees the effects first: it must hold them (never deliver an
effect before its cause unmarked), and with a zero wait it must mark them instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.client.causal_check import causal_violations
from tests.runtime.clusters import running_cluster
from wiber.client import Client, Consumer
from wiber.client.causal import CausalConsumer, CausalProducer, Sent, Subscriber
from wiber.clocks.reorder import Delivered, Mark
from wiber.codec import messages as m

ROUNDS = 12
TOPICS = {"causes": 0, "effects": 0}


async def ping_pong(
    addresses: list[str], between_rounds: Callable[[int], Awaitable[None]] | None = None
) -> dict[tuple[str, int], Sent]:
    sent: dict[tuple[str, int], Sent] = {}
    async with Client(addresses, timeout=3.0) as c1, Client(addresses[::-1], timeout=3.0) as c2:
        p1, p2 = CausalProducer(c1), CausalProducer(c2)
        # Each producer learns the other's messages through a consumer that feeds it.
        effects = CausalConsumer(c1, ["effects"], 1_000, producer=p1).deliveries()
        causes = CausalConsumer(c2, ["causes"], 1_000, producer=p2).deliveries()
        async with contextlib.aclosing(effects), contextlib.aclosing(causes):
            for i in range(ROUNDS):
                cause = await p1.send("causes", f"cause-{i}".encode())
                sent[("causes", cause.offset)] = cause
                assert (await anext(causes)).message.value.offset == cause.offset
                effect = await p2.send("effects", f"effect-{i}".encode())
                sent[("effects", effect.offset)] = effect
                assert (await anext(effects)).message.value.offset == effect.offset
                if between_rounds is not None:
                    await between_rounds(i)
    return sent


def late_causes(delay: float) -> Subscriber:
    """Read `causes` only after `delay` seconds, so that effects arrive before their causes."""

    async def subscribe(client: Client, topic: str, offset: int) -> AsyncIterator[m.StoredMessage]:
        if topic == "causes":
            await asyncio.sleep(delay)
        async for msg in Consumer(client, topic, from_offset=offset).messages():
            yield msg

    return subscribe


async def read_causally(addresses: list[str], max_wait_ms: int) -> list[Delivered[m.StoredMessage]]:
    out: list[Delivered[m.StoredMessage]] = []
    async with Client(addresses[1:], timeout=3.0) as client:
        consumer = CausalConsumer(client, TOPICS, max_wait_ms, subscriber=late_causes(0.5))
        async with contextlib.aclosing(consumer.deliveries()) as deliveries:
            async for d in deliveries:
                out.append(d)
                if len(out) == 2 * ROUNDS:
                    break
    return out


@pytest.mark.parametrize(
    "kill_leader", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["steady", "failover"]
)
def test_causal_consumers_never_deliver_an_effect_before_its_cause_unmarked(
    tmp_path: Path, kill_leader: bool
) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:
        killed: list[str] = []

        async def failover(i: int) -> None:
            # Mid-run, kill the leader: producers retry on the next one, consumers fail over.
            if kill_leader and i == ROUNDS // 2:
                killed.append(await cluster.leader())
                cluster.kill(killed[0])
            if killed and i == ROUNDS - 2:
                cluster.start(killed[0])

        async def scenario() -> tuple[
            dict[tuple[str, int], Sent],
            list[Delivered[m.StoredMessage]],
            list[Delivered[m.StoredMessage]],
        ]:
            await cluster.leader()
            sent = await ping_pong(cluster.addresses, failover)
            patient = await asyncio.wait_for(read_causally(cluster.addresses, 10_000), 60)
            hasty = await asyncio.wait_for(read_causally(cluster.addresses, 0), 60)
            return sent, patient, hasty

        sent, patient, hasty = asyncio.run(scenario())

    # The deps each producer attached came back through Raft and the reads unchanged.
    assert len(sent) == 2 * ROUNDS
    for d in patient:
        msg = d.message.value
        assert msg.deps == sent[(msg.topic, msg.offset)].deps
    assert sent[("effects", 3)].deps == (("causes", 3), ("effects", 2))
    assert sent[("causes", 3)].deps == (("causes", 2), ("effects", 2))

    # Patient: everything ordered, nothing marked, and the buffer really had to hold effects.
    assert causal_violations(patient, TOPICS) == []
    assert not any(d.marks for d in patient)
    assert [d.message.key for d in patient] == [
        (topic, i) for i in range(ROUNDS) for topic in ("causes", "effects")
    ]
    assert any(d.waited_ms > 0 for d in patient if d.message.topic == "effects")

    # Hasty: effects go out before their causes, but openly marked.
    assert causal_violations(hasty, TOPICS) == []
    assert sorted(d.message.key for d in hasty) == sorted(sent)
    first = hasty[0]
    assert first.message.key == ("effects", 0)
    assert first.marks == frozenset({Mark.MISSING_CAUSE})
    assert first.missing == (("causes", 0),)
