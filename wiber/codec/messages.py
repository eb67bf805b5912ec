"""The framed protocol's messages: one frozen dataclass per request, response and push.

These are the values the runtime and the client exchange; `wiber.codec.framed` puts them on
the wire. A message that exists is valid: topics and groups obey `wiber.codec.names`, the
"exactly one starting point" rules hold, counts are in range. Constructors raise `CodecError`
otherwise, so the decoder and a careless caller meet the same checks in the same place.

Numbers are non-negative integers below 2**63 (int64 on the wire); an HLC is one such integer,
physical milliseconds << 16 | logical counter (DESIGN.md 4.8). The exception is a clock offset
(`skew_offset_us`), which is signed.

Causal dependencies (`deps`) are a tuple of (topic, offset) pairs naming messages this one
depends on; at most `MAX_DEPS`, topics by the topic rule, offsets non-negative (`deps_error`).

A trace context (`traceparent`) is W3C Trace Context's header value, version 00 only:
`00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`, lowercase, ids not all zero
(`is_traceparent`). A publish may carry one; the batch stores it and deliveries return it, so
a subscriber continues the publisher's trace.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from wiber.codec.errors import CodecError
from wiber.codec.names import (
    MAX_ID_CHARS,
    is_topic,
    validate_group,
    validate_id,
    validate_topic,
)

PROTOCOL_VERSIONS: Final = (1,)  # the versions this build speaks, oldest first
MAX_BATCH_MESSAGES: Final = 65_536  # messages in one Publish, Delivery or FetchOk
MAX_INT: Final = 2**63 - 1
MIN_INT: Final = -(2**63)
MAX_DEPS: Final = 64  # causal dependencies of one message
DEFAULT_FETCH_COUNT: Final = 1000
DEFAULT_FETCH_BYTES: Final = 1 << 20
TRACEPARENT_CHARS: Final = 55
_TRACEPARENT: Final = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")

Acks = Literal["quorum", "all"]


class ErrorCode(enum.StrEnum):
    NOT_LEADER = "not-leader"
    BAD_REQUEST = "bad-request"
    UNKNOWN_TOPIC = "unknown-topic"
    FRAME_TOO_LARGE = "frame-too-large"
    OUT_OF_ORDER_SEQUENCE = "out-of-order-sequence"
    DUPLICATE_SEQUENCE = "duplicate-sequence"
    UNKNOWN_PRODUCER = "unknown-producer"
    OFFSET_MISMATCH = "offset-mismatch"
    UNKNOWN_SUBSCRIPTION = "unknown-subscription"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    UNSUPPORTED_VERSION = "unsupported-version"
    CLOCK_OFFSET = "clock-offset"


# Whether an error with this code means the operation certainly did not happen. A server may
# say more than the default (an `unavailable` before anything was proposed is definite), never
# less: `timeout` is never definite, since the request may still commit.
DEFINITE_BY_DEFAULT: Final[dict[str, bool]] = {
    ErrorCode.NOT_LEADER: True,
    ErrorCode.BAD_REQUEST: True,
    ErrorCode.UNKNOWN_TOPIC: True,
    ErrorCode.FRAME_TOO_LARGE: True,
    ErrorCode.OUT_OF_ORDER_SEQUENCE: True,  # a gap; an overlap with the log tail is not definite
    ErrorCode.DUPLICATE_SEQUENCE: False,  # a retry older than the dedup window: already in the log
    ErrorCode.UNKNOWN_PRODUCER: True,
    ErrorCode.OFFSET_MISMATCH: True,
    ErrorCode.UNKNOWN_SUBSCRIPTION: True,
    ErrorCode.TIMEOUT: False,
    ErrorCode.UNAVAILABLE: False,
    ErrorCode.UNSUPPORTED_VERSION: True,
    ErrorCode.CLOCK_OFFSET: True,  # refused before anything was proposed
}


def check_count(name: str, value: int, *, low: int = 0, high: int = MAX_INT) -> None:
    """Raise `CodecError` unless `value` is an int (not a bool) in `low..high`."""
    if type(value) is not int:
        raise CodecError(f"{name} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise CodecError(f"{name} must be in {low}..{high}, not {value}")


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_INT


def _is_id(value: object) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_ID_CHARS


def _check_optional_count(name: str, value: int | None) -> None:
    if value is not None:
        check_count(name, value)


Dep = tuple[str, int]


def deps_error(deps: Sequence[Sequence[Any]]) -> str | None:
    """Why `deps` (pairs of topic and offset, tuples or lists) break the rule, or None.

    The one rule for both the protocol and the broker, so that they cannot disagree.
    """
    if len(deps) > MAX_DEPS:
        return f"a message has at most {MAX_DEPS} deps, not {len(deps)}"
    for dep in deps:
        if len(dep) != 2:
            return f"a dep is a (topic, offset) pair, not {dep!r:.80}"
        topic, offset = dep
        if not is_topic(topic):
            try:
                validate_topic(topic)
            except CodecError as exc:
                return f"dep topic: {exc}"
            return f"dep topic {topic!r:.80} is not a topic name"
        if not _is_count(offset):
            return f"dep offset of {topic!r} must be an integer in 0..{MAX_INT}, not {offset!r}"
    return None


def _deps_ok(deps: object) -> bool:
    # why: runs per message; the common case (no deps) is one comparison.
    return deps == () or (
        type(deps) is tuple and all(type(d) is tuple for d in deps) and deps_error(deps) is None
    )


def _check_deps(deps: object) -> None:
    if type(deps) is not tuple or not all(type(d) is tuple for d in deps):
        raise CodecError("deps must be a tuple of (topic, offset) tuples")
    error = deps_error(deps)
    if error is not None:
        raise CodecError(error)


def is_traceparent(value: object) -> bool:
    """Whether `value` is a version-00 W3C traceparent (the one rule for codec and broker)."""
    return (
        type(value) is str
        and len(value) == TRACEPARENT_CHARS
        and _TRACEPARENT.fullmatch(value) is not None
    )


def _check_traceparent(value: object) -> None:
    if value is not None and not is_traceparent(value):
        raise CodecError(
            "traceparent must be W3C's 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, "
            f"lowercase, ids not all zero: {value!r:.80}"
        )


def _check_skew(offset_us: int | None, error_us: int | None) -> None:
    if (offset_us is None) != (error_us is None):
        raise CodecError("skew_offset_us and skew_error_us come together")
    if offset_us is not None:
        check_count("skew_offset_us", offset_us, low=MIN_INT)
    _check_optional_count("skew_error_us", error_us)


def _check_starts(starts: dict[str, int | None], *, required: bool) -> None:
    given = [name for name, value in starts.items() if value is not None]
    if len(given) > 1 or (required and not given):
        options = " | ".join(starts)
        raise CodecError(f"give exactly one of {options}, not {given or 'none'}")
    for name, value in starts.items():
        _check_optional_count(name, value)


# --- handshake -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """The first frame of every framed connection: the versions the client speaks."""

    versions: list[int]
    client_id: str

    def __post_init__(self) -> None:
        if not self.versions or len(self.versions) > 64:
            raise CodecError(f"versions must list 1..64 versions, not {len(self.versions)}")
        for version in self.versions:
            check_count("version", version, low=1, high=65_535)
        validate_id("client_id", self.client_id)


@dataclass(frozen=True, slots=True)
class HelloOk:
    version: int
    node_id: str

    def __post_init__(self) -> None:
        check_count("version", self.version, low=1, high=65_535)
        validate_id("node_id", self.node_id)


def choose_version(client_versions: list[int]) -> int | None:
    """The newest version both sides speak, or None (answer `unsupported-version`)."""
    common = set(client_versions) & set(PROTOCOL_VERSIONS)
    return max(common) if common else None


# --- records carried in lists --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishMessage:
    payload: bytes
    producer_id: str | None = None
    seq: int | None = None
    create_time_ms: int | None = None
    deps: tuple[Dep, ...] = ()  # causal dependencies: (topic, offset) of messages seen before

    def __post_init__(self) -> None:
        # why: one of these per published message; the common valid case takes one expression.
        if (
            type(self.payload) is bytes
            and (
                (self.producer_id is None and self.seq is None)
                or (_is_id(self.producer_id) and _is_count(self.seq))
            )
            and (self.create_time_ms is None or _is_count(self.create_time_ms))
            and _deps_ok(self.deps)
        ):
            return
        if type(self.payload) is not bytes:
            raise CodecError(f"payload must be bytes, not {type(self.payload).__name__}")
        if self.producer_id is not None:
            validate_id("producer_id", self.producer_id)
        if (self.producer_id is None) != (self.seq is None):
            raise CodecError("producer_id and seq come together (idempotence needs both)")
        _check_optional_count("seq", self.seq)
        _check_optional_count("create_time_ms", self.create_time_ms)
        _check_deps(self.deps)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the log holds it: where it sits, when and by whom it was published.

    `skew_offset_us` and `skew_error_us` are the stamping leader's estimated clock offset from
    the cluster and its error bound when it stamped `hlc` (both None when it had no estimate).
    """

    topic: str
    offset: int
    hlc: int
    producer_id: str | None
    seq: int | None
    create_time_ms: int | None
    payload: bytes
    node: str | None = None  # the node that stamped the HLC
    deps: tuple[Dep, ...] = ()
    skew_offset_us: int | None = None
    skew_error_us: int | None = None
    traceparent: str | None = None  # the trace context its batch was published under

    def __post_init__(self) -> None:
        # why: one of these per delivered message; the common valid case takes one expression.
        if (
            is_topic(self.topic)
            and _is_count(self.offset)
            and _is_count(self.hlc)
            and (self.producer_id is None or _is_id(self.producer_id))
            and (self.seq is None or _is_count(self.seq))
            and (self.create_time_ms is None or _is_count(self.create_time_ms))
            and type(self.payload) is bytes
            and (self.node is None or _is_id(self.node))
            and _deps_ok(self.deps)
            and (
                (self.skew_offset_us is None and self.skew_error_us is None)
                or (
                    type(self.skew_offset_us) is int
                    and MIN_INT <= self.skew_offset_us <= MAX_INT
                    and _is_count(self.skew_error_us)
                )
            )
            and (self.traceparent is None or is_traceparent(self.traceparent))
        ):
            return
        validate_topic(self.topic)
        check_count("offset", self.offset)
        check_count("hlc", self.hlc)
        if self.producer_id is not None:
            validate_id("producer_id", self.producer_id)
        _check_optional_count("seq", self.seq)
        _check_optional_count("create_time_ms", self.create_time_ms)
        if type(self.payload) is not bytes:
            raise CodecError(f"payload must be bytes, not {type(self.payload).__name__}")
        if self.node is not None:
            validate_id("node", self.node)
        _check_deps(self.deps)
        _check_skew(self.skew_offset_us, self.skew_error_us)
        _check_traceparent(self.traceparent)


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    address: str  # host:client_port

    def __post_init__(self) -> None:
        validate_id("member id", self.id)
        validate_id("member address", self.address)


