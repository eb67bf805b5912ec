"""The values that flow in and out of the Raft core.

Everything here is an immutable value. The core (`wiber.core.raft`) takes messages, ticks and
proposals in, and hands back a `Ready`; `wiber.core.plan.plan(ready)` turns a Ready into an
ordered list of actions that the simulator and the asyncio runtime both execute. The node event
trace (DESIGN.md 4.6) and the TLA+ specs speak of exactly these fields.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

NodeId = str


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class EntryKind(enum.IntEnum):
    """What an entry's `data` holds. Stored as one byte in the log record."""

    NORMAL = 0  # an opaque command for the state machine (the broker's encoding)
    NOOP = 1  # the empty entry a new leader appends to commit its term
    CONFIG = 2  # a membership change: `data` is an encoded `ConfigChange`


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    term: int
    kind: EntryKind = EntryKind.NORMAL
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be on disk before any message that depends on it leaves the node."""

    term: int = 0
    vote: NodeId | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ConfState:
    """The membership in force: voters count toward quorums, learners only receive the log."""

    voters: tuple[NodeId, ...]
    learners: tuple[NodeId, ...] = ()


class ConfigChangeType(enum.Enum):
    ADD_VOTER = "add-voter"
    ADD_LEARNER = "add-learner"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One server at a time; it takes effect when the entry is appended (Raft thesis 4.1)."""

    type: ConfigChangeType
    node: NodeId


@dataclass(frozen=True, slots=True)
class Snapshot:
    """State-machine state as of `index`; `data` is opaque to the core (the broker's snapshot)."""

    index: int
    term: int
    conf: ConfState
    data: bytes = b""


class MessageType(enum.Enum):
    PRE_VOTE = "pre-vote"
    PRE_VOTE_RESP = "pre-vote-resp"
    VOTE = "vote"
    VOTE_RESP = "vote-resp"
    APPEND = "append"  # AppendEntries, also the heartbeat when `entries` is empty
    APPEND_RESP = "append-resp"
    HEARTBEAT = "heartbeat"
    HEARTBEAT_RESP = "heartbeat-resp"
    SNAPSHOT = "snapshot"  # InstallSnapshot
    TIMEOUT_NOW = "timeout-now"  # leadership transfer: campaign at once, skipping pre-vote
    READ_INDEX = "read-index"  # a follower forwards a client's ReadIndex request to the leader
    READ_INDEX_RESP = "read-index-resp"


@dataclass(frozen=True, slots=True)
class Message:
    """One Raft message. Fields unused by a type keep their defaults.

    - `index`, `log_term`: for APPEND the index and term of the entry before `entries`; for
      (PRE_)VOTE the candidate's last index and term; for APPEND_RESP the highest index the
      follower now matches (accept) or the index it rejects.
    - `reject_hint`, `hint_term`: fast back-off: on a rejected APPEND, the follower's best guess
      of the last index that may match, and the term of its entry there (0 when none).
    - `context`: opaque bytes carried through for READ_INDEX and heartbeats (read requests) and
      for campaigns caused by a leadership transfer.
    """

    type: MessageType
    src: NodeId
    dst: NodeId
    term: int
    index: int = 0
    log_term: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    hint_term: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""


@dataclass(frozen=True, slots=True)
class ReadState:
    """A linearizable read may be served once the local applied index reaches `index`."""

    index: int
    context: bytes


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state that callers may want to observe; never persisted."""

    role: Role
    leader: NodeId | None


@dataclass(frozen=True, slots=True)
class Ready:
    """Everything the core asks of its runtime after some inputs.

    The runtime must execute `plan(ready)` in order, then call `core.advance(ready)`.

    - `entries` are appended to the log; if the first one's index is at or below the log's last
      index, the log is first truncated to just before it (a conflicting suffix is replaced).
    - `hard_state` is None when unchanged since the last Ready.
    - `snapshot`, when present, replaces the log and state machine (installed before `entries`).
    - `messages` may be sent only after `entries`, `hard_state` and `snapshot` are durable.
    - `committed` are applied to the state machine in order; they are always durable already.
    - `must_sync` is False only when nothing needs to reach the disk before the messages go.
    """

    soft_state: SoftState
    hard_state: HardState | None = None
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None
    messages: tuple[Message, ...] = ()
    committed: tuple[Entry, ...] = ()
    read_states: tuple[ReadState, ...] = ()
    must_sync: bool = False

    def is_empty(self) -> bool:
        return (
            self.hard_state is None
            and not self.entries
            and self.snapshot is None
            and not self.messages
            and not self.committed
            and not self.read_states
        )


class LogStorage(Protocol):
    """The durable log as the core reads it (etcd raft's `Storage`).

    The core never writes through this interface: writes come from executing `plan(ready)`.
    Implementations: `wiber.core.memory.MemoryStorage` (tests, simulator) and the on-disk
    segmented log (`wiber.storage`) wrapped by the runtime.
    """

    def initial_state(self) -> tuple[HardState, ConfState]: ...

    def first_index(self) -> int:
        """Index of the first entry still in the log (snapshot index + 1)."""
        ...

    def last_index(self) -> int: ...

    def term(self, index: int) -> int:
        """Term of the entry at `index`; the snapshot's term at its index; raises CompactedError
        below that, UnavailableError above the last index."""
        ...

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries in [lo, hi); at least one when lo < hi, even past `max_bytes`."""
        ...

    def snapshot(self) -> Snapshot: ...


class CompactedError(Exception):
    """The requested index is below the first index: it was folded into a snapshot."""


class UnavailableError(Exception):
    """The requested index is above the last index."""


@dataclass(frozen=True, slots=True)
class Config:
    """Tuning of one core. Times are in ticks; the runtime decides how long a tick is."""

    id: NodeId
    election_ticks: int = 10  # a randomized timeout is drawn in [election_ticks, 2*election_ticks)
    heartbeat_ticks: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_inflight: int = 256  # AppendEntries in flight per follower in the replicate state
    max_append_bytes: int = 1 << 20  # soft cap on the entries carried by one AppendEntries
    max_uncommitted_bytes: int = 64 << 20  # proposals beyond this are dropped (back-pressure)
    extra: dict[str, object] = field(default_factory=dict)  # test-only switches (mutants)
