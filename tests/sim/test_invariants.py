"""Every safety check of `wiber.sim.invariants`, fed a hand-made cluster state that breaks it.

Method: build the smallest state that violates one property and nothing checked before it,
run `check()` (the simulator's entry point) and expect the violation by its property's name;
a healthy state of the same shape passes, so each test can fail both ways.
"""

from __future__ import annotations

from wiber.core.types import Entry, Role
from wiber.sim.invariants import (
    CHECKS,
    ClusterState,
    Ghost,
    LogView,
    NodeView,
    check,
)

F, L = Role.FOLLOWER, Role.LEADER


def entry(index: int, term: int, data: str = "") -> Entry:
    return Entry(index, term, data=(data or f"{index}/{term}").encode())


def log(*entries: Entry, base: int = 0, base_term: int = 0) -> LogView:
    return LogView(base, base_term, list(entries))


def node(
    name: str,
    role: Role = F,
    term: int = 1,
    commit: int = 0,
    entries: LogView | None = None,
    applied: LogView | None = None,
    incarnation: int = 1,
) -> NodeView:
    return NodeView(name, True, incarnation, role, term, commit, entries or log(), applied or log())


E1, E2, E3 = entry(1, 1), entry(2, 1), entry(3, 1)


def healthy(ghost: Ghost | None = None) -> ClusterState:
    ghost = ghost or Ghost(committed=[E1, E2], commit_terms=[1, 1])
    return ClusterState(
        [
            node("n1", L, 1, 2, log(E1, E2, E3), log(E1, E2)),
            node("n2", F, 1, 2, log(E1, E2), log(E1)),
            node("n3", F, 1, 1, log(E1), log(E1)),
        ],
        ghost,
    )


def test_a_healthy_cluster_passes_every_check() -> None:
    assert check(healthy()) is None
    assert set(CHECKS) == {
        "Election Safety",
        "Leader Append-Only",
        "Log Matching",
        "Leader Completeness",
        "State Machine Safety",
        "Commit Index Never Decreases",
        "Acknowledged Entry Never Lost",
    }


def test_election_safety_catches_a_second_leader_in_a_term() -> None:
    state = healthy()
    state.ghost.leaders[1] = {"n3"}  # n3 led term 1 earlier; now n1 leads term 1 too
    violation = check(state)
    assert violation is not None
    assert violation.property == "Election Safety"
    assert "n1" in violation.detail
    assert "n3" in violation.detail


def test_leader_append_only_catches_a_leader_that_shrank_its_log() -> None:
    state = healthy()
    state.ghost.leader_marks["n1"] = (1, 1, 4, entry(4, 1))  # n1 had 4 entries, now 3
    violation = check(state)
    assert violation is not None
    assert violation.property == "Leader Append-Only"


def test_leader_append_only_catches_a_leader_that_overwrote_an_entry() -> None:
    state = healthy()
    state.ghost.leader_marks["n1"] = (1, 1, 3, entry(3, 1, "other"))
    violation = check(state)
    assert violation is not None
    assert violation.property == "Leader Append-Only"


def test_leader_append_only_ignores_a_new_term_or_incarnation() -> None:
    state = healthy()
    state.ghost.leader_marks["n1"] = (0, 1, 9, entry(9, 1))  # an earlier incarnation
    assert check(state) is None


def test_log_matching_catches_logs_that_agree_at_an_index_but_differ_below() -> None:
    a = log(E1, entry(2, 1, "x"), entry(3, 2, "same"))
    b = log(E1, entry(2, 1, "y"), entry(3, 2, "same"))
    state = ClusterState([node("n1", F, 2, 1, a, log(E1)), node("n2", F, 2, 1, b, log(E1))],
                         Ghost(committed=[E1], commit_terms=[1]))  # fmt: skip
    violation = check(state)
    assert violation is not None
    assert violation.property == "Log Matching"


def test_log_matching_accepts_diverging_uncommitted_suffixes() -> None:
    a = log(E1, entry(2, 1, "x"))
    b = log(E1, entry(2, 2, "y"))
    state = ClusterState([node("n1", F, 2, 1, a, log(E1)), node("n2", F, 2, 1, b, log(E1))],
                         Ghost(committed=[E1], commit_terms=[1]))  # fmt: skip
    assert check(state) is None


