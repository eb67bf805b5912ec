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

Decisions that tests break on purpose (`tests/mutants.py`) live in small methods:
`_grant_vote`, `_record_vote`, `_may_commit`, `_hard_state`, `_committed_for_ready`.
"""

from __future__ import annotations

import random
from collections import deque

from wiber.core import quorum
from wiber.core.confchange import apply_change, decode_result, encode_change, members
from wiber.core.errors import ProposalDropped
from wiber.core.log import RaftLog, entry_size
from wiber.core.progress import Progress, ProgressState
from wiber.core.readonly import ReadOnly, ReadRequest
from wiber.core.status import Status
from wiber.core.trace import Event, Tracer
from wiber.core.types import (
    CompactedError,
    Config,
    ConfigChange,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    LogStorage,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SoftState,
    UnavailableError,
)
from wiber.invariant import invariant

MT = MessageType
TRANSFER_CONTEXT = b"transfer"  # marks (pre)votes that a leadership transfer asked for
SNAPSHOT_RETRY_ELECTIONS = 2  # election timeouts to wait for an InstallSnapshot ack


class RaftCore:
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
        self.leader: NodeId | None = None
        base = self.log.first_index() - 1
        # (index, term, conf) of each config entry in the log's tail, oldest first
        self._confs: list[tuple[int, int, ConfState]] = [(base, self.log.term(base), conf)]
        self._scan_confs(self.log.entries_between(base + 1, self.log.last_index() + 1))
        self.prs: dict[NodeId, Progress] = {}
        self.votes: dict[NodeId, bool] = {}
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = config.election_ticks
        self.transferee: NodeId | None = None
        self.readonly = ReadOnly()
        self._reads_waiting: list[tuple[bytes, NodeId]] = []  # until a commit in our term
        self._uncommitted: deque[tuple[int, int]] = deque()  # (index, size) of own proposals
        self._uncommitted_bytes = 0
        self._msgs: list[Message] = []
        self._read_states: list[ReadState] = []
        self._flush_pending = False
        self._prev_hard = hard_state
        self._prev_soft = SoftState(self.role, None)
        self._ready_out = False
        self.stats: dict[str, int] = {"dropped": 0}
        self.tracer = Tracer(self)
        self._randomize_timeout()

    # -- public API -----------------------------------------------------------------------------

    @property
    def conf(self) -> ConfState:
        return self._confs[-1][2]

    def conf_at(self, index: int) -> ConfState:
        """The configuration in force at `index` (for snapshots taken at the applied index)."""
        for at, _, conf in reversed(self._confs):
            if at <= index:
                return conf
        return self._confs[0][2]

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

    def _handle_vote_request(self, m: Message) -> None:
        kind = MT.PRE_VOTE_RESP if m.type is MT.PRE_VOTE else MT.VOTE_RESP
        if self._grant_vote(m):
            if m.type is MT.VOTE:
                self.election_elapsed = 0
                self._record_vote(m.src)
            self._send(kind, m.src, term=m.term)
        else:
            self._send(kind, m.src, reject=True)

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

    def _step_leader(self, m: Message) -> None:
        pr = self.prs.get(m.src)
        if m.type is MT.READ_INDEX:
            self._leader_read(m.context, m.src)
        elif pr is None:
            self._drop("unknown-peer")
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

    # -- followers: log replication -------------------------------------------------------------

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._send(MT.APPEND_RESP, m.src, index=self.log.committed)
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._refresh_confs(m.entries)
            self._send(MT.APPEND_RESP, m.src, index=last_new)
            return
        hint = self.log.find_conflict_by_term(min(m.index, self.log.last_index()), m.log_term)
        self._send(
            MT.APPEND_RESP,
            m.src,
            index=m.index,
            reject=True,
            reject_hint=hint,
            hint_term=self.log.term_or_zero(hint),
        )

    def _handle_snapshot(self, src: NodeId, snap: Snapshot) -> None:
        if snap.index <= self.log.committed:
            index = self.log.committed
        elif self.log.match_term(snap.index, snap.term):
            self.log.commit_to(snap.index)  # we have its entries: fast-forward only
            index = self.log.committed
        else:
            self.log.restore(snap)
            self._confs = [(snap.index, snap.term, snap.conf)]
            index = snap.index
        self._send(MT.APPEND_RESP, src, index=index)

    # -- leaders: log replication ---------------------------------------------------------------

    def _append_own(self, kind: EntryKind, data: bytes) -> int:
        index = self.log.last_index() + 1
        entry = Entry(index, self.term, kind, data)
        self.log.append([entry])
        if self.id in self.prs:
            self.prs[self.id].maybe_update(index)
        if kind is EntryKind.CONFIG:
            self._refresh_confs((entry,))
        self._flush_pending = True  # one AppendEntries per follower per Ready, not per proposal
        if self._maybe_commit():
            self._after_commit()
        return index

    def _flush_proposals(self) -> None:
        if self._flush_pending and self.role is Role.LEADER:
            self._bcast_append()
        self._flush_pending = False

    def _bcast_append(self) -> None:
        for peer in self.prs:
            if peer != self.id and self._send_append(peer):
                # pipelining: fill the follower's window with the rest of the backlog
                while self._send_append(peer, send_if_empty=False):
                    pass

    def _send_append(self, to: NodeId, send_if_empty: bool = True) -> bool:
        pr = self.prs[to]
        if pr.is_paused():
            return False
        prev = pr.next - 1
        try:
            prev_term = self.log.term(prev)
            entries = self.log.entries(pr.next, self.config.max_append_bytes)
        except CompactedError:
            return self._send_snapshot(to, pr)
        except UnavailableError:
            pr.become_probe()  # our idea of its position ran past our log: start over
            return False
        if not entries and not send_if_empty:
            return False
        self._send(
            MT.APPEND,
            to,
            index=prev,
            log_term=prev_term,
            entries=tuple(entries),
            commit=self.log.committed,
        )
        last_sent = entries[-1].index if entries else prev
        pr.sent_entries(last_sent, len(entries))
        pr.sent_commit = max(pr.sent_commit, min(self.log.committed, last_sent))
        return True

    def _send_snapshot(self, to: NodeId, pr: Progress) -> bool:
        snap = self.storage.snapshot()
        invariant(snap.index >= self.log.first_index() - 1, "snapshot older than the log start")
        self._send(MT.SNAPSHOT, to, snapshot=snap)
        pr.become_snapshot(snap.index)
        return True

    def _handle_append_reject(self, m: Message, pr: Progress) -> None:
        hint = m.reject_hint
        if m.hint_term > 0:
            # skip every entry of ours whose term cannot match the follower's at that index
            hint = self.log.find_conflict_by_term(m.reject_hint, m.hint_term)
        if pr.maybe_decrease(m.index, hint):
            if pr.state is ProgressState.REPLICATE:
                pr.become_probe()
            self._send_append(m.src)

    def _handle_append_ack(self, m: Message, pr: Progress) -> None:
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            if was_paused and pr.state is not ProgressState.SNAPSHOT:
                self._send_append(m.src, send_if_empty=False)
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        if self._maybe_commit():
            self._bcast_append()
            self._after_commit()
        else:
            sent = False
            while self._send_append(m.src, send_if_empty=False):
                sent = True
            if not sent and pr.sent_commit < min(pr.match, self.log.committed):
                self._send_append(m.src)  # only to tell it the commit index
        transferee_ready = m.src == self.transferee and pr.match == self.log.last_index()
        if self.role is Role.LEADER and transferee_ready:
            self._send(MT.TIMEOUT_NOW, m.src)

    def _handle_heartbeat_resp(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state is ProgressState.REPLICATE and pr.inflight_full():
            pr.inflight.popleft()  # a full window of lost appends must not stall it forever
        if pr.match < self.log.last_index():
            # even an empty append helps: if appends were lost the follower rejects it, and
            # the reject moves this follower back to probing
            self._send_append(m.src)
        if m.context:
            self._ack_read(m.context, m.src)

    def _maybe_commit(self) -> bool:
        match = {node: pr.match for node, pr in self.prs.items()}
        index = quorum.committed_index(self.conf.voters, match)
        if index > self.log.committed and self._may_commit(index):
            return self.log.commit_to(index)
        return False

    def _after_commit(self) -> None:
        """Bookkeeping once a leader's commit index moved."""
        committed = self.log.committed
        while self._uncommitted and self._uncommitted[0][0] <= committed:
            self._uncommitted_bytes -= self._uncommitted.popleft()[1]
        if self._reads_waiting and self._committed_in_term():
            waiting, self._reads_waiting = self._reads_waiting, []
            for context, requester in waiting:
                self._leader_read(context, requester)
        if self.id not in self.conf.voters and self._confs[-1][0] <= committed:
            # removed (or demoted) leader: its removal is committed, so it steps aside
            self._become_follower(self.term, None)

    # -- elections ------------------------------------------------------------------------------

    def _promotable(self) -> bool:
        return self.id in self.conf.voters

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

    # -- membership -----------------------------------------------------------------------------

    def _refresh_confs(self, entries: tuple[Entry, ...]) -> None:
        """Forget configs whose entries were truncated, then adopt new config entries."""
        while len(self._confs) > 1 and not self.log.match_term(*self._confs[-1][:2]):
            self._confs.pop()
        self._scan_confs(entries)
        if self.role is Role.LEADER:
            self._sync_progress()

    def _scan_confs(self, entries: tuple[Entry, ...] | list[Entry]) -> None:
        for entry in entries:
            if entry.kind is not EntryKind.CONFIG or entry.index <= self._confs[-1][0]:
                continue
            if not self.log.match_term(entry.index, entry.term):
                continue
            try:
                conf = decode_result(entry.data, self.conf)
            except ValueError:
                self._drop("bad-conf-entry")  # kept in the log, but changes nothing
                continue
            self._confs.append((entry.index, entry.term, conf))

    def _sync_progress(self) -> None:
        conf = self.conf
        for node in members(conf):
            if node not in self.prs:
                self._add_progress(node, self.log.last_index())
            self.prs[node].learner = node in conf.learners
        for node in [n for n in self.prs if n not in members(conf)]:
            del self.prs[node]

    def _add_progress(self, node: NodeId, next_index: int) -> None:
        pr = Progress(next_index, self.config.max_inflight, node in self.conf.learners)
        if node == self.id:
            pr.match = self.log.last_index()
            pr.recent_active = True
            pr.become_replicate()
        self.prs[node] = pr

    # -- reads ----------------------------------------------------------------------------------

    def _committed_in_term(self) -> bool:
        return self.log.term_or_zero(self.log.committed) == self.term

    def _leader_read(self, context: bytes, requester: NodeId) -> None:
        if not self._committed_in_term():
            # until an entry of this term commits, our commit index may be behind the real one
            self._reads_waiting.append((context, requester))
            return
        request = ReadRequest(self.log.committed, context, requester)
        if quorum.has_quorum(self.conf.voters, {self.id}):
            self._serve_read(request)
        elif self.readonly.add(self.log.committed, context, requester):
            self._bcast_heartbeat(context)

    def _ack_read(self, context: bytes, voter: NodeId) -> None:
        request = self.readonly.ack(context, voter)
        if request is None or not quorum.has_quorum(self.conf.voters, request.acks | {self.id}):
            return
        for done in self.readonly.release(request):
            self._serve_read(done)

    def _serve_read(self, request: ReadRequest) -> None:
        if request.requester == self.id:
            self._read_states.append(ReadState(request.index, request.context))
        else:
            self._send(
                MT.READ_INDEX_RESP, request.requester, index=request.index, context=request.context
            )

    def _bcast_heartbeat(self, context: bytes | None = None) -> None:
        if context is None:
            context = self.readonly.last_context()
        for peer, pr in self.prs.items():
            if peer != self.id:
                commit = min(pr.match, self.log.committed)
                pr.sent_commit = max(pr.sent_commit, commit)
                self._send(MT.HEARTBEAT, peer, commit=commit, context=context)

    # -- helpers --------------------------------------------------------------------------------

    def _check_can_propose(self) -> None:
        if self.role is not Role.LEADER:
            raise ProposalDropped("not-leader", self.leader)
        if self.transferee is not None:
            raise ProposalDropped("transferring", self.transferee)

    def _send(
        self,
        kind: MessageType,
        to: NodeId,
        *,
        term: int | None = None,
        index: int = 0,
        log_term: int = 0,
        entries: tuple[Entry, ...] = (),
        commit: int = 0,
        reject: bool = False,
        reject_hint: int = 0,
        hint_term: int = 0,
        snapshot: Snapshot | None = None,
        context: bytes = b"",
    ) -> None:
        m = Message(
            kind,
            self.id,
            to,
            self.term if term is None else term,
            index=index,
            log_term=log_term,
            entries=entries,
            commit=commit,
            reject=reject,
            reject_hint=reject_hint,
            hint_term=hint_term,
            snapshot=snapshot,
            context=context,
        )
        self._msgs.append(m)
        self.tracer.send(m)

    def _soft_state(self) -> SoftState:
        return SoftState(self.role, self.leader)

    def _drop(self, reason: str) -> None:
        self.stats["dropped"] += 1
        key = f"dropped-{reason}"
        self.stats[key] = self.stats.get(key, 0) + 1


__all__ = ["TRANSFER_CONTEXT", "ProposalDropped", "RaftCore", "entry_size"]
