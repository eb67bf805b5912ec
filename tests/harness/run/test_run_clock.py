"""`harness run --workload causal --nemesis clock` on a real local cluster (issue 8).

The leader (it stamps every message) has its wall clock bumped 4 s forward, healed, then 4 s
backward, while three clients publish across three topics and subscribe to all of them.
Subscribers must never deliver an effect before its cause unmarked, each topic's HLCs must
strictly increase with the offset, and, with one stamping leader, an effect must be stamped
above its causes. A build whose leader stamps with its raw wall clock must be caught.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.db import FAKETIME_LIB
from tests.harness.run.test_run_local import EXIT, harness_run, latest_run, results_of

SKEW_S = 4.0
CLOCK_RUN = [
    "--workload", "causal", "--nemesis", "clock", "--nemesis-targets", "leader",
    "--nemesis-option", "kind=bump", "--nemesis-option", f"delta_ms=[{SKEW_S * 1000:.0f},"
    f"{-SKEW_S * 1000:.0f}]",
    # libfaketime rereads its offset file once a second: hold each skew for a few of those.
    "--time-limit", "10", "--fault-hold", "3.5", "--fault-quiet", "1", "--concurrency", "3",
    "--seed", "7",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not Path(FAKETIME_LIB).exists(), reason="needs libfaketime (Debian package faketime)"
)


def history_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def clock_offsets(history: list[dict[str, Any]]) -> list[tuple[list[str], float]]:
    """(targets, offset in s) of every clock bump the nemesis made."""
    return [
        (op["value"]["targets"], offset)
        for op in history
        if op["process"] == "nemesis" and op["type"] == "info" and op["f"] == "start"
        for offset in op["value"]["offsets_s"].values()
    ]


def stamps_ahead_s(run_dir: Path, history: list[dict[str, Any]]) -> list[float]:
    """How far each delivered message's HLC was ahead of the real time of its delivery."""
    started = float(json.loads((run_dir / "test.json").read_text())["started"])
    # Op times count from the interpreter's start, a little after test.json's `started`
    # (cluster up, install): that only makes the measured lead smaller.
    return [
        (op["value"]["hlc"] >> 16) / 1000 - (started + op["time"] / 1e9)
        for op in history
        if op["f"] == "deliver" and op["type"] == "ok"
    ]


def run_clock(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    done = harness_run(tmp_path, *CLOCK_RUN, *extra)
    return done, latest_run(tmp_path)


def test_causal_order_and_monotonic_stamps_hold_while_the_leaders_clock_jumps(
    tmp_path: Path,
) -> None:
    done, run_dir = run_clock(tmp_path)
    results = results_of(run_dir)
    causal = results["checkers"]["causal"]
    assert causal["valid"] is True, done.stdout + json.dumps(causal["anomalies"])[:2000]
    assert done.returncode == EXIT.get(results["valid"], 2), done.stdout + done.stderr
    # Not vacuous: causes crossed topics and were delivered first, and stamps were compared.
    assert causal["cross-topic-pairs"] >= 20, causal
    assert causal["timestamped"] >= 50, causal
    assert causal["causal-timestamps"] >= 10, causal
    history = history_of(run_dir)
    # The nemesis hit the leader, both ways...
    bumps = clock_offsets(history)
    assert {offset for _, offset in bumps} >= {SKEW_S, -SKEW_S}, bumps
    acked_by = {op["value"].get("acked_by") for op in history if op["f"] == "send"} - {None}
    assert all(set(targets) <= acked_by for targets, _ in bumps), (bumps, acked_by)
    # ...and it showed: stamps seconds ahead of real time while the clock ran fast, and a
    # logical counter climbing while it ran slow (the HLC holds its physical part instead of
    # stepping back).
    assert max(stamps_ahead_s(run_dir, history)) > SKEW_S - 1.5
    counters = [
        op["value"]["hlc"] & 0xFFFF for op in history if op["f"] == "deliver" and op["type"] == "ok"
    ]
    assert max(counters) >= 10, max(counters)


# One long backward step: while the raw clock is behind, the broker holds every topic at its
# last stamp (+1 per message), so each topic freezes at a different level and every effect
# published into a lower topic from a cause in a higher one is an inversion. Alternating
# +-4 s bumps leave only the moment of each step, and missed 1 run in 5; this caught every
# one of 3 runs with 37-104 inversions.
BROKEN_RUN = [
    "--workload", "causal", "--nemesis", "clock", "--nemesis-targets", "leader",
    "--nemesis-option", "kind=bump", "--nemesis-option", "delta_ms=[-6000]",
    "--time-limit", "10", "--fault-hold", "5", "--fault-quiet", "1", "--concurrency", "4",
    "--rate", "200", "--seed", "11", "--setting", "debug_fault=raw-clock-stamps",
]  # fmt: skip


def test_a_leader_stamping_with_its_raw_clock_is_caught(tmp_path: Path) -> None:
    done = harness_run(tmp_path, *BROKEN_RUN)
    run_dir = latest_run(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    causal = results_of(run_dir)["checkers"]["causal"]
    assert causal["causal-timestamps"] > 0, causal
    assert "timestamp-inversion" in causal["anomalies"], causal["anomalies"].keys()
    assert "timestamp-inversion\tcausal\t" in done.stdout
