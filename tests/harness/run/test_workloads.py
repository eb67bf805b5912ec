"""Workload generators (pure) and the client error mapping; op shapes as DESIGN.md 4.3."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.generator import Limit, clients
from harness.workloads import WORKLOADS, WorkloadOptions
from harness.workloads.base import failure, rotated
from harness.workloads.causal import CausalGen
from harness.workloads.log import FinalReads, LogGen, decode
from harness.workloads.register import RegisterGen
from tests.harness.run.sim import invokes, simulate
from wiber.client import ClientError


def offsets_for_sends() -> Any:
    """A completer that gives each send the next offset of its topic (a perfect log)."""
    ends: Counter[str] = Counter()

    def complete(op: dict[str, Any]) -> str:
        if op["f"] == "send":
            op["value"] = {**op["value"], "offset": ends[op["value"]["topic"]]}
            ends[op["value"]["topic"]] += 1
        return "ok"

    return complete


def test_log_ops_have_the_pinned_shapes_and_unique_values() -> None:
    history = simulate(clients(Limit(300, LogGen(["t0", "t1"]))), concurrency=4, seed=3)
    ops = invokes(history)
    assert Counter(op["f"] for op in ops).keys() == {"send", "poll", "commit", "committed"}
    sends = [op["value"] for op in ops if op["f"] == "send"]
    assert len({v["value"] for v in sends}) == len(sends)
    assert all(set(v) == {"topic", "value"} for v in sends)
    for op in ops:
        v = op["value"]
        assert v["topic"] in ("t0", "t1")
        if op["f"] == "poll":
            assert v["from"] >= 0
            assert v["via"] in ("fetch", "subscribe")
        if op["f"] == "commit":
            assert set(v) == {"group", "topic", "offset"}
        if op["f"] == "committed":
            assert set(v) == {"group", "topic"}


def test_log_generator_learns_topic_ends_from_ok_sends() -> None:
    gen = LogGen(["t0"])
    sent = {"topic": "t0", "value": 1, "offset": 41}
    done = {"type": "ok", "f": "send", "process": 0, "value": sent}
    updated = gen.update(None, done)  # type: ignore[arg-type]
    assert isinstance(updated, LogGen)
    assert updated.ends == {"t0": 42}
    older = {**done, "value": {"topic": "t0", "value": 2, "offset": 3}}
    assert updated.update(None, older) is updated  # type: ignore[arg-type]


def test_final_reads_page_through_every_topic_until_empty() -> None:
    pages = {("t0", 0): [[0, 10], [1, 11]], ("t0", 2): [], ("t1", 0): []}
    seen: list[tuple[str, int]] = []
    failed_once: set[str] = set()

    def complete(op: dict[str, Any]) -> str:
        v = op["value"]
        seen.append((v["topic"], v["from"]))
        if v["topic"] == "t1" and "t1" not in failed_once:
            failed_once.add("t1")
            return "fail"  # retried from the same offset
        op["value"] = {**v, "msgs": pages[(v["topic"], v["from"])]}
        return "ok"

    history = simulate(clients(FinalReads(("t0", "t1"))), concurrency=2, complete=complete)
    assert sorted(seen) == [("t0", 0), ("t0", 2), ("t1", 0), ("t1", 0)]
    assert all(op["value"]["final"] for op in invokes(history))


def test_register_keys_slide_so_each_gets_about_ops_per_key() -> None:
    history = simulate(clients(Limit(1000, RegisterGen(keys=4, per_key=100))), concurrency=3)
    ops = invokes(history)
    per_key = Counter(op["value"]["key"] for op in ops)
    assert len(per_key) == 13  # windows of 4 live keys sliding every 100 ops
    assert max(per_key.values()) < 200
    for op in ops:
        assert op["f"] in ("read", "write", "cas")
        if op["f"] == "cas":
            assert set(op["value"]) == {"key", "from", "to"}


def test_causal_generator_weighs_deliveries_per_send() -> None:
    history = simulate(clients(Limit(600, CausalGen(["a", "b"], deliver_weight=5))), seed=1)
    counts = Counter(op["f"] for op in invokes(history))
    assert 60 < counts["send"] < 140
    assert counts["deliver"] == 600 - counts["send"]


def test_failure_is_fail_when_definite_or_a_read_and_info_otherwise() -> None:
    write = {"f": "send", "value": {}}
    read = {"f": "poll", "value": {}}
    assert failure(write, ClientError("timeout", "x", definite=False))["type"] == "info"
    assert failure(write, ClientError("not-leader", "x", definite=True))["type"] == "fail"
    assert failure(read, ClientError("timeout", "x", definite=False))["type"] == "fail"


def test_clients_spread_over_nodes_and_values_decode() -> None:
    assert rotated(["a", "b", "c"], 4) == ["b", "c", "a"]
    assert decode(b"17") == 17
    assert decode(b"x\xff") == "x\ufffd"


def test_every_workload_names_checkers_that_exist() -> None:
    from harness.checkers.run import CHECKERS

    for name, make in WORKLOADS.items():
        workload = make(WorkloadOptions(addresses=["127.0.0.1:1"]), 3)
        assert workload.name == name
        assert set(workload.checkers) <= set(CHECKERS)
