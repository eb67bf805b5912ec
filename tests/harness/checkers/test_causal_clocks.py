"""The causal checker's marks and timestamps: what the reorder buffer says it did early, and
the leader-stamped HLCs that subscribers record (the causal workload under a clock nemesis)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import causal
from tests.harness.checkers.builder import History

Deps = list[list[Any]]


def send(h: History, p: Any, topic: str, value: int, offset: int, deps: Deps, node: Any) -> None:
    h.call(p, "send", {"topic": topic, "value": value}, offset=offset, deps=deps, acked_by=node)


def deliver(
    h: History, p: Any, topic: str, offset: int, value: int, deps: Deps, hlc: int, **extra: Any
) -> None:
    h.invoke(p, "deliver", {"topics": ["q", "a"]})
    done = {"topic": topic, "offset": offset, "value": value, "deps": deps, "hlc": hlc, **extra}
    h.complete(p, "deliver", done)


def conversation(q_hlc: int = 100, a_hlc: int = 200, second_node: str = "n1") -> History:
    """p0 asks on q (q:0); p1 reads it and answers on a (a:0, depending on q:0); p5 reads both."""
    h = History()
    send(h, 0, "q", 1, 0, [], "n1")
    deliver(h, 1, "q", 0, 1, [], q_hlc)
    send(h, 1, "a", 2, 0, [["q", 0]], second_node)
    deliver(h, 5, "q", 0, 1, [], q_hlc)
    deliver(h, 5, "a", 0, 2, [["q", 0]], a_hlc)
    return h


def test_a_clean_conversation_checks_timestamps_along_causality() -> None:
    result = causal.check(conversation().ops)
    assert result["valid"] is True, result
    assert result["causal-timestamps"] == 1
    assert result["timestamped"] == 2
    assert result["cross-topic-pairs"] == 1  # p5 delivered a:0 after its cause q:0


def regression() -> History:
    h = History()
    send(h, 0, "q", 1, 0, [], "n1")
    send(h, 0, "q", 2, 1, [], "n1")
    deliver(h, 5, "q", 0, 1, [], 300)
    deliver(h, 5, "q", 1, 2, [], 300)  # the same HLC as the offset before it
    return h


def inconsistent() -> History:
    h = conversation()
    deliver(h, 6, "q", 0, 1, [], 101)  # another subscriber sees q:0 with another HLC
    return h


def inversion() -> History:
    return conversation(q_hlc=300, a_hlc=200)  # the answer stamped below its question


CASES = {
    "timestamp-regression": regression,
    "inconsistent-timestamps": inconsistent,
    "timestamp-inversion": inversion,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_timestamp_anomaly_is_caught_by_name(name: str) -> None:
    result = causal.check(CASES[name]().ops)
    assert result["valid"] is False
    assert name in result["anomalies"], result["anomalies"]


def test_regression_witness_names_both_offsets() -> None:
    [w] = causal.check(regression().ops)["anomalies"]["timestamp-regression"]
    assert w == {"earlier": ["q", 0, 300], "later": ["q", 1, 300]}


def test_inversion_witness_names_cause_and_effect() -> None:
    [w] = causal.check(inversion().ops)["anomalies"]["timestamp-inversion"]
    assert (w["cause"], w["effect"], w["node"]) == (["q", 0, 300], ["a", 0, 200], "n1")


def test_inversion_is_not_judged_across_leaders() -> None:
    # a:0 acknowledged by another node: timestamps need not follow causality across failover.
    result = causal.check(conversation(q_hlc=300, a_hlc=200, second_node="n2").ops)
    assert result["valid"] is True, result
    assert result["causal-timestamps"] == 0


def raised_cause(q1_hlc: int) -> History:
    """q:0 from an indeterminate send (stamper unknown), q:1 by n1 causes a:0 by n1."""
    h = History()
    h.call(2, "send", {"topic": "q", "value": 9}, "info")
    send(h, 0, "q", 1, 1, [], "n1")
    deliver(h, 1, "q", 0, 9, [], 300)
    deliver(h, 1, "q", 1, 1, [], q1_hlc)
    send(h, 1, "a", 2, 0, [["q", 1]], "n1")
    deliver(h, 5, "q", 0, 9, [], 300)
    deliver(h, 5, "q", 1, 1, [], q1_hlc)
    deliver(h, 5, "a", 0, 2, [["q", 1]], 200)
    return h


def test_inversion_is_not_judged_when_the_cause_may_have_been_raised_by_the_broker() -> None:
    # q:1's HLC is q:0's + 1: the broker may have raised n1's stamp to it, so it says nothing
    # about n1's clock.
    result = causal.check(raised_cause(301).ops)
    assert result["valid"] is True, result
    assert result["causal-timestamps"] == 0


def test_inversion_is_judged_when_the_cause_jumped_past_its_predecessor() -> None:
    result = causal.check(raised_cause(310).ops)
    assert result["causal-timestamps"] == 1
    assert "timestamp-inversion" in result["anomalies"]


def early_answer(marks: list[str] | None) -> History:
    """p5 delivers the answer before the question; `marks` is what its buffer said."""
    h = History()
    send(h, 0, "q", 1, 0, [], "n1")
    deliver(h, 1, "q", 0, 1, [], 100)
    send(h, 1, "a", 2, 0, [["q", 0]], "n1")
    extra = {} if marks is None else {"marks": marks, "missing": [["q", 0]]}
    deliver(h, 5, "a", 0, 2, [["q", 0]], 200, **extra)
    deliver(h, 5, "q", 0, 1, [], 100, **({} if marks is None else {"marks": ["late"]}))
    return h


def test_an_effect_delivered_early_with_the_missing_cause_mark_is_counted_not_an_anomaly() -> None:
    result = causal.check(early_answer(["missing-cause"]).ops)
    assert result["valid"] is True, result
    assert result["marked"] == 1


def test_an_effect_delivered_early_without_the_mark_is_an_anomaly() -> None:
    result = causal.check(early_answer(None).ops)
    assert "effect-before-cause" in result["anomalies"]
    assert result["marked"] == 0


def test_a_late_mark_does_not_excuse_an_effect_delivered_before_its_cause() -> None:
    result = causal.check(early_answer(["late"]).ops)
    assert "effect-before-cause" in result["anomalies"]


def test_late_deliveries_stay_out_of_the_order_comparison() -> None:
    h = History()
    send(h, 0, "q", 1, 0, [], "n1")
    send(h, 0, "q", 2, 1, [], "n1")
    deliver(h, 5, "q", 0, 1, [], 100)
    deliver(h, 5, "q", 1, 2, [], 101)
    deliver(h, 6, "q", 1, 2, [], 101, marks=["missing-cause"], missing=[["q", 0]])
    deliver(h, 6, "q", 0, 1, [], 100, marks=["late"])
    result = causal.check(h.ops)
    assert result["valid"] is True, result
    # Without the mark, the same two orders disagree.
    h.ops[-1]["value"].pop("marks")
    assert "order-disagreement" in causal.check(h.ops)["anomalies"]


def carried_conversation(
    q_hlc: int = 100, a_hlc: int = 200, carried: int = 100, second_node: str = "n2"
) -> History:
    """The conversation by producers that carry the largest stamp they saw (as the causal
    producer does): the answer is judged against its question whichever node stamped it."""
    h = History()
    h.call(0, "send", {"topic": "q", "value": 1}, offset=0, deps=[], acked_by="n1",
           carried_hlc=0, hlc=q_hlc)  # fmt: skip
    deliver(h, 1, "q", 0, 1, [], q_hlc)
    h.call(1, "send", {"topic": "a", "value": 2}, offset=0, deps=[["q", 0]],
           acked_by=second_node, carried_hlc=carried, hlc=a_hlc)  # fmt: skip
    deliver(h, 5, "q", 0, 1, [], q_hlc)
    deliver(h, 5, "a", 0, 2, [["q", 0]], a_hlc)
    return h


def test_carried_stamps_make_causality_judged_across_leaders() -> None:
    clean = causal.check(carried_conversation().ops)
    assert clean["valid"] is True, clean
    assert clean["causal-timestamps"] == 3  # q:0 and a:0 against what they carried, a:0 vs q:0
    # The same inversion that goes unjudged without carried stamps (see above) is caught.
    inverted = causal.check(carried_conversation(q_hlc=300, a_hlc=200, carried=300).ops)
    assert inverted["valid"] is False
    witnesses = inverted["anomalies"]["timestamp-inversion"]
    assert {"cause": ["q", 0, 300], "effect": ["a", 0, 200], "node": "n2"} in witnesses
    assert {"effect": ["a", 0, 200], "carried": 300} in witnesses


def test_an_effect_stamped_below_what_its_producer_carried_is_caught() -> None:
    result = causal.check(carried_conversation(a_hlc=200, carried=250).ops)
    assert result["anomalies"]["timestamp-inversion"] == [{"effect": ["a", 0, 200], "carried": 250}]


def test_one_send_without_a_carried_stamp_falls_back_to_one_node_judgement() -> None:
    h = carried_conversation(q_hlc=300, a_hlc=200, carried=300)
    send(h, 7, "q", 3, 1, [], "n2")  # an older client: no carried_hlc
    result = causal.check(h.ops)
    assert "timestamp-inversion" not in result["anomalies"], result["anomalies"]
