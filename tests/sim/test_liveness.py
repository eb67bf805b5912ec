"""After the faults heal, a leader must appear within a bounded virtual time and every entry a
client got into a log must be decided. Cores that stall are caught by name."""

from __future__ import annotations

from wiber.core.raft import RaftCore
from wiber.core.types import EntryKind
from wiber.sim.simulator import simulate


class NeverCampaigns(RaftCore):
    def tick(self) -> None:
        """Time stands still: no election timeout ever fires."""


class NeverCommits(RaftCore):
    def _may_commit(self, index: int) -> bool:
        return False


class CommitsOnlyNoops(RaftCore):
    """Elects and commits its no-op, then never commits a client's entry."""

    def _may_commit(self, index: int) -> bool:
        entry = self.log.entries_between(index, index + 1)[0]
        return super()._may_commit(index) and entry.kind is EntryKind.NOOP


def test_a_cluster_that_never_elects_a_leader_fails_liveness() -> None:
    result = simulate(0, faults="none", time=0.5, core_factory=NeverCampaigns)
    assert result.violation is not None
    assert result.violation.property == "Liveness"
    assert "no leader" in result.violation.detail


def test_a_leader_that_cannot_commit_fails_liveness() -> None:
    result = simulate(0, faults="none", time=0.5, core_factory=NeverCommits)
    assert result.violation is not None
    assert result.violation.property == "Liveness"
    assert "committed nothing" in result.violation.detail


def test_proposals_that_never_commit_fail_liveness() -> None:
    result = simulate(0, faults="none", time=0.5, core_factory=CommitsOnlyNoops)
    assert result.violation is not None
    assert result.violation.property == "Liveness"
    assert "undecided" in result.violation.detail


def test_a_healthy_core_is_live_after_every_fault_kind_heals() -> None:
    result = simulate(3, nodes=5, faults="all", time=1.5)
    assert result.ok, result.violation