def _check_batch(name: str, items: object, *, allow_empty: bool) -> None:
    if type(items) is not list:
        raise CodecError(f"{name} must be a list, not {type(items).__name__}")
    if len(items) > MAX_BATCH_MESSAGES or (not items and not allow_empty):
        low = 0 if allow_empty else 1
        raise CodecError(f"{name} must hold {low}..{MAX_BATCH_MESSAGES} items, not {len(items)}")


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Publish:
    """A batch of messages for one topic, appended in order as one Raft entry.

    `hlc`: the largest hybrid timestamp the client has seen (stamps of messages it consumed,
    and of its own acknowledged publishes). The leader merges it into its clock before
    stamping, so the batch is stamped above it; one further ahead of the leader's clock than
    its tolerated offset is refused with `clock-offset`.

    `traceparent`: the publisher's trace context (see the module docstring); left off the
    wire when None, so an untraced publish is the same bytes as before the field existed.
    """

    topic: str
    messages: list[PublishMessage]
    acks: Acks = "quorum"
    hlc: int | None = None
    traceparent: str | None = None

    def __post_init__(self) -> None:
        validate_topic(self.topic)
        if self.hlc is not None:
            check_count("hlc", self.hlc)
        _check_traceparent(self.traceparent)
        _check_batch("messages", self.messages, allow_empty=False)
        for message in self.messages:
            if not isinstance(message, PublishMessage):
                raise CodecError("messages must be PublishMessage values")
        if self.acks not in ("quorum", "all"):
            raise CodecError(f"acks must be 'quorum' or 'all', not {self.acks!r}")


