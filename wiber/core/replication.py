"""Log replication: AppendEntries with the consistency check and fast back-off by term,
InstallSnapshot for followers behind the compacted prefix, batching and pipelining under
the per-follower flow control of `progress.py`, and the leader's commit rule."""

from __future__ import annotations

from wiber.core import quorum
from wiber.core.progress import Progress, ProgressState
from wiber.core.state import MT, CoreState
from wiber.core.types import (
    CompactedError,
    Entry,
    EntryKind,
    Message,
    NodeId,
    Role,
    Snapshot,
    UnavailableError,
)
from wiber.invariant import invariant


class Replication(CoreState):
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

    def _bcast_heartbeat(self, context: bytes | None = None) -> None:
        if context is None:
            context = self.readonly.last_context()
        for peer, pr in self.prs.items():
            if peer != self.id:
                commit = min(pr.match, self.log.committed)
                pr.sent_commit = max(pr.sent_commit, commit)
                self._send(MT.HEARTBEAT, peer, commit=commit, context=context)
