"""TraceRaft.tla against the core's own event traces (issue 10): faulty runs are accepted,
mutated traces are rejected at the mutated line, and a core that votes twice is caught.

Each test runs TLC once (seconds to tens of seconds on this shared machine)."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main as harness_main
from spec.trace import Event, TracedCores, Verdict, validate_events
from tests.core.cluster import Cluster, SafetyViolation
from tests.mutants import DoubleVote
from wiber.core.raft import RaftCore
from wiber.sim import simulate

FAULTY_SEED, FAULTY_STEPS = 3, 600  # drops, duplicates, partitions, crashes, transfers, reads
DOUBLE_VOTE_SEED = 4  # the mutant grants a second vote in a term within 60 steps


class NoMembership(Cluster):
    """Raft.tla's trace configuration has Membership off."""

    def change_membership(self) -> None:
        return


def record(seed: int, steps: int, core_class: type[RaftCore] = RaftCore) -> list[Event]:
    cores = TracedCores(core_class)
    cluster = NoMembership(3, seed, cores)  # type: ignore[arg-type]
    with contextlib.suppress(SafetyViolation):  # a broken core: validate what it did so far
        cluster.run(steps)
    return cores.events


@pytest.fixture(scope="module")
def faulty() -> list[Event]:
    return record(FAULTY_SEED, FAULTY_STEPS)


def first(events: list[Event], wanted: Callable[[Event], bool], after: int = 10) -> int:
    return next(i for i, e in enumerate(events) if i >= after and wanted(e))


def rejected_at(verdict: Verdict) -> int | None:
    assert verdict.status == "rejected", verdict.summary() + verdict.output[-2000:]
    return verdict.line


def test_a_faulty_cluster_run_is_accepted(faulty: list[Event]) -> None:
    verdict = validate_events(faulty)
    assert verdict.status == "accepted", verdict.summary() + verdict.output[-2000:]
    assert verdict.events == len(faulty) > 200
    kinds = {e["msg"]["type"] for e in faulty if "msg" in e}
    assert {"pre-vote", "vote", "append", "heartbeat"} <= kinds


def follower(e: Event) -> bool:
    return bool(e.get("state", {}).get("role") == "follower")


def leader(e: Event) -> bool:
    return bool(e.get("state", {}).get("role") == "leader")


def test_term_bumped_is_rejected_at_that_line(faulty: list[Event]) -> None:
    mutated = copy.deepcopy(faulty)
    at = first(mutated, lambda e: e["event"] == "send" and follower(e))
    mutated[at]["state"]["term"] += 1
    assert rejected_at(validate_events(mutated)) == at + 1


def test_commit_raised_is_rejected_at_that_line(faulty: list[Event]) -> None:
    mutated = copy.deepcopy(faulty)
    at = first(mutated, lambda e: e["event"] == "receive" and follower(e))
    mutated[at]["state"]["commit"] += 1
    assert rejected_at(validate_events(mutated)) == at + 1


def test_vote_flipped_is_rejected_at_that_line(faulty: list[Event]) -> None:
    mutated = copy.deepcopy(faulty)
    at = first(mutated, lambda e: e["event"] == "receive" and follower(e) and e["state"]["vote"])
    voted = mutated[at]["state"]["vote"]
    mutated[at]["state"]["vote"] = next(n for n in ("n1", "n2", "n3") if n != voted)
    assert rejected_at(validate_events(mutated)) == at + 1


def test_entry_changed_is_rejected_at_that_line(faulty: list[Event]) -> None:
    mutated = copy.deepcopy(faulty)
    at = first(
        mutated,
        lambda e: e["event"] == "send" and e["msg"]["type"] == "append" and e["msg"]["index"] > 0,
    )
    mutated[at]["msg"]["log_term"] += 1  # the term of the entry before the batch
    assert rejected_at(validate_events(mutated)) == at + 1


def test_a_core_that_votes_twice_in_a_term_is_rejected_where_it_does() -> None:
    events = record(DOUBLE_VOTE_SEED, 60, DoubleVote)
    verdict = validate_events(events)
    line = rejected_at(verdict)
    assert line is not None
    assert verdict.record is not None
    record_ = verdict.record
    assert record_["event"] == "send"
    assert record_["msg"]["type"] == "vote-resp"
    assert record_["msg"]["reject"] is False
    assert record_["state"]["vote"] == record_["msg"]["dst"]  # the core voted again
    # the request it answers found it already voting for another node (itself, perhaps)
    asked = next(
        e
        for e in reversed(events[: line - 1])
        if e["node"] == record_["node"] and e["event"] == "receive"
    )
    assert asked["msg"]["term"] == asked["state"]["term"] == record_["msg"]["term"]
    assert asked["state"]["vote"] not in (None, record_["msg"]["dst"])


