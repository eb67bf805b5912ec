"""An acknowledged publish survives `kill -9` of the broker at any moment.

Each round starts the broker, streams publishes through a pipelined idempotent producer and
kills the process with SIGKILL at a random moment. After all rounds every acknowledged message
must be in the log at the offset it was acknowledged with, in order, with nothing lost.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from tests.runtime.brokers import Broker
from wiber.client import Client, ClientError, Producer
from wiber.codec import messages as m

ROUNDS = 8


async def publish_until_killed(
    broker: Broker, round_no: int, rng: random.Random
) -> dict[int, bytes]:
    acked: dict[int, bytes] = {}
    loop = asyncio.get_running_loop()
    async with Client([broker.address], timeout=2.0) as client:
        producer = Producer(client, max_inflight=64, delivery_timeout=1.0)
        loop.call_later(rng.uniform(0.1, 0.8), broker.kill)
        sent: list[tuple[bytes, asyncio.Future[int]]] = []
        for i in range(20_000):
            if broker.process is None or broker.process.poll() is not None:
                break
            value = f"r{round_no}-{i}".encode()
            sent.append((value, await producer.send("durable", value)))
            await asyncio.sleep(0)
        await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        for value, future in sent:
            if future.exception() is None:
                acked[future.result()] = value
    return acked


async def read_all(broker: Broker) -> list[m.StoredMessage]:
    out: list[m.StoredMessage] = []
    async with Client([broker.address]) as client:
        offset = 0
        while True:
            reply = await client.request(m.Fetch("durable", from_offset=offset), leader=False)
            assert isinstance(reply, m.FetchOk)
            if not reply.messages:
                return out
            out += reply.messages
            offset = reply.next_offset


@pytest.mark.parametrize("fsync", ["group", "always"])
def test_acknowledged_publishes_survive_kill_9(tmp_path: Path, fsync: str) -> None:
    rng = random.Random(fsync)
    broker = Broker(tmp_path / "data", fsync=fsync)
    acked: dict[int, bytes] = {}
    try:
        for round_no in range(ROUNDS):
            broker.start()
            new = asyncio.run(publish_until_killed(broker, round_no, rng))
            assert not set(new) & set(acked), "an offset was acknowledged twice"
            acked.update(new)
        broker.start()
        stored = asyncio.run(read_all(broker))
    except ClientError as e:
        pytest.fail(f"client error: {e}")
    finally:
        broker.stop()
    assert len(acked) > ROUNDS * 10, f"only {len(acked)} acknowledged: too little exercised"
    print(f"{len(acked)} acknowledged, {len(stored)} stored")
    by_offset = {msg.offset: msg.payload for msg in stored}
    assert [msg.offset for msg in stored] == list(range(len(stored))), "offsets not dense"
    lost = {o: v for o, v in acked.items() if by_offset.get(o) != v}
    example = list(lost.items())[:3]
    assert not lost, f"{len(lost)} acknowledged messages lost or moved, e.g. {example}"
    # Each round's acknowledged messages keep the order they were sent in.
    for round_no in range(ROUNDS):
        prefix = f"r{round_no}-".encode()
        seqs = [int(v[len(prefix) :]) for o, v in sorted(by_offset.items()) if v.startswith(prefix)]
        assert seqs == sorted(seqs)