@dataclass(frozen=True, slots=True)
class Fetch:
    """Read a page of a topic from exactly one starting point."""

    topic: str
    from_offset: int | None = None
    last_n: int | None = None
    from_time_ms: int | None = None
    max_count: int = DEFAULT_FETCH_COUNT
    max_bytes: int = DEFAULT_FETCH_BYTES
    stale_ok: bool = False  # a follower may answer from its own applied state

    def __post_init__(self) -> None:
        validate_topic(self.topic)
        starts = {
            "from_offset": self.from_offset,
            "last_n": self.last_n,
            "from_time_ms": self.from_time_ms,
        }
        _check_starts(starts, required=True)
        check_count("max_count", self.max_count, low=1, high=MAX_BATCH_MESSAGES)
        check_count("max_bytes", self.max_bytes, low=1)
        if type(self.stale_ok) is not bool:
            raise CodecError("stale_ok must be a boolean")


@dataclass(frozen=True, slots=True)
class Subscribe:
    """History from at most one starting point, then live deliveries (none given: live only).

    With a `group` and no starting point, delivery resumes at the group's committed offset.
    """

    topic: str
    from_offset: int | None = None
    last_n: int | None = None
    from_time_ms: int | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        validate_topic(self.topic)
        starts = {
            "from_offset": self.from_offset,
            "last_n": self.last_n,
            "from_time_ms": self.from_time_ms,
        }
        _check_starts(starts, required=False)
        if self.group is not None:
            validate_group(self.group)


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    subscription_id: int

    def __post_init__(self) -> None:
        check_count("subscription_id", self.subscription_id)