SIM_SEED = 5  # three crashes and restarts, two leaders, pre-vote off (a swarm profile)
SIM_FAULTS = frozenset({"partition", "crash", "loss", "duplicate", "reorder", "transfer", "pause"})


def test_a_simulator_run_with_faults_is_accepted() -> None:
    cores = TracedCores()
    simulate(SIM_SEED, faults=SIM_FAULTS, time=0.3, core_factory=cores, clients=1)
    assert sum(e["event"] == "restart" for e in cores.events) >= 2
    verdict = validate_events(cores.events)
    assert verdict.status == "accepted", verdict.summary() + verdict.output[-2000:]


MEMBERSHIP_SEED = 8  # n4 added; the leader n3 removes itself, steps down; n4 is elected


@pytest.fixture(scope="module")
def membership() -> list[Event]:
    cores = TracedCores()
    simulate(MEMBERSHIP_SEED, faults=frozenset({"membership"}), time=0.3, core_factory=cores)
    return cores.events


def config_changes(events: list[Event]) -> list[tuple[int, str, set[str], set[str]]]:
    """(line, node, before, after) for every line at which a node's configuration changed."""
    changes: list[tuple[int, str, set[str], set[str]]] = []
    last: dict[str, set[str]] = {}
    for at, e in enumerate(events):
        voters = set(e["voters"])
        if e["node"] in last and last[e["node"]] != voters:
            changes.append((at, e["node"], last[e["node"]], voters))
        last[e["node"]] = voters
    return changes


def test_a_simulator_run_with_membership_changes_is_accepted(membership: list[Event]) -> None:
    led = [(n, a, b) for at, n, a, b in config_changes(membership) if leader(membership[at])]
    assert any(b > a for _, a, b in led), led  # a voter added
    assert any(b < a and n in a - b for n, a, b in led), led  # the leader removed itself
    assert any(e["event"] == "send" and "config_indexes" in e["msg"] for e in membership)
    verdict = validate_events(membership)
    assert verdict.status == "accepted", verdict.summary() + verdict.output[-2000:]


def test_a_configuration_never_received_is_rejected_at_that_line(
    membership: list[Event],
) -> None:
    """A follower shows the configuration the leader is about to send it, one line early:
    the receive of the append that carries the change."""
    mutated = copy.deepcopy(membership)
    at, node, before, after = next(c for c in config_changes(mutated) if follower(mutated[c[0]]))
    early = max(i for i in range(at) if mutated[i]["node"] == node)
    assert mutated[early]["event"] == "receive"
    assert "config_indexes" in mutated[early]["msg"]
    mutated[early]["voters"] = sorted(after)
    verdict = validate_events(mutated)
    assert rejected_at(verdict) == early + 1
    assert spec_voters(verdict.spec_state) == before  # its log holds no change yet


def spec_voters(state: str) -> set[str]:
    """The configuration in the Stuck diagnostic's spec state."""
    found = re.search(r"voters \|-> \{([^}]*)\}", state)
    assert found is not None, state
    return set(re.findall(r'"([^"]+)"', found.group(1)))


CLUSTER_RUN = Path(__file__).parent / "fixtures" / "cluster-run"  # `wiber cluster up --trace`


def test_harness_validate_accepts_a_real_cluster_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(CLUSTER_RUN, run)
    (run / "results.json").write_text(json.dumps({"valid": True, "checkers": {}}))
    assert harness_main(["validate", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["checkers"]["trace-validation"]["status"] == "accepted"
    assert results["valid"] is True


def test_harness_validate_rejects_a_mutated_real_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(CLUSTER_RUN, run)
    trace = run / "nodes" / "n2" / "trace.jsonl"
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    at = first(events, lambda e: e["event"] == "receive" and follower(e), after=100)
    events[at]["state"]["commit"] += 5
    trace.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert harness_main(["validate", str(run)]) == 1
    result = json.loads((run / "results.json").read_text())["checkers"]["trace-validation"]
    assert (
        result["anomalies"]["trace-rejected"][0]["record"]["state"]["commit"]
        == (events[at]["state"]["commit"])
    )
