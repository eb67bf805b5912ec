"""Model-based tests (issue 10): GenRaft.tla behaviours replayed into the core with the whole
mapped state compared after every step; random ones from TLC's simulation and the targeted
test purposes kept in tests/spec/fixtures; a broken core fails them."""

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
from tests.mutants import DoubleVote
from wiber.core.raft import RaftCore
from wiber.core.types import Message

FIXTURES = Path(__file__).parent / "fixtures"
RANDOM_BEHAVIOURS, DEPTH, SEED = 200, 40, 1  # CI's pinned seed


class NoLogCheck(RaftCore):
    """Grants votes without the up-to-date check (Raft 5.4.1)."""

    def _grant_vote(self, m: Message) -> bool:
        return self.vote in (None, m.src) or m.term > self.term


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


def test_the_vote_denied_by_the_log_check_catches_a_core_without_it() -> None:
    states = parse_behaviour((FIXTURES / "TP_VoteDeniedByLog.behaviour").read_text())
    with pytest.raises(ReplayMismatch) as mismatch:
        replay(states, NoLogCheck)
    assert mismatch.value.step == len(states) - 1  # the purpose's last step is the denial
