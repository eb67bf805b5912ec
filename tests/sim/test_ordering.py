"""The time and causal-order checks of `wiber.sim.ordering`, fed known violations, and the
simulator's clocks: skew reaches the timestamps, the HLC survives restarts, nothing else moves.

Each check is fed the smallest stream that breaks it and expected to name the break; the same
stream without the break passes, so each test can fail both ways. Through the simulator, a
violation is reported under the check's name.
"""

from __future__ import annotations

from harness.checkers import causal as causal_checker
from tests.sim.clock_mutants import CLOCK_MUTANTS
from wiber.clocks.hlc import HybridClock, physical_ms
from wiber.core.types import Role
from wiber.sim.causal import delivery_ops
from wiber.sim.clock import EPOCH_MS, SimClock
from wiber.sim.node import SimNode
from wiber.sim.ordering import (
    CAUSAL_DELIVERY,
    HLC_MONOTONIC,
    CausalDelivery,
    Delivery,
    HlcMonotonicPerNode,
    TimestampMonotonicPerTopic,
)
from wiber.sim.simulator import SimOptions, Simulator, simulate

QUIET = frozenset[str]()
STARTS = {"a": 0, "b": 0}


# HLC Monotonic Per Node.
def test_a_node_issuing_a_value_again_is_caught() -> None:
    check = HlcMonotonicPerNode()
    assert check.issued("n1", 1, 100) is None
    assert check.issued("n2", 1, 50) is None, "nodes are checked apart"
    assert check.issued("n1", 1, 101) is None
    broken = check.issued("n1", 1, 101)
    assert broken is not None
    assert "n1" in broken


def test_a_node_going_back_across_a_restart_is_caught_and_said_so() -> None:
    check = HlcMonotonicPerNode()
    assert check.issued("n1", 1, 1 << 40) is None
    broken = check.issued("n1", 2, (1 << 40) - 5)
    assert broken is not None
    assert "across a restart" in broken


# Timestamp Monotonic Per Topic.
def test_a_timestamp_not_above_the_previous_offset_is_caught() -> None:
    check = TimestampMonotonicPerTopic()
    assert check.appended("n1", "a", 0, 3, 1000) is None  # offsets 0..2: 1000..1002
    assert check.appended("n1", "b", 0, 1, 5) is None, "topics are checked apart"
    broken = check.appended("n1", "a", 3, 1, 1002)
    assert broken is not None
    assert "a/3" in broken
    assert check.appended("n1", "a", 3, 1, 1003) is None


def test_nodes_giving_an_offset_different_timestamps_is_caught() -> None:
    check = TimestampMonotonicPerTopic()
    assert check.appended("n1", "a", 0, 2, 1000) is None
    assert check.appended("n2", "a", 0, 2, 1000) is None
    broken = check.appended("n3", "a", 1, 1, 1005)
    assert broken is not None
    assert "another node" in broken


def test_a_timestamp_not_below_the_next_offset_is_caught() -> None:
    check = TimestampMonotonicPerTopic()
    assert check.appended("n1", "a", 5, 1, 1000) is None  # restored from a snapshot
    broken = check.appended("n2", "a", 4, 1, 1000)
    assert broken is not None
    assert "not below" in broken


# Causal Delivery.
def test_an_effect_delivered_unmarked_before_its_cause_is_caught() -> None:
    check = CausalDelivery("s", STARTS)
    assert check.delivered(Delivery("a", 0, ())) is None
    broken = check.delivered(Delivery("b", 0, (("a", 1),)))
    assert broken is not None
    assert "before its cause a/1" in broken


def test_an_effect_delivered_after_its_cause_or_marked_passes() -> None:
    check = CausalDelivery("s", STARTS)
    assert check.delivered(Delivery("a", 0, ())) is None
    assert check.delivered(Delivery("b", 0, (("a", 0),))) is None
    assert check.delivered(Delivery("b", 1, (("a", 7),), frozenset({"missing-cause"}))) is None


def test_a_gap_in_a_topic_delivered_unmarked_is_caught() -> None:
    check = CausalDelivery("s", STARTS)
    assert check.delivered(Delivery("a", 0, ())) is None
    broken = check.delivered(Delivery("a", 2, ()))
    assert broken is not None
    assert "a/1" in broken


def test_causes_outside_what_the_subscriber_reads_do_not_count() -> None:
    check = CausalDelivery("s", {"a": 10})
    assert check.delivered(Delivery("a", 10, (("a", 3), ("c", 8)))) is None


def test_a_message_delivered_twice_or_never_is_caught() -> None:
    check = CausalDelivery("s", STARTS)
    assert check.delivered(Delivery("a", 0, ())) is None
    broken = check.delivered(Delivery("a", 0, ()))
    assert broken is not None
    assert "twice" in broken
    assert check.finished({"a": 1}) is None
    missing = check.finished({"a": 1, "b": 1})
    assert missing is not None
    assert "b/0" in missing


# Through the simulator.
def test_the_simulator_reports_a_node_whose_hlc_forgot_its_floor_by_name() -> None:
    sim = Simulator(SimOptions(seed=3, faults=QUIET, time_s=1.0))

    def forget() -> None:
        leader = sim.leader()
        assert leader is not None
        leader.hlc = HybridClock(leader.id, 500)  # a restart that lost its bound
        leader.clock.fault_offset_ms = -5_000

    sim.at(500_000, forget)
    result = sim.run()
    assert result.violation is not None
    assert result.violation.property == HLC_MONOTONIC