def test_leader_completeness_catches_a_leader_missing_a_committed_entry() -> None:
    ghost = Ghost(committed=[E1, E2], commit_terms=[1, 1])
    state = ClusterState(
        [
            node("n1", F, 2, 2, log(E1, E2), log(E1, E2)),
            node("n2", L, 2, 1, log(E1, entry(2, 2, "new")), log(E1)),
        ],
        ghost,
    )
    violation = check(state)
    assert violation is not None
    assert violation.property == "Leader Completeness"


def test_leader_completeness_does_not_bind_leaders_of_the_commit_term() -> None:
    # An entry first seen committed in term 2 binds leaders of term 3 on, not a stale one of 2.
    ghost = Ghost(committed=[E1, entry(2, 2)], commit_terms=[1, 2])
    state = ClusterState([node("n2", L, 2, 1, log(E1), log(E1))], ghost)
    assert check(state) is None


def test_state_machine_safety_catches_a_node_applying_a_different_entry() -> None:
    state = healthy()
    state.nodes[2] = node("n3", F, 1, 1, log(E1), log(entry(1, 1, "other")))
    violation = check(state)
    assert violation is not None
    assert violation.property == "State Machine Safety"


def test_state_machine_safety_catches_applying_past_every_commit() -> None:
    state = healthy()
    state.nodes[0] = node("n1", L, 1, 2, log(E1, E2, E3), log(E1, E2, E3))
    violation = check(state)
    assert violation is not None
    assert violation.property == "State Machine Safety"


def test_commit_index_never_decreases_within_an_incarnation() -> None:
    state = healthy()
    state.ghost.commit_marks["n2"] = (1, 3)  # n2 had commit 3; now 2, same incarnation
    violation = check(state)
    assert violation is not None
    assert violation.property == "Commit Index Never Decreases"


def test_commit_index_may_restart_lower_after_a_crash() -> None:
    state = healthy()
    state.ghost.commit_marks["n2"] = (0, 3)  # that was the previous incarnation
    assert check(state) is None


def test_acknowledged_entry_never_lost_catches_an_ack_that_is_not_committed() -> None:
    state = healthy()
    state.ghost.acked.append(E3)  # a client got ok for entry 3, but nobody committed it
    violation = check(state)
    assert violation is not None
    assert violation.property == "Acknowledged Entry Never Lost"


def test_acknowledged_entry_never_lost_catches_a_later_leader_without_it() -> None:
    ghost = Ghost(committed=[E1, E2], commit_terms=[1, 1], acked=[E2])
    leader = node("n2", L, 2, 1, log(E1, entry(2, 2)), log(E1))
    detail = CHECKS["Acknowledged Entry Never Lost"](ClusterState([leader], ghost))
    assert detail is not None
    assert "n2" in detail


def test_acknowledged_entry_never_lost_catches_it_missing_from_the_applied_state() -> None:
    ghost = Ghost(committed=[E1, E2], commit_terms=[1, 1], acked=[E2])
    follower = node("n3", F, 1, 2, log(E1, E2), log(E1, entry(2, 1, "other")))
    detail = CHECKS["Acknowledged Entry Never Lost"](ClusterState([follower], ghost))
    assert detail is not None
    assert "n3" in detail


def test_the_ghost_learns_commits_and_leaders_from_the_nodes() -> None:
    ghost = Ghost()
    state = healthy(ghost)
    assert check(state) is None
    assert ghost.committed == [E1, E2]
    assert ghost.leaders == {1: {"n1"}}
    assert ghost.leader_marks["n1"] == (1, 1, 3, E3)


def test_unchanged_nodes_are_skipped_but_changed_ones_are_checked() -> None:
    state = healthy()
    for view in state.nodes:
        view.signature = (1,)
    assert check(state) is None
    nodes = list(state.nodes)
    nodes[2] = node("n3", F, 1, 1, log(E1), log(entry(1, 1, "x")))
    nodes[2].signature = (2,)  # changed since the last passing check
    violation = check(ClusterState(nodes, state.ghost))
    assert violation is not None
    assert violation.property == "State Machine Safety"
