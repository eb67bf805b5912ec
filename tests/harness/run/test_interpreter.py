"""The asyncio interpreter: journaling, crashes becoming info with a new process, timeouts,
nemesis ops, streaming to disk, interruption."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness.generator import Limit, Mix, Repeat, any_of, clients, nemesis, once
from harness.generator.interpreter import Interpreter, Journal
from harness.history import HistoryWriter
from tests.harness.run.sim import invokes


class FakeClient:
    """Answers by f: read -> ok 42, boom -> raises, hang -> sleeps past the op timeout,
    nope -> fail. Records which process it was opened for."""

    opened: list[Any] = []
    closed: list[Any] = []

    def __init__(self, process: Any) -> None:
        self.process = process

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        if op["process"] != self.process:
            raise AssertionError("a client ran another process's op")
        match op["f"]:
            case "boom":
                raise RuntimeError("connection reset")
            case "hang":
                await asyncio.sleep(10)
            case "nope":
                return {"type": "fail", "error": "refused"}
        return {"type": "ok", "value": 42}

    async def close(self) -> None:
        FakeClient.closed.append(self.process)


async def open_fake(thread: Any, process: Any) -> FakeClient:
    FakeClient.opened.append(process)
    return FakeClient(process)


class FakeNemesis:
    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        return {"type": "info", "value": {**op["value"], "targets": ["n1"]}}


def run(gen: Any, concurrency: int = 2, **kw: Any) -> list[dict[str, Any]]:
    FakeClient.opened, FakeClient.closed = [], []

    async def main() -> list[dict[str, Any]]:
        journal = kw.pop("journal", None) or Journal()
        interpreter = Interpreter(open_fake, concurrency, journal, rng=random.Random(1), **kw)
        return await interpreter.run(gen)

    return asyncio.run(main())


def test_every_op_is_journaled_as_invoke_then_completion_with_dense_indices() -> None:
    history = run(clients(Limit(20, Repeat({"f": "read"}))), concurrency=3)
    assert len(history) == 40
    assert [op["index"] for op in history] == list(range(40))
    opened: dict[Any, dict[str, Any]] = {}
    for op in history:
        if op["type"] == "invoke":
            assert op["process"] not in opened
            opened[op["process"]] = op
        else:
            invoke = opened.pop(op["process"])
            assert op["type"] == "ok"
            assert op["value"] == 42
            assert op["f"] == invoke["f"]
            assert op["time"] >= invoke["time"]
    assert not opened


def test_an_exception_is_info_and_the_thread_continues_as_a_new_process() -> None:
    gen = clients(lift_seq({"f": "boom"}, {"f": "read"}, {"f": "nope"}, {"f": "read"}))
    history = run(gen, concurrency=1)
    completions = [op for op in history if op["type"] != "invoke"]
    assert [(op["type"], op["process"]) for op in completions] == [
        ("info", 0),
        ("ok", 1),
        ("fail", 1),  # a definite failure keeps the process
        ("ok", 1),
    ]
    assert "RuntimeError: connection reset" in completions[0]["error"]
    assert FakeClient.opened == [0, 1]
    assert 0 in FakeClient.closed


def lift_seq(*ops: dict[str, Any]) -> Any:
    from harness.generator import lift

    return lift(list(ops))


def test_a_timed_out_op_is_info_with_the_error_timeout() -> None:
    history = run(clients(lift_seq({"f": "hang"}, {"f": "read"})), concurrency=1, op_timeout=0.05)
    completions = [op for op in history if op["type"] != "invoke"]
    assert completions[0]["type"] == "info"
    assert completions[0]["error"] == "timeout"
    assert completions[1]["process"] == 1


def test_nemesis_ops_run_on_the_nemesis_thread_and_complete_info() -> None:
    gen = any_of(
        clients(Limit(4, Repeat({"f": "read"}))),
        nemesis(once({"f": "start", "value": {"nemesis": "kill"}})),
    )
    history = run(gen, concurrency=2, nemesis=FakeNemesis())
    nem = [op for op in history if op["process"] == "nemesis"]
    assert [op["type"] for op in nem] == ["invoke", "info"]
    assert nem[1]["value"] == {"nemesis": "kill", "targets": ["n1"]}
    assert len(invokes(history)) == 5


def test_history_is_streamed_to_disk_as_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    seen: list[int] = []
    with HistoryWriter(path) as writer:

        def listener(op: dict[str, Any]) -> None:
            # Each op is on disk by the time listeners hear of it.
            seen.append(len(path.read_text().splitlines()))

        journal = Journal(writer, listener)
        history = run(clients(Limit(5, Mix([Repeat({"f": "read"})]))), journal=journal)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == history
    assert seen == list(range(1, 11))


def test_interrupting_a_run_completes_in_flight_ops_as_info() -> None:
    async def main() -> list[dict[str, Any]]:
        journal = Journal()
        interpreter = Interpreter(open_fake, 2, journal, op_timeout=60)
        task = asyncio.create_task(interpreter.run(clients(Repeat({"f": "hang"}))))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return journal.ops

    history = asyncio.run(main())
    assert [op["type"] for op in history].count("invoke") == 2
    completions = [op for op in history if op["type"] != "invoke"]
    assert [op["error"] for op in completions] == ["interrupted", "interrupted"]


class HangingNemesis:
    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {"type": "info"}


def test_a_hung_nemesis_op_times_out_as_info_and_the_run_goes_on() -> None:
    gen = any_of(
        clients(Limit(3, Repeat({"f": "read"}))),
        nemesis(once({"f": "start", "value": {"nemesis": "pause"}})),
    )
    history = run(gen, nemesis=HangingNemesis(), nemesis_timeout=0.1, op_timeout=0.4)
    nem = [op for op in history if op["process"] == "nemesis"]
    assert [op["type"] for op in nem] == ["invoke", "info"]
    assert nem[1]["error"] == "timeout"
    assert sum(op["type"] == "ok" for op in history) == 3