def test_the_hlc_stays_ahead_across_a_restart_after_the_clock_stepped_back() -> None:
    sim = Simulator(SimOptions(seed=4, faults=QUIET, time_s=1.0))
    before: list[int] = []
    after: list[int] = []

    def bump_stamp_crash() -> None:
        node = sim.nodes["n1"]
        node.clock.fault_offset_ms = 30_000  # beyond the HLC's lease: a new bound is persisted
        before.append(node.stamp())
        sim.crash(node, power_loss=True)
        node.clock.reset()
        sim.restart(node)
        after.append(node.stamp())

    sim.at(300_000, bump_stamp_crash)
    result = sim.run()
    assert result.ok, result.violation
    assert physical_ms(before[0]) >= EPOCH_MS + 30_000
    assert after[0] > before[0]


def test_a_skewed_leader_stamps_its_skew_and_timestamps_stay_monotonic() -> None:
    sim = Simulator(SimOptions(seed=5, faults=QUIET, time_s=1.0))

    def skew() -> None:
        for node in sim.nodes.values():
            node.clock.fault_offset_ms = 7_000 if node.role is Role.LEADER else -7_000

    def depose() -> None:
        leader = sim.leader()
        assert leader is not None
        assert leader.core is not None
        others = [n for n in sorted(sim.nodes) if n != leader.id]
        leader.core.transfer_leadership(others[0])
        sim.drain(leader)

    sim.at(200_000, skew)
    sim.at(500_000, depose)
    result = sim.run()
    assert result.ok, result.violation
    leader = sim.leader()
    assert leader is not None
    assert leader.machine is not None
    stamps = [m.hlc for t in ("t1", "t2") for m in leader.machine.read_messages(t, 0, 1000)]
    assert max(physical_ms(h) for h in stamps) >= EPOCH_MS + 7_000, "the skew reached stamps"
    assert len(sim.ghost.leaders) > 1, "a leader whose clock is behind took over"


def test_clock_readings_follow_offset_and_drift() -> None:
    clock = SimClock(base_offset_ms=5, drift_ppm=1000)
    assert clock.reading_ms(0) == EPOCH_MS + 5
    assert clock.reading_ms(1_000_000) == EPOCH_MS + 1001 + 5
    clock.fault_offset_ms = -3000
    assert clock.skewed
    assert clock.reading_ms(0) == EPOCH_MS - 2995
    clock.reset()
    assert not clock.skewed


def test_the_causal_workload_reorders_and_delivers_everything() -> None:
    result = simulate(0, faults="clock,crash,partition,transfer", time=1.0, causal=True)
    assert result.ok, result.violation
    assert result.stats["causal_acked"] > 10
    assert result.stats["causal_held"] > 0, "some effect arrived before its cause"
    for subscriber in result.subscribers:
        keys = [(d.topic, d.offset) for d in subscriber.deliveries]
        assert len(keys) == len(set(keys))
        assert any(d.deps for d in subscriber.deliveries)


def test_the_clock_nemesis_is_drawn_from_the_seed_and_named_in_the_history() -> None:
    first = simulate(7, faults="clock", time=1.0, causal=True)
    second = simulate(7, faults="clock", time=1.0, causal=True)
    assert first.history == second.history
    assert [s.deliveries for s in first.subscribers] == [s.deliveries for s in second.subscribers]
    clock_ops = [op for op in first.history if op["process"] == "nemesis"]
    assert any(op["value"].get("mode") in ("bump", "strobe") for op in clock_ops)


def test_the_harness_causal_checker_agrees_with_causal_delivery() -> None:
    """An independent judge of the same deliveries: valid with the real reorder buffer, and
    effect-before-cause where the early-releasing one broke Causal Delivery."""
    result = simulate(0, faults="clock,crash,partition,transfer", time=1.0, causal=True)
    assert result.ok, result.violation
    verdict = causal_checker.check(delivery_ops(result.subscribers))
    assert verdict["valid"] is True, verdict
    assert verdict["deliveries"] == result.stats["causal_delivered"]

    broken = simulate(
        0, faults="clock,transfer", time=1.0, causal=True, parts=CLOCK_MUTANTS["releases-early"]
    )
    assert broken.violation is not None
    assert broken.violation.property == CAUSAL_DELIVERY
    verdict = causal_checker.check(delivery_ops(broken.subscribers))
    assert verdict["valid"] is False
    assert "effect-before-cause" in verdict["anomalies"] or "missing-cause" in verdict["anomalies"]


def test_the_clock_nemesis_heals_every_clock_at_the_end_of_the_fault_phase() -> None:
    skewed_at_heal: list[bool] = []
    for seed in range(3):
        sim = Simulator(SimOptions(seed=seed, faults=frozenset({"clock"}), time_s=1.0))
        nodes = list(sim.nodes.values())

        def look(nodes: list[SimNode] = nodes) -> None:
            skewed_at_heal.append(any(node.clock.skewed for node in nodes))

        sim.at(999_000, look)
        result = sim.run()
        assert result.ok, result.violation
        assert not any(node.clock.skewed for node in nodes)
    assert any(skewed_at_heal), "some clock was still skewed just before the heal"
