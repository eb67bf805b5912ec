"""One test per safety rule of the Raft paper (Figure 3 and sections 5.2-5.4).

Method: the global properties (Election Safety, Leader Append-Only, Log Matching, Leader
Completeness, State Machine Safety) are checked by `tests/core/cluster.py` after every Ready
of randomized runs (reordering, loss, duplication, partitions, crashes, compaction, transfers,
reads), and each check is shown to fire on a hand-made violation. The local rules (Figure 8,
the up-to-date vote rule) are driven by hand.
"""

from __future__ import annotations

import random

import pytest

from tests.core.cluster import Cluster, SafetyViolation
from tests.core.scenarios import figure8, leaders
from wiber.core.memory import MemoryStorage
from wiber.core.raft import RaftCore
from wiber.core.types import Config, Entry, HardState, Message, MessageType, Role

SEEDS = range(6)
STEPS = 1200


def _fuzz(check_matching: bool = False) -> int:
    """Random runs over 3 and 5 nodes; returns how many terms had a leader (all must pass)."""
    terms = 0
    for seed in SEEDS:
        for size in (3, 5):
            cluster = Cluster(size, seed)
            cluster.run(STEPS)
            if check_matching:
                cluster.check_log_matching()
            cluster.heal_and_settle(150)
            if check_matching:
                cluster.check_log_matching()
            terms += len(cluster.leader_of_term)
    return terms


def test_election_safety_at_most_one_leader_per_term() -> None:
    assert _fuzz() > len(SEEDS) * 2  # leaders did change, and never two in one term


def test_election_safety_check_catches_two_leaders() -> None:
    cluster = Cluster(3, seed=0)
    cluster.leader_of_term[7] = "n2"
    core = cluster.cores["n1"]
    assert core is not None
    core.term, core.role = 7, Role.LEADER
    with pytest.raises(SafetyViolation, match="election-safety"):
        cluster.check("n1", core)


def test_leader_append_only_a_leader_never_overwrites_its_log() -> None:
    cluster = Cluster(3, seed=3)
    cluster.run(STEPS)
    cluster.heal_and_settle(100)
    leader = cluster.leader()
    assert leader is not None
    assert leader.term in cluster.leader_log
    last = leader.log.last_index()
    # a stale AppendEntries from an old leader with a conflicting entry changes nothing
    stale = Message(
        MessageType.APPEND,
        "n9",
        leader.id,
        leader.term - 1,
        index=last - 1,
        log_term=leader.log.term(last - 1),
        entries=(Entry(last, leader.term - 1, data=b"x"),),
    )
    leader.step(stale)
    assert leader.log.last_index() == last
    assert leader.log.term(last) == leader.term


def test_leader_append_only_check_catches_a_rewrite() -> None:
    cluster = Cluster(3, seed=0)
    cluster.heal_and_settle(60)
    leader = cluster.leader()
    assert leader is not None
    cluster.leader_log[leader.term][1] = 99
    with pytest.raises(SafetyViolation, match="leader-append-only"):
        cluster.check(leader.id, leader)


def test_log_matching_same_index_and_term_means_same_prefix() -> None:
    _fuzz(check_matching=True)


def test_log_matching_check_catches_divergent_prefix() -> None:
    cluster = Cluster(3, seed=0)
    for name, terms in (("n1", [1, 1, 2]), ("n2", [1, 2, 2])):
        cluster.storages[name].append(Entry(i + 1, t) for i, t in enumerate(terms))
        cluster.cores[name] = RaftCore(
            cluster.configs[name], cluster.storages[name], random.Random(0)
        )
    cluster.cores["n3"] = None
    with pytest.raises(SafetyViolation, match="log-matching"):
        cluster.check_log_matching()


def test_leader_completeness_new_leaders_hold_every_committed_entry() -> None:
    assert _fuzz() > 0


def test_leader_completeness_check_catches_a_missing_entry() -> None:
    cluster = Cluster(3, seed=0)
    cluster.committed[1] = (5, b"never written")
    core = cluster.cores["n1"]
    assert core is not None
    core.campaign()
    with pytest.raises(SafetyViolation, match="leader-completeness"):
        cluster.heal_and_settle(60)


def test_state_machine_safety_no_two_nodes_apply_different_entries_at_an_index() -> None:
    total_applied = 0
    for seed in SEEDS:
        cluster = Cluster(3, seed)
        cluster.run(STEPS)
        cluster.heal_and_settle(150)
        total_applied += len(cluster.applied)
    assert total_applied > len(SEEDS) * 5


def test_state_machine_safety_check_catches_divergent_apply() -> None:
    cluster = Cluster(3, seed=0)
    cluster.heal_and_settle(60)
    cluster.applied[1] = (1, b"a")
    with pytest.raises(SafetyViolation, match="state-machine-safety"):
        cluster._check_apply("n2", (Entry(1, 1, data=b"b"),))


def test_figure8_previous_term_entry_is_not_committed_by_counting_replicas() -> None:
    env = figure8(RaftCore)
    applied_n1 = [(e.index, e.term) for e in env.nodes["n1"].applied]
    assert (2, 1) not in applied_n1  # "old" reached a majority in term 3 yet never committed
    assert leaders(env) == [("n2", 4)]
    n3 = env.core("n3")
    assert n3.log.term(2) == 2
    assert n3.log.committed >= 2


def test_vote_not_granted_to_a_less_up_to_date_log() -> None:
    storage = MemoryStorage(["n1", "n2", "n3"])
    storage.append([Entry(1, 1), Entry(2, 2)])
    storage.set_hard_state(HardState(term=2))
    core = RaftCore(Config("n1", pre_vote=False, check_quorum=False), storage, random.Random(0))

    def ask(last_index: int, last_term: int, term: int) -> bool:
        core.step(Message(MessageType.VOTE, "n2", "n1", term, index=last_index, log_term=last_term))
        rd = core.ready()
        core.advance(rd)
        (resp,) = rd.messages
        return not resp.reject

    assert not ask(5, 1, 3)  # longer log, older last term
    assert not ask(1, 2, 4)  # same last term, shorter log
    assert ask(2, 2, 5)  # as up to date
    assert core.vote == "n2"
