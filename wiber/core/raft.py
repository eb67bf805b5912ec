"""`RaftCore`: the sans-I/O Raft state machine (etcd raft's RawNode, in Python).

Theory of operation. Inputs are values: `tick()`, `step(message)`, `propose(data)`,
`propose_conf_change(change)`, `campaign()`, `transfer_leadership(to)`, `read_index(context)`.
Each only changes memory and queues outputs. `ready()` gathers the outputs into one `Ready`
(entries and hard state to persist, messages to send, committed entries to apply, read states);
the runtime executes `plan(ready)` in order and then calls `advance(ready)`. Exactly one Ready
may be outstanding at a time.

The protocol: randomized election timeouts from the injected rng, PreVote, CheckQuorum with
the leader lease (a node that heard from a leader within an election timeout ignores
(pre)votes), the AppendEntries consistency check with fast back-off by term, commit only by
counting replicas of current-term entries (Raft paper, Figure 8), a NOOP entry per new leader,
batching and pipelining (see `progress.py`), InstallSnapshot for followers behind the
compacted prefix, one-at-a-time membership changes effective on append (see `confchange.py`),
leadership transfer with TimeoutNow, and ReadIndex (see `readonly.py`).

This module holds the public API, the Ready cycle and the message dispatch; the protocol's
parts live in `election`, `replication`, `membership` and `reads` (see `state.py`).
Decisions that tests break on purpose (`tests/mutants.py`) live in small methods here:
`_grant_vote`, `_record_vote`, `_may_commit`, `_hard_state`, `_committed_for_ready`.
"""

from __future__ import annotations

import random
from collections import deque

from wiber.core.confchange import apply_change, encode_change
from wiber.core.election import SNAPSHOT_RETRY_ELECTIONS, TRANSFER_CONTEXT, Elections
from wiber.core.errors import ProposalDropped
from wiber.core.log import RaftLog
from wiber.core.membership import Membership
from wiber.core.progress import ProgressState
from wiber.core.readonly import ReadOnly
from wiber.core.reads import Reads
from wiber.core.replication import Replication
from wiber.core.state import MT
from wiber.core.status import Status
from wiber.core.trace import Event, Tracer
from wiber.core.types import (
    Config,
    ConfigChange,
    Entry,
    EntryKind,
    HardState,
    LogStorage,
    Message,
    NodeId,
    ReadState,
    Ready,
    Role,
    SoftState,
)
from wiber.invariant import invariant