@dataclass(frozen=True, slots=True)
class CommitOffset:
    """Store `offset` for (group, topic); with `expect`, only if the stored one equals it
    (`expect=-1`: only if nothing is committed yet, a compare-and-set from "unset").

    `reset` marks an operator moving a group (`wiber groups reset`) rather than a consumer
    committing its progress: with security on, it needs admin rights, not just subscribe.
    """

    group: str
    topic: str
    offset: int
    expect: int | None = None
    reset: bool = False

    def __post_init__(self) -> None:
        validate_group(self.group)
        validate_topic(self.topic)
        check_count("offset", self.offset)
        if self.expect != -1:
            _check_optional_count("expect", self.expect)
        if type(self.reset) is not bool:
            raise CodecError("reset must be true or false")


@dataclass(frozen=True, slots=True)
class FetchOffset:
    group: str
    topic: str

    def __post_init__(self) -> None:
        validate_group(self.group)
        validate_topic(self.topic)


@dataclass(frozen=True, slots=True)
class Metadata:
    pass


@dataclass(frozen=True, slots=True)
class Status:
    """Ask one node about itself (role, term, indexes): `wiber cluster status`."""


@dataclass(frozen=True, slots=True)
class ChangeMembers:
    """Add a voter or remove a member through Raft (one server at a time); leader only."""

    action: Literal["add", "remove"]
    node: str

    def __post_init__(self) -> None:
        if self.action not in ("add", "remove"):
            raise CodecError(f"action must be add or remove, not {self.action!r}")
        validate_id("node", self.node)


