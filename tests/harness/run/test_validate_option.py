"""`harness sim --validate` and `harness run --validate` (issue 10): after the run's own
checkers, its event traces are checked against spec/Raft.tla and the verdict is reported as
the `trace-validation` checker; a trace Raft.tla cannot explain fails the run.

Each test runs TLC once on a trace of a few hundred events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import harness.commands.run as run_command
import tests.mutants
from harness.cli import main as harness_main
from harness.workloads.runner import Outcome, RunSpec
from wiber.core.raft import RaftCore
from wiber.core.types import NodeId

# Every fault kind but membership (`all` before membership was validated too): seed 0 has 2
# crashes, 2 terms, 558 events.
NO_MEMBERSHIP = "partition,crash,pause,disk,loss,duplicate,reorder,transfer,clock"
SIM = ["sim", "--seed", "0", "--time", "0.2", "--faults", NO_MEMBERSHIP, "--validate"]
# n4 is added, then the leader removes itself and steps down, and n4 is elected.
SIM_MEMBERSHIP = ["sim", "--seed", "8", "--time", "0.3", "--faults", "membership", "--validate"]
CLUSTER_RUN = Path(__file__).parents[2] / "spec" / "fixtures" / "cluster-run"


pytestmark = pytest.mark.usefixtures("tlc_available")


class KeepsVoteAcrossTerms(RaftCore):
    """Keeps the vote of an older term when a newer term makes it a follower, so it refuses
    the candidates of the new term. The simulator's checkers see no unsafe state (only a
    slower election); the trace shows a vote Raft.tla does not have."""

    def _become_follower(self, term: int, leader: NodeId | None) -> None:
        vote = self.vote
        super()._become_follower(term, leader)
        self.vote = vote


def test_sim_validate_accepts_a_faulty_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert harness_main(SIM) == 0
    out = capsys.readouterr().out
    assert "seed 0: " in out
    assert ": ok" in out
    assert "trace-validation: accepted (558 events)" in out


def test_sim_validate_rejects_a_broken_core(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(tests.mutants.MUTANTS, "keeps-vote", KeepsVoteAcrossTerms)
    assert harness_main([*SIM, "--core-variant", "keeps-vote"]) == 1
    out = capsys.readouterr().out
    assert ": ok" in out  # the simulator's own checkers pass it
    assert "trace-validation: rejected" in out
    rejected = next(line for line in out.splitlines() if "rejected at line" in line)
    record = json.loads(rejected.split(": ", 1)[1])
    assert record["msg"]["type"] == "vote-resp"
    assert record["msg"]["reject"] is True
    assert record["state"]["vote"] not in (None, record["msg"]["dst"])  # the kept vote


def test_sim_validate_accepts_membership_changes(capsys: pytest.CaptureFixture[str]) -> None:
    assert harness_main(SIM_MEMBERSHIP) == 0
    out = capsys.readouterr().out
    assert ": ok" in out
    assert "trace-validation: accepted" in out


def fake_execute(run_dir: Path, mutate: bool) -> Any:
    """`execute` for a run that already happened: the fixture's traces, a tiny history."""

    async def execute(spec: RunSpec) -> Outcome:
        shutil.copytree(CLUSTER_RUN, run_dir)
        if mutate:
            trace = run_dir / "nodes" / "n2" / "trace.jsonl"
            events = [json.loads(line) for line in trace.read_text().splitlines()]
            at = next(
                i
                for i, e in enumerate(events)
                if i > 100 and e["event"] == "receive" and e["state"]["role"] == "follower"
            )
            events[at]["state"]["term"] += 1
            trace.write_text("".join(json.dumps(e) + "\n" for e in events))
        ops = [
            {"index": 0, "time": 0, "type": "invoke", "process": 0, "f": "send", "value": 1},
            {"index": 1, "time": 10**6, "type": "ok", "process": 0, "f": "send", "value": 1},
        ]
        (run_dir / "history.jsonl").write_text("".join(json.dumps(op) + "\n" for op in ops))
        results = {"valid": True, "checkers": {"log": {"valid": True, "anomalies": {}}}}
        (run_dir / "results.json").write_text(json.dumps(results))
        return Outcome(True, results, run_dir, run_dir / "index.html")

    return execute


@pytest.mark.parametrize(
    "mutate",
    [  # the accepted fixture is also validated by tests/spec (harness validate)
        pytest.param(False, id="accepted", marks=pytest.mark.slow),
        pytest.param(True, id="mutated-rejected"),
    ],
)
def test_run_validate_puts_the_verdict_into_results_and_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mutate: bool,
) -> None:
    run_dir = tmp_path / "run"
    monkeypatch.setattr(run_command, "execute", fake_execute(run_dir, mutate))
    args = ["run", "--provider", "local", "--nodes", "3", "--store", str(tmp_path), "--validate"]
    assert harness_main(args) == (1 if mutate else 0)
    results = json.loads((run_dir / "results.json").read_text())
    checked = results["checkers"]["trace-validation"]
    assert results["checkers"]["log"]["valid"] is True  # the run's own checkers are kept
    assert checked["status"] == ("rejected" if mutate else "accepted")
    assert results["valid"] is (not mutate)
    page = (run_dir / "index.html").read_text()
    assert "trace-validation" in page
    out = capsys.readouterr().out
    assert f"valid\t{'false' if mutate else 'true'}" in out
    if mutate:
        assert "trace-rejected\ttrace-validation\t1" in out
        assert "trace-rejected" in page


def test_a_real_cluster_run_under_kill_is_validated(tmp_path: Path) -> None:
    """`harness run --validate` end to end on local processes: the nodes trace, the traces
    are merged and accepted, and the verdict is in results.json and the report. Short (3 s
    of operations, one kill) so that CI validates a live run every time."""
    from tests.harness.run.test_run_local import harness_run, latest_run

    done = harness_run(
        tmp_path, "--workload", "log", "--nemesis", "kill", "--seed", "11", "--validate",
        "--time-limit", "3",
    )  # fmt: skip
    run_dir = latest_run(tmp_path)
    results = json.loads((run_dir / "results.json").read_text())
    checked = results["checkers"]["trace-validation"]
    assert checked["status"] == "accepted", done.stderr[-3000:]
    assert checked["events"] > 300
    ops = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    killed = [
        op["value"]["killed"]
        for op in ops
        if op["process"] == "nemesis" and op["type"] == "info" and op["value"].get("killed")
    ]
    assert killed, "the run must have killed a node for its trace to show a restart"
    assert done.returncode == (0 if results["valid"] is True else 1), done.stdout
    assert "trace-validation" in (run_dir / "index.html").read_text()


@pytest.mark.slow
def test_a_real_cluster_run_under_membership_changes_is_validated(tmp_path: Path) -> None:
    """`harness run --nemesis membership --validate` on local processes: a voter is removed
    and added back through Raft, and the merged traces are accepted (25 to 65 s here)."""
    from tests.harness.run.test_run_local import harness_run, latest_run

    done = harness_run(
        tmp_path, "--workload", "log", "--nemesis", "membership", "--seed", "11", "--validate"
    )
    run_dir = latest_run(tmp_path)
    ops = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    changes = {
        op["value"]["action"]
        for op in ops
        if op["process"] == "nemesis" and op["type"] == "info" and op["value"].get("targets")
    }
    assert changes == {"remove", "add"}, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    checked = results["checkers"]["trace-validation"]
    assert checked["status"] == "accepted", done.stderr[-3000:]
    assert done.returncode == (0 if results["valid"] is True else 1), done.stdout
