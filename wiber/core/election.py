"""Elections: the tick-driven timeouts, PreVote and votes, CheckQuorum and the lease, and
every role change. Randomness (the election timeout) comes only from the injected rng."""

from __future__ import annotations

from wiber.core import quorum
from wiber.core.confchange import members
from wiber.core.progress import ProgressState
from wiber.core.state import MT, CoreState
from wiber.core.types import EntryKind, Message, NodeId, Role

TRANSFER_CONTEXT = b"transfer"  # marks (pre)votes that a leadership transfer asked for
SNAPSHOT_RETRY_ELECTIONS = 2  # election timeouts to wait for an InstallSnapshot ack


class Elections(CoreState):
    def _promotable(self) -> bool:
        if self.id in self.conf.voters:
            return True
        # A voter whose own removal (or demotion) is still uncommitted keeps campaigning: it
        # may hold the only copy of that change, and the remaining voters, whose logs are
        # behind, cannot be elected without it. It counts votes in its latest configuration
        # (which overlaps every other candidate's) and steps down once the change commits.
        latest, confs = self._confs[-1][0], self._confs
        return latest > self.log.committed and len(confs) > 1 and self.id in confs[-2][2].voters

    def _in_lease(self) -> bool:
        return (
            self.config.check_quorum
            and self.leader is not None
            and self.election_elapsed < self.config.election_ticks
        )

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self._promotable() and self.election_elapsed >= self.randomized_timeout:
            self.election_elapsed = 0
            self._start_election(pre_vote=self.config.pre_vote, transfer=False)

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.config.election_ticks:
            self.election_elapsed = 0
            if self.config.check_quorum and not self._quorum_active():
                self._become_follower(self.term, None)
                return
            self.transferee = None
        for pr in self.prs.values():
            if pr.state is ProgressState.SNAPSHOT:
                pr.snapshot_ticks += 1
                if pr.snapshot_ticks >= SNAPSHOT_RETRY_ELECTIONS * self.config.election_ticks:
                    pr.become_probe()  # the InstallSnapshot or its answer was lost
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat()

    def _quorum_active(self) -> bool:
        active = {node for node, pr in self.prs.items() if pr.recent_active or node == self.id}
        for pr in self.prs.values():
            pr.recent_active = False
        return quorum.has_quorum(self.conf.voters, active)

    def _start_election(self, *, pre_vote: bool, transfer: bool) -> None:
        if pre_vote:
            self._become_pre_candidate()
            kind, term = MT.PRE_VOTE, self.term + 1
        else:
            self._become_candidate()
            kind, term = MT.VOTE, self.term
        self.votes[self.id] = True
        if quorum.vote_result(self.conf.voters, self.votes) is quorum.VoteResult.WON:
            if pre_vote:
                self._start_election(pre_vote=False, transfer=transfer)
            else:
                self._become_leader()
            return
        context = TRANSFER_CONTEXT if transfer else b""
        index, log_term = self.log.last_index(), self.log.last_term()
        for voter in self.conf.voters:
            if voter != self.id:
                self._send(kind, voter, term=term, index=index, log_term=log_term, context=context)

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = None
        self.leader = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._randomize_timeout()
        self.transferee = None
        self.votes = {}
        self.prs = {}
        self.readonly.clear()
        self._reads_waiting = []
        self._uncommitted.clear()
        self._uncommitted_bytes = 0
        self._flush_pending = False

    def _become_follower(self, term: int, leader: NodeId | None) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.leader = leader
        self.tracer.note("become-follower")

    def _become_pre_candidate(self) -> None:
        self.role = Role.PRE_CANDIDATE
        self.leader = None
        self.votes = {}
        self.tracer.note("become-pre-candidate")

    def _become_candidate(self) -> None:
        self._reset(self.term + 1)
        self._record_vote(self.id)
        self.role = Role.CANDIDATE
        self.tracer.note("become-candidate")

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.role = Role.LEADER
        self.leader = self.id
        last = self.log.last_index()
        for node in members(self.conf):
            self._add_progress(node, last + 1)
        self.tracer.note("become-leader")
        self._append_own(EntryKind.NOOP, b"")

    def _randomize_timeout(self) -> None:
        ticks = self.config.election_ticks
        self.randomized_timeout = self.rng.randrange(ticks, 2 * ticks)

    def _handle_vote_request(self, m: Message) -> None:
        kind = MT.PRE_VOTE_RESP if m.type is MT.PRE_VOTE else MT.VOTE_RESP
        if self._grant_vote(m):
            if m.type is MT.VOTE:
                self.election_elapsed = 0
                self._record_vote(m.src)
            self._send(kind, m.src, term=m.term)
        else:
            self._send(kind, m.src, reject=True)

    def _step_candidate(self, m: Message) -> None:
        if m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT):
            self._become_follower(m.term, m.src)
            self._step_follower(m)
            return
        wanted = MT.PRE_VOTE_RESP if self.role is Role.PRE_CANDIDATE else MT.VOTE_RESP
        if m.type is not wanted:
            self._drop(f"candidate-{m.type.value}")
            return
        self.votes.setdefault(m.src, not m.reject)
        result = quorum.vote_result(self.conf.voters, self.votes)
        if result is quorum.VoteResult.WON:
            if self.role is Role.PRE_CANDIDATE:
                self._start_election(pre_vote=False, transfer=False)
            else:
                self._become_leader()
        elif result is quorum.VoteResult.LOST:
            self._become_follower(self.term, None)
