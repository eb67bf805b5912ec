"""Each broken core in `tests/mutants.py` really breaks Raft: in a hand-driven scenario it
misbehaves where `RaftCore` does not, and the cluster checks name what it broke."""

from __future__ import annotations

import pytest

from tests.core.cluster import Cluster, SafetyViolation
from tests.core.interaction import InteractionEnv
from tests.core.scenarios import figure8, leaders, two_candidates_one_voter, vote_then_restart
from tests.mutants import (
    MUTANTS,
    AppliesBeforeCommit,
    CommitsPreviousTerm,
    DoubleVote,
    ForgetsToPersistVote,
)
from wiber.core.raft import RaftCore


def test_mutants_registry_names_every_mutant() -> None:
    assert set(MUTANTS.values()) == {
        CommitsPreviousTerm,
        DoubleVote,
        ForgetsToPersistVote,
        AppliesBeforeCommit,
    }
    assert all(issubclass(m, RaftCore) and m is not RaftCore for m in MUTANTS.values())


def test_double_vote_elects_two_leaders_in_one_term() -> None:
    assert leaders(two_candidates_one_voter(RaftCore)) == [("n1", 1)]
    assert sorted(leaders(two_candidates_one_voter(DoubleVote))) == [("n1", 1), ("n3", 1)]


def test_forgets_to_persist_vote_votes_twice_across_a_restart() -> None:
    assert leaders(vote_then_restart(RaftCore)) == [("n1", 2)]
    assert sorted(leaders(vote_then_restart(ForgetsToPersistVote))) == [("n1", 2), ("n3", 2)]


def test_forgets_to_persist_vote_sends_a_vote_its_ready_does_not_persist() -> None:
    env = vote_then_restart(ForgetsToPersistVote)
    assert env.nodes["n2"].storage.hard_state.vote is None


def _applied(env: InteractionEnv, name: str) -> list[tuple[int, int, bytes]]:
    return [(e.index, e.term, e.data) for e in env.nodes[name].applied]


def test_commits_previous_term_applies_an_entry_that_is_later_overwritten() -> None:
    good = figure8(RaftCore)
    assert (2, 1, b"old") not in _applied(good, "n1")
    bad = figure8(CommitsPreviousTerm)
    assert (2, 1, b"old") in _applied(bad, "n1")
    assert (2, 2, b"") in _applied(bad, "n3")


def test_applies_before_commit_hands_uncommitted_entries_to_apply() -> None:
    cluster = Cluster(3, seed=1, core_class=AppliesBeforeCommit)
    core = cluster.cores["n1"]
    assert core is not None
    core.campaign()
    rd = core.ready()
    core.advance(rd)
    cluster.cores["n1"] = core
    cluster.network.extend(rd.messages)
    with pytest.raises(SafetyViolation) as caught:
        cluster.heal_and_settle(20)
    assert caught.value.rule == "apply-before-commit"


@pytest.mark.parametrize(
    ("mutant", "rules"),
    [
        (DoubleVote, {"election-safety"}),
        (AppliesBeforeCommit, {"apply-before-commit"}),
    ],
)
def test_cluster_checks_catch_mutant_by_name(mutant: type[RaftCore], rules: set[str]) -> None:
    found: set[str] = set()
    for seed in range(20):
        cluster = Cluster(3, seed, mutant, pre_vote=False, check_quorum=False)
        try:
            cluster.run(800)
        except SafetyViolation as err:
            found.add(err.rule)
        if found:
            break
    assert found & rules