@dataclass(frozen=True, slots=True)
class TransferLeader:
    """Hand leadership to `node` (Raft's TimeoutNow); leader only."""

    node: str

    def __post_init__(self) -> None:
        validate_id("node", self.node)


@dataclass(frozen=True, slots=True)
class Ping:
    pass


# --- security ---------------------------------------------------------------------------------

MAX_AUTH_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class Authenticate:
    """One client step of a SASL-style exchange (`SCRAM-SHA-256`: client-first, then
    client-final); answered by `AuthReply`. Only over TLS, before any other request."""

    mechanism: str
    data: bytes

    def __post_init__(self) -> None:
        validate_id("mechanism", self.mechanism)
        if type(self.data) is not bytes or len(self.data) > MAX_AUTH_BYTES:
            raise CodecError(f"auth data must be bytes of at most {MAX_AUTH_BYTES}")


@dataclass(frozen=True, slots=True)
class PutUser:
    """Create or replace a user from a SCRAM-SHA-256 verifier the client derived; admin."""

    name: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def __post_init__(self) -> None:
        validate_id("name", self.name)
        check_count("iterations", self.iterations, low=1, high=10_000_000)
        for what in ("salt", "stored_key", "server_key"):
            value = getattr(self, what)
            if type(value) is not bytes or not 1 <= len(value) <= 256:
                raise CodecError(f"{what} must be 1..256 bytes")


@dataclass(frozen=True, slots=True)
class RemoveUser:
    name: str

    def __post_init__(self) -> None:
        validate_id("name", self.name)


@dataclass(frozen=True, slots=True)
class ChangeAcl:
    """Add or remove one rule (principal, operation, topic pattern); admin."""

    action: Literal["add", "remove"]
    principal: str
    operation: str
    pattern: str

    def __post_init__(self) -> None:
        if self.action not in ("add", "remove"):
            raise CodecError(f"action must be add or remove, not {self.action!r}")
        if self.operation not in ("publish", "subscribe", "admin"):
            raise CodecError(f"operation must be publish, subscribe or admin: {self.operation!r}")
        validate_id("principal", self.principal)
        validate_id("pattern", self.pattern)


@dataclass(frozen=True, slots=True)
class ListAcls:
    """The replicated users and rules, as this node has applied them."""


# --- responses and pushes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishOk:
    offsets: list[int]  # one per published message, in order
    hlc: int | None = None  # the stored stamp of the last message; None for a duplicate

    def __post_init__(self) -> None:
        _check_batch("offsets", self.offsets, allow_empty=False)
        for offset in self.offsets:
            check_count("offset", offset)
        if self.hlc is not None:
            check_count("hlc", self.hlc)


@dataclass(frozen=True, slots=True)
class FetchOk:
    messages: list[StoredMessage]
    next_offset: int  # where the next page starts
    log_start_offset: int  # the oldest offset still held (retention may have removed older)

    def __post_init__(self) -> None:
        _check_stored(self.messages)
        check_count("next_offset", self.next_offset)
        check_count("log_start_offset", self.log_start_offset)


