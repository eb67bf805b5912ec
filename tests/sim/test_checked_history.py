"""A simulated history passes the harness's log checker (the two speak DESIGN.md 4.3), and the
checker catches a lost acknowledged publish planted in the same history."""

from __future__ import annotations

import copy

import pytest

from harness.checkers import log
from wiber.sim.simulator import simulate


@pytest.mark.parametrize(("seed", "nodes"), [(4, 5), (7, 3)])
def test_simulated_histories_are_valid_for_the_log_checker(seed: int, nodes: int) -> None:
    result = simulate(seed, nodes=nodes, time=1.0)
    assert result.ok, result.violation
    verdict = log.check(result.history)
    assert verdict["valid"] is True, verdict["anomalies"]


def test_the_log_checker_sees_a_publish_the_final_reads_lost() -> None:
    history = copy.deepcopy(simulate(7, time=1.0).history)
    sent = next(op for op in history if op["f"] == "send" and op["type"] == "ok")
    for op in history:
        if op["f"] == "poll" and op["type"] == "ok":
            op["value"]["msgs"] = [m for m in op["value"]["msgs"] if m[1] != sent["value"]["value"]]
    verdict = log.check(history)
    assert verdict["valid"] is False
    assert "lost-write" in verdict["anomalies"]
