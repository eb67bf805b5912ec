"""Deliberately broken Raft cores: each breaks one safety rule, so that the tests (and the
simulator, `wiber/sim`) can show they notice. `MUTANTS` maps a name to the broken class.

Each overrides exactly one of the small decision methods of `RaftCore`.
"""

from __future__ import annotations

from wiber.core.raft import RaftCore
from wiber.core.types import Entry, HardState, Message


class CommitsPreviousTerm(RaftCore):
    """Counts replicas of an entry from an earlier term as committing it (Raft paper Figure 8:
    such an entry can still be overwritten by a leader that never had it)."""

    def _may_commit(self, index: int) -> bool:
        return True


class DoubleVote(RaftCore):
    """Grants every up-to-date candidate its vote, even after voting for another one in the
    same term (two leaders in one term)."""

    def _grant_vote(self, m: Message) -> bool:
        return self.log.is_up_to_date(m.index, m.log_term)


class ForgetsToPersistVote(RaftCore):
    """Never puts its vote in the Ready's hard state, so the vote response leaves before the
    vote is on disk; after a restart the node votes again in the same term."""

    def _hard_state(self) -> HardState:
        return HardState(self.term, None, self.log.committed)


class AppliesBeforeCommit(RaftCore):
    """Hands entries to the state machine as soon as they are in its log, committed or not."""

    def _committed_for_ready(self) -> list[Entry]:
        return self.log.next_to_apply(self.log.last_index())


MUTANTS: dict[str, type[RaftCore]] = {
    "commits-previous-term": CommitsPreviousTerm,
    "double-vote": DoubleVote,
    "forgets-to-persist-vote": ForgetsToPersistVote,
    "applies-before-commit": AppliesBeforeCommit,
}