@dataclass(frozen=True, slots=True)
class SubscribeOk:
    subscription_id: int
    next_offset: int  # the offset of the first message this subscription will deliver

    def __post_init__(self) -> None:
        check_count("subscription_id", self.subscription_id)
        check_count("next_offset", self.next_offset)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A push (request id 0): messages for a subscription, in offset order, no gaps."""

    subscription_id: int
    messages: list[StoredMessage]

    def __post_init__(self) -> None:
        check_count("subscription_id", self.subscription_id)
        _check_stored(self.messages)


@dataclass(frozen=True, slots=True)
class Ok:
    pass


@dataclass(frozen=True, slots=True)
class OffsetOk:
    offset: int | None  # None: the group never committed on this topic

    def __post_init__(self) -> None:
        _check_optional_count("offset", self.offset)


@dataclass(frozen=True, slots=True)
class MetadataOk:
    members: list[Member]
    leader: str | None  # a member id, or None while no leader is known

    def __post_init__(self) -> None:
        _check_batch("members", self.members, allow_empty=True)
        if self.leader is not None:
            validate_id("leader", self.leader)


@dataclass(frozen=True, slots=True)
class StatusOk:
    id: str
    role: str
    term: int
    leader: str | None
    commit_index: int
    applied_index: int
    last_index: int
    voters: list[str]
    pid: int
    clock_offset_ms: float | None = None  # the node's estimated offset from the cluster

    def __post_init__(self) -> None:
        validate_id("id", self.id)
        for name in ("term", "commit_index", "applied_index", "last_index", "pid"):
            check_count(name, getattr(self, name))
        if type(self.voters) is not list or not all(isinstance(v, str) for v in self.voters):
            raise CodecError("voters must be a list of node ids")


@dataclass(frozen=True, slots=True)
class Pong:
    pass


@dataclass(frozen=True, slots=True)
class AuthReply:
    """The server's step: a challenge, or with `principal` set, success (and its proof)."""

    data: bytes
    principal: str | None = None

    def __post_init__(self) -> None:
        if type(self.data) is not bytes or len(self.data) > MAX_AUTH_BYTES:
            raise CodecError(f"auth data must be bytes of at most {MAX_AUTH_BYTES}")
        if self.principal is not None:
            validate_id("principal", self.principal)


@dataclass(frozen=True, slots=True)
class AclList:
    rules: list[tuple[str, str, str]]  # (principal, operation, canonical pattern)
    users: list[str]

    def __post_init__(self) -> None:
        _check_batch("rules", self.rules, allow_empty=True)
        _check_batch("users", self.users, allow_empty=True)
        for rule in self.rules:
            if not (len(rule) == 3 and all(isinstance(x, str) for x in rule)):
                raise CodecError("an ACL rule is (principal, operation, pattern)")
        for user in self.users:
            validate_id("user", user)


@dataclass(frozen=True, slots=True)
class Error:
    """A refused or failed request. `definite`: the operation certainly did not happen."""

    code: str
    message: str
    definite: bool
    leader_hint: str | None = None  # host:client_port of the leader, for `not-leader`

    def __post_init__(self) -> None:
        validate_id("error code", self.code)
        if not isinstance(self.message, str) or len(self.message) > 65_536:
            raise CodecError("error message must be text of at most 65536 characters")
        if type(self.definite) is not bool:
            raise CodecError("definite must be a boolean")
        if self.leader_hint is not None:
            validate_id("leader_hint", self.leader_hint)


def _check_stored(messages: list[StoredMessage]) -> None:
    _check_batch("messages", messages, allow_empty=True)
    for message in messages:
        if not isinstance(message, StoredMessage):
            raise CodecError("messages must be StoredMessage values")


Request = (
    Hello
    | Publish
    | Fetch
    | Subscribe
    | Unsubscribe
    | CommitOffset
    | FetchOffset
    | Metadata
    | Ping
    | Status
    | ChangeMembers
    | TransferLeader
    | Authenticate
    | PutUser
    | RemoveUser
    | ChangeAcl
    | ListAcls
)
Response = (
    HelloOk
    | PublishOk
    | FetchOk
    | SubscribeOk
    | Ok
    | OffsetOk
    | MetadataOk
    | Pong
    | StatusOk
    | AuthReply
    | AclList
    | Error
)
Push = Delivery
Message = Request | Response | Push
