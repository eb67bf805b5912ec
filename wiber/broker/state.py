"""The broker state machine: committed Raft entries in, effects out.

Every node applies the same entries in the same order and must reach the same state, so
`apply` is a pure function of the state and the entry: no clock, no randomness, no I/O, and a
command it cannot make sense of becomes a `Rejected` effect, never an exception.

Pinned choices:
- Offsets are dense per topic from 0; a message's id is `<topic>/<offset>` (`message_id`).
- Timestamps: a batch stamped `hlc` by the leader gets first HLC `max(hlc, last + 1)`, where
  `last` is the topic's newest HLC, and message i gets first HLC + i. Per-topic HLCs thus
  strictly increase even across leaders with skewed clocks, and followers derive the same
  values. (A leader should advance its own HLC past hlc + count - 1 after stamping.)
- Publishing to a missing topic creates it when `auto_create_topics` (the default, as the seed
  demo did). The setting must be the same on every node of a cluster.
- Idempotent producers: see `wiber.broker.producers` for the table of verdicts.
- Committed offsets are a register per (group, topic); neither the topic nor the offset has to
  exist, so it doubles as the harness's linearizable register.
"""

from __future__ import annotations

from wiber.broker import producers, snapshot
from wiber.broker.access import (
    AccessState,
    AclRule,
    Credential,
    allows,
    canonical_pattern,
    rule_error,
)
from wiber.broker.commands import (
    EXPECT_UNSET,
    ChangeAcl,
    CommandError,
    CommitOffset,
    CreateTopic,
    PutUser,
    RawBatch,
    RemoveUser,
    decode_entry,
)
from wiber.broker.effects import (
    AccessChanged,
    Appended,
    Code,
    Effect,
    OffsetCommitted,
    Published,
    Rejected,
    TopicCreated,
)
from wiber.broker.index import TopicIndex
from wiber.broker.names import deps_error, group_error, topic_error
from wiber.broker.producers import ProducerWindow
from wiber.broker.reads import EntryReader, ReadResult, read_page, start_offset
from wiber.broker.topics import TopicState
from wiber.invariant import invariant

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


