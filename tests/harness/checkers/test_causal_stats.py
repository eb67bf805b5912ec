"""The causal checker, stats, perf and the checker runner."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import causal, stats
from harness.checkers.calls import nemesis_intervals, pair_calls
from harness.checkers.run import choose_checkers, guess_model, run_checkers, worst
from harness.history import Op
from tests.harness.checkers.builder import History


def send(h: History, p: Any, topic: str, value: int, offset: int, deps: list[list[Any]]) -> History:
    return h.call(p, "send", {"topic": topic, "value": value, "deps": deps}, offset=offset)


def deliver(
    h: History, p: Any, topic: str, offset: int, value: int, deps: list[list[Any]]
) -> History:
    h.invoke(p, "deliver", {"topic": topic})
    return h.complete(
        p, "deliver", {"topic": topic, "offset": offset, "value": value, "deps": deps}
    )


def conversation() -> History:
    """p0 posts a question on q; p1 reads it and answers on a (so the answer depends on it)."""
    h = History()
    send(h, 0, "q", 1, 0, [])
    deliver(h, 1, "q", 0, 1, [])
    send(h, 1, "a", 2, 0, [["q", 0]])
    return h


def test_causal_valid_history() -> None:
    h = conversation()
    deliver(h, 5, "q", 0, 1, [])
    deliver(h, 5, "a", 0, 2, [["q", 0]])
    deliver(h, 6, "a", 0, 2, [["q", 0]])  # p6 reads only a: no cause to wait for
    result = causal.check(h.ops)
    assert result["valid"] is True, result
    assert result["subscribers"] == 3


CAUSAL_CASES: dict[str, History] = {}
h = conversation()
deliver(h, 5, "a", 0, 2, [["q", 0]])
deliver(h, 5, "q", 0, 1, [])
CAUSAL_CASES["effect-before-cause"] = h
h = conversation()
deliver(h, 5, "a", 0, 2, [["q", 0]])
deliver(h, 5, "q", 1, 9, [])  # subscribes to q but never gets q:0
send(h, 0, "q", 9, 1, [])
CAUSAL_CASES["missing-cause"] = h
h = History()
send(h, 0, "t", 1, 0, [])
send(h, 0, "t", 2, 1, [])
deliver(h, 5, "t", 0, 1, [])
deliver(h, 5, "t", 1, 2, [])
deliver(h, 6, "t", 1, 2, [])
deliver(h, 6, "t", 0, 1, [])
CAUSAL_CASES["order-disagreement"] = h
h = History()
send(h, 0, "t", 1, 0, [])
deliver(h, 5, "t", 0, 7, [])
CAUSAL_CASES["inconsistent-offsets"] = h
h = History()
send(h, 0, "t", 1, 0, [])
deliver(h, 5, "t", 0, 1, [])
deliver(h, 5, "t", 0, 1, [])
CAUSAL_CASES["duplicate-delivery"] = h
h = History()
send(h, 0, "t", 1, 0, [["u", 0]])
send(h, 1, "u", 2, 0, [["t", 0]])
CAUSAL_CASES["causal-cycle"] = h


@pytest.mark.parametrize("name", sorted(CAUSAL_CASES))
def test_each_causal_anomaly_is_caught_by_name(name: str) -> None:
    result = causal.check(CAUSAL_CASES[name].ops)
    assert result["valid"] is False
    assert name in result["anomalies"], result["anomalies"]


def test_causal_witness_names_cause_and_effect() -> None:
    [w] = causal.check(CAUSAL_CASES["effect-before-cause"].ops)["anomalies"]["effect-before-cause"]
    assert (w["subscriber"], w["effect"], w["cause"]) == (5, ["a", 0], ["q", 0])
    assert w["cause_op"]["f"] == "deliver"


def test_program_order_is_a_cause() -> None:
    h = History()
    send(h, 0, "t", 1, 0, [])
    send(h, 0, "u", 2, 0, [])  # no declared deps: the same producer sent t:0 first
    deliver(h, 5, "u", 0, 2, [])
    deliver(h, 5, "t", 0, 1, [])
    assert "effect-before-cause" in causal.check(h.ops)["anomalies"]


def test_stats_and_perf() -> None:
    h = History().nemesis("start")
    h.send(0, "t", 1, 0).send(0, "t", 2, None, "fail").send(1, "t", 3, None, "info")
    h.nemesis("stop").poll(2, "t", 0, [[0, 1]])
    s = stats.stats(h.ops)
    assert s["by_f"]["send"] == {"ok": 1, "fail": 1, "info": 1, "count": 3}
    assert (s["ok"], s["fail"], s["info"], s["never_ok"]) == (2, 1, 1, [])
    p = stats.perf(h.ops)
    assert p["latency_ms"]["send"]["count"] == 1
    assert p["latency_ms"]["send"]["0.5"] == 1.0  # the builder spaces ops 1 ms apart
    [period] = p["nemesis"]
    assert period["nemesis"] == "partition"
    assert period["completed"] == 3
    assert stats.stats([])["valid"] == "unknown"


def test_nemesis_intervals_pair_start_and_stop() -> None:
    h = History().nemesis("start").nemesis("start").nemesis("stop").nemesis("start", "kill")
    intervals = nemesis_intervals(h.ops)
    assert [(i.name, i.start, i.stop) for i in intervals] == [
        ("partition", 0, 2_000_000),
        ("kill", 3_000_000, None),
    ]


def test_unfinished_call_counts_as_info() -> None:
    h = History().invoke(0, "read", {"key": "x"}).invoke(1, "read", {"key": "x"})
    h.invoke(0, "read", {"key": "x"})
    assert [c.type for c in pair_calls(h.ops)] == ["info", "info", "info"]


def test_runner_picks_checkers_and_merges_worst() -> None:
    register: list[Op] = History().call(0, "cas", {"key": "x", "from": 1, "to": 2}).ops
    assert guess_model(register) == "cas-register"
    assert choose_checkers(register) == ["linearizable", "stats", "perf"]
    assert choose_checkers(History().send(0, "t", 1, 0).ops)[0] == "log"
    assert choose_checkers(CAUSAL_CASES["causal-cycle"].ops)[0] == "causal"
    out = run_checkers(register, ["linearizable", "stats", "nope"], {})
    assert out["checkers"]["linearizable"]["valid"] is False
    assert out["checkers"]["nope"]["valid"] == "unknown"
    assert out["valid"] is False
    assert worst([True, "unknown"]) == "unknown"
    assert worst([True, True]) is True


def test_a_crashing_checker_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checkers import run

    def boom(history: list[Op], opts: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(run.CHECKERS, "stats", boom)
    out = run_checkers([], ["stats"], {})
    assert out["valid"] == "unknown"
    assert "boom" in out["checkers"]["stats"]["reason"]
