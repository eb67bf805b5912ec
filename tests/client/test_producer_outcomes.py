"""What a producer reports when retries run out: never a definite failure for a message an
earlier attempt may have stored (a checker would rightly call that value's later appearance an
aborted read)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from wiber.client import Client, Producer
from wiber.client.causal import CausalProducer
from wiber.client.connection import ClientError
from wiber.codec import messages as m


class ScriptedConnection:
    def __init__(self, outcomes: list[ClientError | m.Message]) -> None:
        self.outcomes = outcomes

    async def request(self, request: m.Message, timeout: float) -> m.Message:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, ClientError):
            raise outcome
        return outcome


class ScriptedClient:
    """Answers each attempt from a script; the last outcome repeats."""

    timeout = 1.0

    def __init__(self, *outcomes: ClientError | m.Message) -> None:
        self.outcomes = list(outcomes)
        self.attempts = 0

    async def leader_connection(self, deadline: float) -> ScriptedConnection:
        self.attempts += 1
        outcome = self.outcomes[0] if len(self.outcomes) == 1 else self.outcomes.pop(0)
        return ScriptedConnection([outcome])

    def forget_leader(self, hint: str | None = None) -> None:
        pass


TIMED_OUT = ClientError("timeout", "no answer in 1 s", definite=False)
NO_LEADER = ClientError("unavailable", "no leader known", definite=True)


def publish(client: Any, *, causal: bool) -> ClientError:
    async def go() -> None:
        if causal:
            await CausalProducer(cast(Client, client), delivery_timeout=0.2).send("t", b"x")
        else:
            producer = Producer(cast(Client, client), delivery_timeout=0.2)
            await producer.publish("t", b"x")

    with pytest.raises(ClientError) as failed:
        asyncio.run(go())
    return failed.value


@pytest.mark.parametrize("causal", [False, True], ids=["producer", "causal-producer"])
def test_a_definite_refusal_after_a_timed_out_attempt_is_not_definite(causal: bool) -> None:
    client = ScriptedClient(TIMED_OUT, NO_LEADER)
    error = publish(client, causal=causal)
    assert client.attempts >= 2
    assert error.code == "unavailable"
    assert error.definite is False
    assert "may have taken effect" in error.message


@pytest.mark.parametrize("causal", [False, True], ids=["producer", "causal-producer"])
def test_a_refusal_with_no_attempt_that_could_have_landed_stays_definite(causal: bool) -> None:
    client = ScriptedClient(NO_LEADER)
    error = publish(client, causal=causal)
    assert error.code == "unavailable"
    assert error.definite is True