class BrokerState:
    def __init__(self, *, auto_create_topics: bool = True) -> None:
        self.auto_create_topics = auto_create_topics
        self.applied_index = 0
        self._topics: dict[str, TopicState] = {}
        self._committed: dict[tuple[str, str], int] = {}
        self.access = AccessState()

    # -- applying committed entries ------------------------------------------------------------

    def apply(self, index: int, data: bytes) -> list[Effect]:
        """Apply the normal entry at Raft log `index` holding an encoded command."""
        self._advance(index)
        try:
            cmd = decode_entry(data)
        except CommandError as exc:
            return [Rejected(None, Code.INVALID_COMMAND, str(exc))]
        if isinstance(cmd, RawBatch):
            return self._publish(index, cmd)
        if isinstance(cmd, CommitOffset):
            return self._commit(cmd)
        if isinstance(cmd, CreateTopic):
            return self._create(cmd)
        return self._change_access(cmd)

    def apply_noop(self, index: int) -> None:
        """Account for an entry that is not a broker command (no-op, membership change)."""
        self._advance(index)

    def _advance(self, index: int) -> None:
        # Raft applies every committed entry once, in order: a gap would silently lose messages.
        invariant(
            index == self.applied_index + 1,
            f"entry {index} applied after {self.applied_index}: entries must apply in order",
        )
        self.applied_index = index

    def _publish(self, log_index: int, cmd: RawBatch) -> list[Effect]:
        refusal = _publish_error(cmd)
        if refusal is not None:
            return [Rejected(cmd.origin, *refusal)]
        topic = self._topics.get(cmd.topic)
        if topic is None and not self.auto_create_topics:
            return [Rejected(cmd.origin, Code.UNKNOWN_TOPIC, f"no topic {cmd.topic!r}")]
        count = len(cmd.rows)
        producer_id, seq = cmd.rows[0][1], cmd.rows[0][2]
        window = None
        if producer_id is not None and seq is not None:
            window = topic.producers.get(producer_id) if topic is not None else None
            verdict = producers.check(window, seq, count)
            if isinstance(verdict, producers.Duplicate):
                assert topic is not None  # a window exists only in a topic
                stamp = topic.index.hlc_of(verdict.offsets[-1])
                return [Published(cmd.origin, cmd.topic, verdict.offsets, True, stamp)]
            if verdict is not None:
                return [Rejected(cmd.origin, verdict.code, verdict.message, verdict.definite)]
        first_hlc = topic.index.next_hlc(cmd.hlc) if topic is not None else cmd.hlc
        if first_hlc + count - 1 > INT64_MAX:
            return [Rejected(cmd.origin, Code.INVALID_COMMAND, "HLC beyond int64")]
        effects: list[Effect] = []
        if topic is None:
            topic = self._topics[cmd.topic] = TopicState()
            effects.append(TopicCreated(None, cmd.topic))
        first = topic.index.append(log_index, count, first_hlc)
        if producer_id is not None and seq is not None:
            if window is None:
                window = topic.producers[producer_id] = ProducerWindow()
            window.record(seq, count, first)
        effects.append(Appended(cmd.topic, first, count, log_index, first_hlc))
        offsets = tuple(range(first, first + count))
        effects.append(Published(cmd.origin, cmd.topic, offsets, hlc=first_hlc + count - 1))
        return effects

    def _commit(self, cmd: CommitOffset) -> list[Effect]:
        if (error := topic_error(cmd.topic)) is not None:
            return [Rejected(cmd.origin, Code.INVALID_TOPIC, error)]
        if (error := group_error(cmd.group)) is not None:
            return [Rejected(cmd.origin, Code.INVALID_GROUP, error)]
        expect_ok = cmd.expect is None or cmd.expect == EXPECT_UNSET or cmd.expect >= 0
        if not (0 <= cmd.offset <= INT64_MAX and expect_ok):
            return [Rejected(cmd.origin, Code.INVALID_OFFSET, "offsets are 0..2**63-1")]
        key = (cmd.group, cmd.topic)
        current = self._committed.get(key)
        if cmd.expect is not None:
            wanted = None if cmd.expect == EXPECT_UNSET else cmd.expect
            if current != wanted:
                return [
                    Rejected(
                        cmd.origin,
                        Code.OFFSET_MISMATCH,
                        f"committed offset is {current}, not {wanted}",
                    )
                ]
        self._committed[key] = cmd.offset
        return [OffsetCommitted(cmd.origin, cmd.group, cmd.topic, cmd.offset)]

    def _create(self, cmd: CreateTopic) -> list[Effect]:
        error = topic_error(cmd.topic)
        if error is not None:
            return [Rejected(cmd.origin, Code.INVALID_TOPIC, error)]
        if cmd.topic in self._topics:
            return [Rejected(cmd.origin, Code.TOPIC_EXISTS, f"topic {cmd.topic!r} exists")]
        self._topics[cmd.topic] = TopicState()
        return [TopicCreated(cmd.origin, cmd.topic)]

    def _change_access(self, cmd: PutUser | RemoveUser | ChangeAcl) -> list[Effect]:
        access = self.access
        if isinstance(cmd, PutUser):
            if not (0 < len(cmd.name) <= 255 and 1 <= cmd.iterations <= 10_000_000):
                return [Rejected(cmd.origin, Code.INVALID_ACCESS, "bad user name or iterations")]
            if len(cmd.stored_key) != 32 or len(cmd.server_key) != 32 or not cmd.salt:
                return [Rejected(cmd.origin, Code.INVALID_ACCESS, "not a SCRAM-SHA-256 verifier")]
            credential = Credential(cmd.salt, cmd.iterations, cmd.stored_key, cmd.server_key)
            access.users[cmd.name] = credential
            return [AccessChanged(cmd.origin, f"user {cmd.name}")]
        if isinstance(cmd, RemoveUser):
            if access.users.pop(cmd.name, None) is None:
                return [Rejected(cmd.origin, Code.NOT_FOUND, f"no user {cmd.name!r}")]
            return [AccessChanged(cmd.origin, f"user {cmd.name} removed")]
        try:
            rule = AclRule(cmd.principal, cmd.operation, canonical_pattern(cmd.pattern))
        except ValueError as e:
            return [Rejected(cmd.origin, Code.INVALID_ACCESS, str(e))]
        if (error := rule_error(rule)) is not None or cmd.action not in ("add", "remove"):
            why = error or f"action {cmd.action!r} is not add or remove"
            return [Rejected(cmd.origin, Code.INVALID_ACCESS, why)]
        if cmd.action == "add":
            access.rules.add(rule)
        elif rule in access.rules:
            access.rules.discard(rule)
        else:
            return [Rejected(cmd.origin, Code.NOT_FOUND, f"no rule {tuple(rule)}")]
        return [AccessChanged(cmd.origin, f"acl {cmd.action} {tuple(rule)}")]

    # -- queries -------------------------------------------------------------------------------

    def read(
        self,
        topic: str,
        *,
        from_offset: int | None = None,
        last_n: int | None = None,
        from_time_ms: int | None = None,
        max_count: int,
        max_bytes: int,
        entry_reader: EntryReader,
    ) -> ReadResult:
        """One page of `topic`, from the log start unless a position is given.

        An unknown topic reads as an empty one. Raises `ReadError` on malformed arguments.
        """
        state = self._topics.get(topic)
        index = state.index if state is not None else TopicIndex()
        first = start_offset(index, from_offset, last_n, from_time_ms)
        return read_page(topic, index, first, max_count, max_bytes, entry_reader)

    def user(self, name: str) -> Credential | None:
        return self.access.users.get(name)

    def users(self) -> list[str]:
        return sorted(self.access.users)

    def acl_rules(self) -> list[AclRule]:
        return sorted(self.access.rules)

    def allows(
        self, superusers: frozenset[str], principal: str, operation: str, topic: str
    ) -> bool:
        """Whether the replicated ACL rules let `principal` do `operation` on `topic`."""
        return allows(self.access.rules, superusers, principal, operation, topic)

    def committed_offset(self, group: str, topic: str) -> int | None:
        return self._committed.get((group, topic))

    def committed_offsets(self) -> dict[tuple[str, str], int]:
        """Every (group, topic) committed offset (a copy), for lag metrics."""
        return dict(self._committed)

    def topics(self) -> list[str]:
        return sorted(self._topics)

    def has_topic(self, topic: str) -> bool:
        return topic in self._topics

    def end_offset(self, topic: str) -> int:
        """The offset the next message will get (0 for an unknown topic)."""
        state = self._topics.get(topic)
        return state.index.end_offset if state is not None else 0

    def log_start_offset(self, topic: str) -> int:
        """The first offset still readable; retention moves it up."""
        state = self._topics.get(topic)
        return state.index.start_offset if state is not None else 0

    # -- retention and snapshots ---------------------------------------------------------------

    def truncate_before(self, log_index: int) -> None:
        """Forget messages whose entry is below `log_index`: that log prefix is being deleted."""
        for state in self._topics.values():
            state.index.truncate_before(log_index)

    def snapshot(self) -> bytes:
        """Everything but message bodies, as deterministic bytes (equal states, equal bytes)."""
        return snapshot.dump(self.applied_index, self._topics, self._committed, self.access)

    @classmethod
    def restore(cls, data: bytes, *, auto_create_topics: bool = True) -> BrokerState:
        """Rebuild a state from `snapshot()` bytes; raises `SnapshotError` on garbage.

        The index still points at entries up to the snapshot's applied index. A node installed
        from another node's snapshot lacks those entries: it must then call
        `truncate_before(first index in its log)` so that reads start where its log does.
        """
        state = cls(auto_create_topics=auto_create_topics)
        state.applied_index, state._topics, state._committed, state.access = snapshot.load(data)
        return state


