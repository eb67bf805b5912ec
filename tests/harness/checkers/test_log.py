"""The log checker: one hand-made history per anomaly, caught by name; valid histories pass."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checkers import log
from harness.checkers.synth import simulate
from harness.history import Op
from tests.harness.checkers.builder import History


def base() -> History:
    """Three acknowledged sends to t, offsets 0..2, read back in full."""
    return History().send(0, "t", 10, 0).send(0, "t", 11, 1).send(1, "t", 12, 2)


def anomalies(ops: list[Op]) -> dict[str, Any]:
    result = log.check(ops)
    return dict(result["anomalies"])


def test_valid_history_passes() -> None:
    h = base().poll(2, "t", 0, [[0, 10], [1, 11]]).poll(2, "t", 2, [[2, 12]])
    result = log.check(h.ops)
    assert result["valid"] is True, result
    assert (result["sends"], result["polls"], result["topics"]) == (3, 2, 1)


def test_info_sends_may_or_may_not_appear() -> None:
    h = base().send(3, "t", 13, None, "info").send(4, "t", 14, None, "info")
    h.poll(2, "t", 0, [[0, 10], [1, 11], [2, 12], [3, 14]])
    assert log.check(h.ops)["valid"] is True


CASES: dict[str, History] = {
    "inconsistent-offsets": base().poll(2, "t", 0, [[0, 10], [1, 99], [2, 12]]).send(3, "t", 99, 1),
    "duplicate": base()
    .send(3, "t", 13, 3)
    .poll(2, "t", 0, [[0, 10], [1, 11], [2, 12], [3, 13], [4, 13]]),
    "lost-write": base().poll(2, "t", 2, [[2, 12]]).poll(2, "t", 0, [[0, 10]]),
    "unseen": base().poll(2, "t", 0, [[0, 10], [1, 11]]),
    "G1a": base()
    .send(3, "t", 13, None, "fail")
    .poll(2, "t", 0, [[0, 10], [1, 11], [2, 12], [3, 13]]),
    "garbage-read": base().poll(2, "t", 0, [[0, 10], [1, 11], [2, 12], [3, 77]]),
    "nonmonotonic-send": History()
    .send(0, "t", 10, 1)
    .send(0, "t", 11, 0)
    .poll(2, "t", 0, [[0, 11], [1, 10]]),
    "int-nonmonotonic-send": History()
    .call(0, "send", {"topic": "t", "values": [10, 11]}, offsets=[1, 0])
    .poll(2, "t", 0, [[0, 11], [1, 10]]),
    "int-send-skip": History()
    .invoke(0, "send", {"topic": "t", "values": [10, 12]})
    .send(1, "t", 11, 1)
    .complete(0, "send", {"topic": "t", "values": [10, 12], "offsets": [0, 2]})
    .poll(2, "t", 0, [[0, 10], [1, 11], [2, 12]]),
    "poll-skip": base()
    .poll(2, "t", 0, [[0, 10]])
    .poll(2, "t", 1, [[2, 12]])
    .poll(3, "t", 0, [[0, 10], [1, 11]]),
    "nonmonotonic-poll": base()
    .poll(2, "t", 0, [[0, 10], [1, 11], [2, 12]])
    .poll(2, "t", 2, [[1, 11]]),
    "int-poll-skip": base().poll(2, "t", 0, [[0, 10], [2, 12]]).poll(3, "t", 1, [[1, 11]]),
    "int-nonmonotonic-poll": base().poll(2, "t", 0, [[0, 10], [2, 12], [1, 11]]),
    "precommitted-read": History().call(
        0,
        "txn",
        {"ops": [{"f": "send", "topic": "t", "value": 10}, {"f": "poll", "topic": "t", "from": 0}]},
        ops=[
            {"f": "send", "topic": "t", "value": 10, "offset": 0},
            {"f": "poll", "topic": "t", "from": 0, "msgs": [[0, 10]]},
        ],
    ),
    "future-read": History().poll(2, "t", 0, [[0, 10]]).send(0, "t", 10, 0),
    # p1 reads t's offset 1, then sends to u landing before what p0 sent there first, while p0
    # had sent u then t: u:0 (p0) -> t:1 (p0, process) ; t:1 -wr-> p1 poll -process-> p1's send
    # at u:0... a cycle through ww, wr and process edges.
    "G1c-process": History()
    .send(0, "u", 20, 1)
    .send(0, "t", 10, 0)
    .poll(1, "t", 0, [[0, 10]])
    .send(1, "u", 21, 0)
    .poll(2, "u", 0, [[0, 21], [1, 20]]),
    "G0-realtime": History()
    .send(0, "t", 10, 1)
    .send(1, "t", 11, 0)
    .poll(2, "t", 0, [[0, 11], [1, 10]]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_anomaly_is_caught_by_name(name: str) -> None:
    result = log.check(CASES[name].ops)
    assert result["valid"] is False
    assert name in result["anomalies"], result["anomalies"]
    assert result["counts"][name] >= 1


def test_witnesses_name_the_ops() -> None:
    found = anomalies(CASES["lost-write"].ops)["lost-write"][0]
    assert (found["topic"], found["value"], found["offset"], found["max_polled_offset"]) == (
        "t",
        11,
        1,
        2,
    )
    assert found["send"]["f"] == "send"
    skip = anomalies(CASES["poll-skip"].ops)["poll-skip"][0]
    assert skip["skipped"] == [1]
    cycle = anomalies(CASES["G0-realtime"].ops)["G0-realtime"][0]["cycle"]
    assert {k for step in cycle for k in step["edges"]} >= {"ww", "realtime"}


def test_cycle_search_can_be_turned_off() -> None:
    result = log.check(CASES["G0-realtime"].ops, cycles=False)
    assert "G0-realtime" not in result["anomalies"]


def test_malformed_history_is_unknown() -> None:
    bad = History().call(0, "poll", {"topic": "t", "from": 0}, msgs=[["x"]]).ops
    result = log.check(bad)
    assert result["valid"] == "unknown"
    assert "reason" in result


def final_polls(ops: list[Op]) -> list[Op]:
    """Append one complete poll per topic, as a workload's final read does."""
    h = History()
    h.ops = [dict(op) for op in ops]
    logs: dict[str, dict[int, Any]] = {}
    for op in ops:
        if op["type"] == "ok" and op["f"] == "send":
            logs.setdefault(op["value"]["topic"], {})[op["value"]["offset"]] = op["value"]["value"]
        if op["type"] == "ok" and op["f"] == "poll":
            for o, v in op["value"]["msgs"]:
                logs.setdefault(op["value"]["topic"], {})[o] = v
    for topic, entries in sorted(logs.items()):
        h.poll("final", topic, 0, [[o, entries[o]] for o in sorted(entries)])
    return h.ops


@given(seed=st.integers(0, 2**32), concurrency=st.integers(1, 8))
def test_generated_log_histories_are_valid(seed: int, concurrency: int) -> None:
    ops = final_polls(simulate("log", random.Random(seed), 40, concurrency, keys=2, crash_p=0.1))
    result = log.check(ops)
    assert result["valid"] is True, result["anomalies"]


@given(seed=st.integers(0, 2**32))
def test_planted_lost_write_is_caught(seed: int) -> None:
    rng = random.Random(seed)
    ops = final_polls(simulate("log", rng, 30, 4, keys=1, crash_p=0.0))
    final = ops[-1]["value"]["msgs"]
    if len(final) < 2:
        return
    # No read ever shows one acknowledged message below the top: a lost write.
    _, gone = final[rng.randrange(len(final) - 1)]
    for op in ops:
        if op["f"] == "poll" and op["type"] == "ok":
            op["value"]["msgs"] = [m for m in op["value"]["msgs"] if m[1] != gone]
    assert "lost-write" in log.check(ops)["anomalies"]
