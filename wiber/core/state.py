"""The state every part of the core shares, and the helpers they all use.

`RaftCore` is assembled from parts, one module each: `election` (ticks, campaigns, votes,
role changes), `replication` (AppendEntries, InstallSnapshot, commit), `membership`
(configurations from config entries) and `reads` (ReadIndex). Each part is a class over
`CoreState`; the methods one part calls in another are declared here, so that each module
type-checks on its own.
"""

from __future__ import annotations

import random
from collections import deque

from wiber.core.log import RaftLog
from wiber.core.progress import Progress
from wiber.core.readonly import ReadOnly
from wiber.core.trace import Tracer
from wiber.core.types import (
    Config,
    ConfState,
    Entry,
    EntryKind,
    LogStorage,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Role,
    Snapshot,
)

MT = MessageType


class CoreState:
    id: NodeId
    config: Config
    rng: random.Random
    storage: LogStorage
    log: RaftLog
    term: int
    vote: NodeId | None
    role: Role
    leader: NodeId | None
    # (index, term, conf) of each config entry in the log's tail, oldest first
    _confs: list[tuple[int, int, ConfState]]
    prs: dict[NodeId, Progress]
    votes: dict[NodeId, bool]
    election_elapsed: int
    heartbeat_elapsed: int
    randomized_timeout: int
    transferee: NodeId | None
    readonly: ReadOnly
    _reads_waiting: list[tuple[bytes, NodeId]]  # until a commit in our term
    _uncommitted: deque[tuple[int, int]]  # (index, size) of own proposals
    _uncommitted_bytes: int
    _msgs: list[Message]
    _read_states: list[ReadState]
    _flush_pending: bool
    stats: dict[str, int]
    tracer: Tracer

    @property
    def conf(self) -> ConfState:
        return self._confs[-1][2]

    def conf_at(self, index: int) -> ConfState:
        """The configuration in force at `index` (for snapshots taken at the applied index)."""
        for at, _, conf in reversed(self._confs):
            if at <= index:
                return conf
        return self._confs[0][2]

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

    def _drop(self, reason: str) -> None:
        self.stats["dropped"] += 1
        key = f"dropped-{reason}"
        self.stats[key] = self.stats.get(key, 0) + 1

    # -- implemented by the parts (see the module docstring) ----------------------------------

    def _become_follower(self, term: int, leader: NodeId | None) -> None:
        raise NotImplementedError

    def _step_follower(self, m: Message) -> None:
        raise NotImplementedError

    def _grant_vote(self, m: Message) -> bool:
        raise NotImplementedError

    def _record_vote(self, candidate: NodeId) -> None:
        raise NotImplementedError

    def _may_commit(self, index: int) -> bool:
        raise NotImplementedError

    def _append_own(self, kind: EntryKind, data: bytes) -> int:
        raise NotImplementedError

    def _bcast_heartbeat(self, context: bytes | None = None) -> None:
        raise NotImplementedError

    def _refresh_confs(self, entries: tuple[Entry, ...]) -> None:
        raise NotImplementedError

    def _add_progress(self, node: NodeId, next_index: int) -> None:
        raise NotImplementedError

    def _committed_in_term(self) -> bool:
        raise NotImplementedError

    def _leader_read(self, context: bytes, requester: NodeId) -> None:
        raise NotImplementedError

    def _ack_read(self, context: bytes, voter: NodeId) -> None:
        raise NotImplementedError