def _publish_error(cmd: RawBatch) -> tuple[str, str] | None:
    """Why a batch is malformed (code, message), checked before it touches any state."""
    error = topic_error(cmd.topic)
    if error is not None:
        return Code.INVALID_TOPIC, error
    rows = cmd.rows
    if not rows:
        return Code.INVALID_COMMAND, "a publish batch holds at least one message"
    if not 0 <= cmd.hlc <= INT64_MAX:
        return Code.INVALID_COMMAND, f"HLC {cmd.hlc} out of range"
    if cmd.skew_us is not None:
        offset_us, error_us = cmd.skew_us
        if not (INT64_MIN <= offset_us <= INT64_MAX and 0 <= error_us <= INT64_MAX):
            return Code.INVALID_COMMAND, f"skew {cmd.skew_us} out of range"
    for row in rows:
        if row[4] and (error := deps_error(row[4])) is not None:
            return Code.INVALID_COMMAND, error
    producer_id, seq = rows[0][1], rows[0][2]
    if producer_id is None and any(row[1] is not None or row[2] is not None for row in rows):
        return Code.INVALID_COMMAND, "a message without a producer_id has no seq"
    if producer_id is not None:
        if seq is None or not 0 <= seq <= INT64_MAX - len(rows):
            return Code.INVALID_COMMAND, f"seq {seq} out of range for producer {producer_id!r}"
        expected = range(seq, seq + len(rows))
        if any(row[1] != producer_id or row[2] != s for row, s in zip(rows, expected, strict=True)):
            return Code.INVALID_COMMAND, "a batch has one producer and consecutive seqs"
    return None
