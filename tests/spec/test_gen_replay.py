"""Model-based tests (issue 10): GenRaft.tla behaviours replayed into the core with the whole
mapped state compared after every step; random ones from TLC's simulation (elections and log
replication) and the targeted test purposes kept in tests/spec/fixtures; a broken core fails
them: each purpose catches the bug it is about at its last step."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.replay import (
    PURPOSES,
    ReplayMismatch,
    generate,
    parse_behaviour,
    parse_value,
    replay,
    replay_files,
)
from tests.mutants import CommitsPreviousTerm, DoubleVote
from wiber.core.raft import RaftCore
from wiber.core.state import MT
from wiber.core.types import Message

FIXTURES = Path(__file__).parent / "fixtures"
RANDOM_BEHAVIOURS, DEPTH, SEED = 100, 40, 1  # CI's pinned seed


class NoLogCheck(RaftCore):
    """Grants votes without the up-to-date check (Raft 5.4.1)."""

    def _grant_vote(self, m: Message) -> bool:
        return self.vote in (None, m.src) or m.term > self.term


class KeepsConflictingSuffix(RaftCore):
    """Acknowledges an append whose entries conflict with its log without replacing its own
    entries (the follower's log is never truncated)."""

    def _handle_append(self, m: Message) -> None:
        log = self.log
        conflict = any(
            e.index <= log.last_index() and not log.match_term(e.index, e.term) for e in m.entries
        )
        if conflict and m.index >= log.committed and log.match_term(m.index, m.log_term):
            self._send(MT.APPEND_RESP, m.src, index=m.index + len(m.entries))
            return
        super()._handle_append(m)


class CommitsOwnTermOnly(RaftCore):
    """Commits only while every entry it would commit is of its own term: over-correcting
    Figure 8, it never commits what earlier leaders left, and stalls after a term change."""

    def _may_commit(self, index: int) -> bool:
        first = self.log.committed + 1
        return all(self.log.term(k) == self.term for k in range(first, index + 1))


@pytest.fixture(scope="module")
def behaviours(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return generate(RANDOM_BEHAVIOURS, DEPTH, SEED, tmp_path_factory.mktemp("genraft"))


def test_tlc_values_parse() -> None:
    text = '[a |-> <<1, "x">>, b |-> {n1, n2}, c |-> (n1 :> TRUE @@ n2 :> FALSE), d |-> << >>]'
    assert parse_value(text) == {
        "a": (1, "x"),
        "b": frozenset({"n1", "n2"}),
        "c": {"n1": True, "n2": False},
        "d": (),
    }


def test_random_behaviours_replay_on_the_core(behaviours: list[Path]) -> None:
    assert len(behaviours) == RANDOM_BEHAVIOURS
    steps = replay_files(behaviours)
    assert steps > RANDOM_BEHAVIOURS * 5


def test_a_core_that_votes_twice_fails_random_behaviours(behaviours: list[Path]) -> None:
    failures = []
    for path in behaviours:
        try:
            replay(parse_behaviour(path.read_text()), DoubleVote)
        except ReplayMismatch as mismatch:
            failures.append(str(mismatch))
    assert failures
    assert any("vote-resp" in f for f in failures)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_test_purposes_replay_on_the_core(purpose: str) -> None:
    states = parse_behaviour((FIXTURES / f"{purpose}.behaviour").read_text())
    assert replay(states) == len(states) - 1 >= 3


def test_random_behaviours_replicate_and_commit(behaviours: list[Path]) -> None:
    """The random walks reach log replication, not only elections."""
    finals = [parse_behaviour(path.read_text())[-1] for path in behaviours]
    committed = [s for s in finals if max(s["commit"].values()) > 0]
    proposed = [
        s for s in finals if any(e["kind"] == "normal" for log in s["log"].values() for e in log)
    ]
    assert len(committed) > RANDOM_BEHAVIOURS // 4
    assert proposed


@pytest.mark.parametrize(
    ("purpose", "broken"),
    [
        ("TP_VoteDeniedByLog", NoLogCheck),
        ("TP_FollowerTruncates", KeepsConflictingSuffix),
        ("TP_CommitAfterTermChange", CommitsOwnTermOnly),
        ("TP_Figure8", CommitsPreviousTerm),
    ],
)
def test_a_test_purpose_catches_its_bug_at_its_last_step(
    purpose: str, broken: type[RaftCore]
) -> None:
    states = parse_behaviour((FIXTURES / f"{purpose}.behaviour").read_text())
    with pytest.raises(ReplayMismatch) as mismatch:
        replay(states, broken)
    assert mismatch.value.step == len(states) - 1  # the purpose's last step is the situation