class RaftCore(Elections, Replication, Membership, Reads):
    def __init__(
        self, config: Config, storage: LogStorage, rng: random.Random, applied: int = 0
    ) -> None:
        invariant(config.election_ticks > config.heartbeat_ticks > 0, "bad tick config")
        self.id = config.id
        self.config = config
        self.rng = rng
        self.storage = storage
        hard_state, conf = storage.initial_state()
        self.log = RaftLog(storage, hard_state.commit, applied)
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.role = Role.FOLLOWER
        self.leader = None
        base = self.log.first_index() - 1
        self._confs = [(base, self.log.term(base), conf)]
        self._scan_confs(self.log.entries_between(base + 1, self.log.last_index() + 1))
        self.prs = {}
        self.votes = {}
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = config.election_ticks
        self.transferee = None
        self.readonly = ReadOnly()
        self._reads_waiting = []
        self._uncommitted = deque()
        self._uncommitted_bytes = 0
        self._msgs = []
        self._read_states = []
        self._flush_pending = False
        self._prev_hard = hard_state
        self._prev_soft = SoftState(self.role, None)
        self._ready_out = False
        self.stats = {"dropped": 0}
        self.tracer = Tracer(self)
        self._randomize_timeout()

    # -- public API -----------------------------------------------------------------------------

    def tick(self) -> None:
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self._tick_election()

    def step(self, m: Message) -> None:
        """Handle one message from a peer; bad input is counted in `stats` and dropped."""
        reason = self._invalid(m)
        if reason:
            self._drop(reason)
            return
        self.tracer.receive(m)
        if m.term > self.term:
            if not self._step_higher_term(m):
                return
        elif m.term < self.term:
            self._step_lower_term(m)
            return
        if m.type in (MT.PRE_VOTE, MT.VOTE):
            self._handle_vote_request(m)
        elif self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def propose(self, data: bytes) -> int:
        """Append `data` as a new entry; returns its index. Raises ProposalDropped."""
        self._check_can_propose()
        size = len(data) + 16
        if self._uncommitted_bytes and self._uncommitted_bytes + size > (
            self.config.max_uncommitted_bytes
        ):
            raise ProposalDropped("too-many-uncommitted", self.id)
        index = self._append_own(EntryKind.NORMAL, data)
        self._uncommitted.append((index, size))
        self._uncommitted_bytes += size
        return index

    def propose_conf_change(self, change: ConfigChange) -> int:
        self._check_can_propose()
        if self._confs[-1][0] > self.log.committed:
            raise ProposalDropped("pending-conf-change", self.id)
        if self.log.term(self.log.committed) != self.term:
            raise ProposalDropped("no-commit-in-term", self.id)
        result = apply_change(self.conf, change)
        if result == self.conf:
            raise ProposalDropped("no-op-change", self.id)
        if not result.voters:
            raise ProposalDropped("last-voter", self.id)
        return self._append_own(EntryKind.CONFIG, encode_change(change, result))

    def campaign(self) -> None:
        if self.role is Role.LEADER:
            return
        if not self._promotable():
            self._drop("campaign-not-voter")
            return
        self._start_election(pre_vote=self.config.pre_vote, transfer=False)

    def transfer_leadership(self, to: NodeId) -> None:
        if self.role is not Role.LEADER:
            raise ProposalDropped("not-leader", self.leader)
        if to == self.id or to == self.transferee:
            return
        if to not in self.conf.voters:
            raise ProposalDropped("transferee-not-voter", self.id)
        self.transferee = to
        self.election_elapsed = 0  # the transfer is abandoned after one election timeout
        if self.prs[to].match == self.log.last_index():
            self._send(MT.TIMEOUT_NOW, to)
        else:
            self._send_append(to)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; the answer is a ReadState in a later Ready."""
        if self.role is Role.LEADER:
            self._leader_read(context, self.id)
        elif self.leader is not None and self.role is Role.FOLLOWER:
            self._send(MT.READ_INDEX, self.leader, context=context)
        else:
            raise ProposalDropped("no-leader", None)

    def report_unreachable(self, peer: NodeId) -> None:
        pr = self.prs.get(peer)
        if self.role is Role.LEADER and pr is not None and pr.state is ProgressState.REPLICATE:
            pr.become_probe()

    def report_snapshot(self, peer: NodeId, ok: bool) -> None:
        pr = self.prs.get(peer)
        if self.role is not Role.LEADER or pr is None or pr.state is not ProgressState.SNAPSHOT:
            return
        if not ok:
            pr.pending_snapshot = 0
        pr.become_probe()
        pr.probe_sent = True  # wait for the next heartbeat answer before probing again

    def events(self) -> list[Event]:
        """Trace events since the last call (only while `tracer.enabled`; DESIGN.md 4.6)."""
        return self.tracer.take()

    def status(self) -> Status:
        progress = {n: pr.status() for n, pr in self.prs.items()} if self.prs else {}
        return Status(
            id=self.id,
            term=self.term,
            vote=self.vote,
            role=self.role,
            leader=self.leader,
            commit=self.log.committed,
            applied=self.log.applied,
            last_index=self.log.last_index(),
            conf=self.conf,
            progress=progress,
            transferee=self.transferee,
        )

    # -- the Ready cycle ------------------------------------------------------------------------

    def has_ready(self) -> bool:
        if self._ready_out:
            return False
        if self._flush_pending or self._msgs or self._read_states or self.log.has_work():
            return True
        soft = self._prev_soft
        if self.role is not soft.role or self.leader != soft.leader:
            return True
        return self._hard_state() != self._prev_hard

    def ready(self) -> Ready:
        invariant(not self._ready_out, "ready() called again before advance()")
        self._flush_proposals()
        entries = self.log.unhanded_entries()
        committed = self._committed_for_ready()
        hard = self._hard_state()
        changed = hard != self._prev_hard
        snapshot = self.log.pending_snapshot()
        rd = Ready(
            soft_state=self._soft_state(),
            hard_state=hard if changed else None,
            entries=tuple(entries),
            snapshot=snapshot,
            messages=tuple(self._msgs),
            committed=tuple(committed),
            read_states=tuple(self._read_states),
            must_sync=bool(entries)
            or snapshot is not None
            or hard.term != self._prev_hard.term
            or hard.vote != self._prev_hard.vote,
        )
        self.log.hand_out(entries, committed)
        self._msgs = []
        self._read_states = []
        self._prev_hard = hard
        self._prev_soft = rd.soft_state
        self._ready_out = True
        return rd

    def advance(self, rd: Ready) -> None:
        """The runtime executed `plan(rd)`: its writes are durable and its entries applied."""
        self._ready_out = False
        if rd.snapshot is not None:
            self.log.stable_snapshot_to(rd.snapshot.index)
        if rd.entries:
            self.log.stable_to(rd.entries[-1].index, rd.entries[-1].term)
        if rd.committed:
            self.log.applied_to(rd.committed[-1].index)
        while len(self._confs) > 1 and self._confs[1][0] <= self.log.applied:
            del self._confs[0]

    # -- decisions (overridden by the mutants in tests/mutants.py) ------------------------------

    def _grant_vote(self, m: Message) -> bool:
        """Raft 5.2 and 5.4.1: one vote per term, only for a log at least as up to date."""
        can_vote = (
            self.vote == m.src
            or (self.vote is None and self.leader is None)
            or (m.type is MT.PRE_VOTE and m.term > self.term)
        )
        return can_vote and self.log.is_up_to_date(m.index, m.log_term)

    def _record_vote(self, candidate: NodeId) -> None:
        self.vote = candidate

    def _may_commit(self, index: int) -> bool:
        """Raft 5.4.2 (Figure 8): only entries of the leader's term commit by counting."""
        return self.log.term(index) == self.term

    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def _committed_for_ready(self) -> list[Entry]:
        return self.log.next_to_apply(self.log.committed)

    # -- message handling -----------------------------------------------------------------------

    def _invalid(self, m: Message) -> str:
        if m.dst != self.id or m.src == self.id:
            return "misaddressed"
        if m.term < 0 or m.index < 0 or m.commit < 0:
            return "negative"
        if m.type is MT.SNAPSHOT and m.snapshot is None:
            return "snapshot-missing"
        for offset, entry in enumerate(m.entries):
            if entry.index != m.index + 1 + offset or entry.term > m.term:
                return "entries-out-of-order"
        return ""

    def _step_higher_term(self, m: Message) -> bool:
        """A message from a newer term; False when it is to be ignored."""
        if m.type in (MT.PRE_VOTE, MT.VOTE) and m.context != TRANSFER_CONTEXT and self._in_lease():
            # leader lease: a node that hears from a live leader does not help depose it
            self._drop("vote-in-lease")
            return False
        if m.type is MT.PRE_VOTE or (m.type is MT.PRE_VOTE_RESP and not m.reject):
            return True  # a pre-vote never changes anyone's term
        leader = m.src if m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT) else None
        self._become_follower(m.term, leader)
        return True

    def _step_lower_term(self, m: Message) -> None:
        guarded = self.config.check_quorum or self.config.pre_vote
        if m.type in (MT.APPEND, MT.HEARTBEAT) and guarded:
            # a stale leader learns our term and steps down (it cannot be revived by pre-vote)
            self._send(MT.APPEND_RESP, m.src)
        elif m.type is MT.PRE_VOTE:
            self._send(MT.PRE_VOTE_RESP, m.src, reject=True)
        else:
            self._drop("stale-term")

    def _step_follower(self, m: Message) -> None:
        if m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT):
            self.leader = m.src
            self.election_elapsed = 0
        if m.type is MT.APPEND:
            self._handle_append(m)
        elif m.type is MT.HEARTBEAT:
            self.log.commit_to(min(m.commit, self.log.last_index()))
            self._send(MT.HEARTBEAT_RESP, m.src, context=m.context)
        elif m.type is MT.SNAPSHOT and m.snapshot is not None:
            self._handle_snapshot(m.src, m.snapshot)
        elif m.type is MT.TIMEOUT_NOW and self._promotable():
            self._start_election(pre_vote=False, transfer=True)
        elif m.type is MT.READ_INDEX_RESP:
            self._read_states.append(ReadState(m.index, m.context))
        else:
            self._drop(f"follower-{m.type.value}")

    def _step_leader(self, m: Message) -> None:
        pr = self.prs.get(m.src)
        if m.type is MT.READ_INDEX:
            self._leader_read(m.context, m.src)
        elif pr is None:
            self._drop("unknown-peer")
        elif m.type is MT.APPEND_RESP and not m.reject and m.index > self.log.last_index():
            self._drop("ack-beyond-log")  # no follower can hold more than we sent
        elif m.type is MT.APPEND_RESP:
            pr.recent_active = True
            if m.reject:
                self._handle_append_reject(m, pr)
            else:
                self._handle_append_ack(m, pr)
        elif m.type is MT.HEARTBEAT_RESP:
            self._handle_heartbeat_resp(m, pr)
        else:
            self._drop(f"leader-{m.type.value}")

    # -- helpers --------------------------------------------------------------------------------

    def _check_can_propose(self) -> None:
        if self.role is not Role.LEADER:
            raise ProposalDropped("not-leader", self.leader)
        if self.transferee is not None:
            raise ProposalDropped("transferring", self.transferee)

    def _soft_state(self) -> SoftState:
        return SoftState(self.role, self.leader)


__all__ = ["SNAPSHOT_RETRY_ELECTIONS", "TRANSFER_CONTEXT", "ProposalDropped", "RaftCore"]
