"""The broker's commands: what the `data` of a normal Raft entry holds.

Encoding (msgpack, version 2): every command is an array whose first two items are the format
version and a kind tag, then the fields in declaration order.

    PublishBatch  [2, 1, topic, hlc, origin, [message, ...], skew(, traceparent)]
    message       [payload, producer_id, seq, create_time_ms, [[dep_topic, dep_offset], ...]]
    skew          [offset_us, error_us] | nil
    CommitOffset  [2, 2, group, topic, offset, expect, origin]
    CreateTopic   [2, 3, topic, origin]
    PutUser       [2, 4, name, salt, iterations, stored_key, server_key, origin]
    RemoveUser    [2, 5, name, origin]
    ChangeAcl     [2, 6, action, principal, operation, pattern, origin]
    origin        [node, request] | nil

Kinds 4-6 (users and ACLs, see `wiber.broker.access`) were added within version 2: no entry of
an older kind changed shape, so every existing log still decodes the same; a build that
predates them refuses them as an unknown kind rather than misreading them.

`traceparent` (the W3C trace context the batch was published under, see
`wiber.codec.messages.is_traceparent`) was added the same way: it is written only when the
batch has one, so untraced batches are the bytes they always were and every existing entry
decodes as before. A build that predates it refuses a traced batch as an unknown shape
(`Rejected`, on every such node alike): clients should send trace contexts only once every
node runs a build that stores them (see docs/operations.md, Tracing).

Version 1 (before causal deps and skew metadata) is still decoded, so logs written by older
builds stay readable: its PublishBatch lacks `skew` and its messages lack deps
(`[payload, producer_id, seq, create_time_ms]`); the other commands are the same.

`decode_command` checks shapes and types only and raises `CommandError` (never anything else)
on garbage. Value rules (topic names, sequence numbers, offset ranges) are checked when the
command is applied, so that the proposer still learns which request was refused and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import msgpack

from wiber.codec.messages import is_traceparent

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)

_PUBLISH = 1
_COMMIT = 2
_CREATE = 3
_PUT_USER = 4
_REMOVE_USER = 5
_CHANGE_ACL = 6

# A compare-and-set `expect` value that matches only a (group, topic) with no committed offset.
# Offsets are never negative, so it cannot be confused with a real one.
EXPECT_UNSET = -1


class CommandError(ValueError):
    """The bytes are not a command this version understands."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Which node proposed the command and its local request number, to route the reply."""

    node: str
    request: int


Dep = tuple[str, int]  # (topic, offset) of a message this one causally depends on


class NewMessage(NamedTuple):
    """One message of a batch (a named tuple: batches hold thousands and tuples build fast).

    `deps` are the producer's causal dependencies, stored with the message and returned by
    reads; the broker checks their form (see `wiber.broker.names.deps_error`), not that the
    messages they name exist.
    """

    payload: bytes
    producer_id: str | None = None
    seq: int | None = None
    create_time_ms: int | None = None
    deps: tuple[Dep, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishBatch:
    """Messages for one topic from one client request.

    `hlc` is stamped by the leader when it proposes; see `BrokerState` for how each message's
    own timestamp is derived from it. With a `producer_id`, every message carries the same id
    and consecutive sequence numbers (`seq`, `seq + 1`, ...).

    `skew_us` is the proposing leader's clock metadata when it stamped `hlc`: its estimated
    offset from the cluster and that estimate's error bound, in microseconds (None: unknown).
    Reads return it with every message of the batch, so a timestamp can be judged later.

    `traceparent` is the trace context the batch was published under (None: untraced); reads
    return it with every message, so a delivery continues the publisher's trace.
    """

    topic: str
    messages: tuple[NewMessage, ...]
    hlc: int
    origin: Origin | None = None
    skew_us: tuple[int, int] | None = None
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class CommitOffset:
    """Set a consumer group's committed offset for a topic.

    `expect=None` writes unconditionally; an integer makes it a compare-and-set that is refused
    unless the current committed offset equals it (`EXPECT_UNSET` for "nothing committed").
    """

    group: str
    topic: str
    offset: int
    expect: int | None = None
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class CreateTopic:
    topic: str
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class PutUser:
    """Create or replace a user's SCRAM verifier (never the password itself)."""

    name: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class RemoveUser:
    name: str
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class ChangeAcl:
    """Add or remove one ACL rule; `pattern` as given (the state canonicalizes it)."""

    action: str  # "add" | "remove"
    principal: str
    operation: str
    pattern: str
    origin: Origin | None = None


AccessCommand = PutUser | RemoveUser | ChangeAcl
Command = PublishBatch | CommitOffset | CreateTopic | AccessCommand


def encode_command(cmd: Command) -> bytes:
    if isinstance(cmd, PublishBatch):
        # msgpack packs the deps' tuples as arrays: no conversion needed.
        msgs = [[m.payload, m.producer_id, m.seq, m.create_time_ms, m.deps] for m in cmd.messages]
        skew = None if cmd.skew_us is None else list(cmd.skew_us)
        body: list[Any] = [_PUBLISH, cmd.topic, cmd.hlc, _origin_out(cmd.origin), msgs, skew]
        if cmd.traceparent is not None:
            body.append(cmd.traceparent)
    elif isinstance(cmd, CommitOffset):
        body = [_COMMIT, cmd.group, cmd.topic, cmd.offset, cmd.expect, _origin_out(cmd.origin)]
    elif isinstance(cmd, CreateTopic):
        body = [_CREATE, cmd.topic, _origin_out(cmd.origin)]
    elif isinstance(cmd, PutUser):
        body = [
            _PUT_USER,
            cmd.name,
            cmd.salt,
            cmd.iterations,
            cmd.stored_key,
            cmd.server_key,
            _origin_out(cmd.origin),
        ]
    elif isinstance(cmd, RemoveUser):
        body = [_REMOVE_USER, cmd.name, _origin_out(cmd.origin)]
    else:
        body = [
            _CHANGE_ACL,
            cmd.action,
            cmd.principal,
            cmd.operation,
            cmd.pattern,
            _origin_out(cmd.origin),
        ]
    try:
        packed: bytes = msgpack.packb([FORMAT_VERSION, *body], use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CommandError(f"cannot encode {type(cmd).__name__}: {exc}") from exc
    return packed


@dataclass(frozen=True, slots=True)
class RawBatch:
    """A decoded `PublishBatch` whose messages are still checked msgpack rows
    `[payload, producer_id, seq, create_time_ms, deps]` (deps a list of [topic, offset] lists;
    version-1 rows get an empty one).

    Applying and reading run for every message on every node; working on the rows saves
    building a `NewMessage` per message that would be thrown away at once.
    """

    topic: str
    hlc: int
    origin: Origin | None
    rows: list[list[Any]]
    skew_us: tuple[int, int] | None = None
    traceparent: str | None = None


def decode_command(data: bytes) -> Command:
    cmd = decode_entry(data)
    if isinstance(cmd, RawBatch):
        messages = tuple(
            NewMessage(payload, producer_id, seq, create_time_ms, deps_of(deps))
            for payload, producer_id, seq, create_time_ms, deps in cmd.rows
        )
        return PublishBatch(cmd.topic, messages, cmd.hlc, cmd.origin, cmd.skew_us, cmd.traceparent)
    return cmd


def decode_entry(data: bytes) -> RawBatch | CommitOffset | CreateTopic | AccessCommand:
    """`decode_command` without building message objects: the same checks, the same errors."""
    try:
        raw = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types on garbage; all mean the same
        raise CommandError(f"not a msgpack command: {exc}") from exc
    if not isinstance(raw, list) or len(raw) < 2:
        raise CommandError("a command is an array [version, kind, ...]")
    version, kind, *fields = raw
    if type(version) is not int or version not in _READABLE_VERSIONS:
        raise CommandError(f"unsupported command format version {version!r}")
    if kind == _PUBLISH and version == 1 and len(fields) == 4:
        return _decode_publish_v1(fields)
    if kind == _PUBLISH and version == 2 and len(fields) in (5, 6):
        return _decode_publish(fields)
    if kind == _COMMIT and len(fields) == 5:
        group, topic, offset, expect, origin = fields
        return CommitOffset(
            _str(group, "group"),
            _str(topic, "topic"),
            _int(offset, "offset"),
            _opt_int(expect, "expect"),
            _origin_in(origin),
        )
    if kind == _CREATE and len(fields) == 2:
        return CreateTopic(_str(fields[0], "topic"), _origin_in(fields[1]))
    if kind == _PUT_USER and version == 2 and len(fields) == 6:
        name, salt, iterations, stored, server, origin = fields
        return PutUser(
            _str(name, "user"),
            _bytes(salt, "salt"),
            _int(iterations, "iterations"),
            _bytes(stored, "stored key"),
            _bytes(server, "server key"),
            _origin_in(origin),
        )
    if kind == _REMOVE_USER and version == 2 and len(fields) == 2:
        return RemoveUser(_str(fields[0], "user"), _origin_in(fields[1]))
    if kind == _CHANGE_ACL and version == 2 and len(fields) == 5:
        action, principal, operation, pattern, origin = fields
        return ChangeAcl(
            _str(action, "action"),
            _str(principal, "principal"),
            _str(operation, "operation"),
            _str(pattern, "pattern"),
            _origin_in(origin),
        )
    raise CommandError(f"unknown command kind {kind!r} with {len(fields)} fields")


def _decode_publish(fields: list[Any]) -> RawBatch:
    topic, hlc, origin, rows, skew, *rest = fields
    traceparent = rest[0] if rest else None
    if traceparent is not None and not is_traceparent(traceparent):
        raise CommandError(
            f"traceparent must be a W3C version-00 trace context: {traceparent!r:.80}"
        )
    if not isinstance(rows, list):
        raise CommandError("publish messages must be an array")
    for row in rows:
        # `type(x) is int` also refuses bools, which msgpack keeps distinct from integers.
        if not (
            type(row) is list
            and len(row) == 5
            and type(row[0]) is bytes
            and (row[1] is None or type(row[1]) is str)
            and (row[2] is None or type(row[2]) is int)
            and (row[3] is None or type(row[3]) is int)
            and type(row[4]) is list
            and (not row[4] or all(map(_is_dep_shape, row[4])))
        ):
            shape = "[payload: bin, producer_id, seq, create_time_ms, deps]"
            raise CommandError(f"a message is {shape}: {row!r:.80}")
    if skew is not None and not (
        type(skew) is list and len(skew) == 2 and all(type(v) is int for v in skew)
    ):
        raise CommandError(f"skew must be [offset_us, error_us] or nil: {skew!r:.80}")
    skew_us = None if skew is None else (skew[0], skew[1])
    return RawBatch(
        _str(topic, "topic"), _int(hlc, "hlc"), _origin_in(origin), rows, skew_us, traceparent
    )


def traceparent_of(data: bytes) -> str | None:
    """The trace context of an encoded publish batch; None for anything else or garbage.

    For tracing a follower's appends: it decodes the whole entry, so call it only when
    tracing is on.
    """
    try:
        cmd = decode_entry(data)
    except CommandError:
        return None
    return cmd.traceparent if isinstance(cmd, RawBatch) else None


def _decode_publish_v1(fields: list[Any]) -> RawBatch:
    topic, hlc, origin, rows = fields
    if not isinstance(rows, list):
        raise CommandError("publish messages must be an array")
    for row in rows:
        if not (
            type(row) is list
            and len(row) == 4
            and type(row[0]) is bytes
            and (row[1] is None or type(row[1]) is str)
            and (row[2] is None or type(row[2]) is int)
            and (row[3] is None or type(row[3]) is int)
        ):
            raise CommandError(
                f"a message is [payload: bin, producer_id, seq, create_time_ms]: {row!r:.80}"
            )
        row.append([])
    return RawBatch(_str(topic, "topic"), _int(hlc, "hlc"), _origin_in(origin), rows)


def _is_dep_shape(dep: Any) -> bool:
    return type(dep) is list and len(dep) == 2 and type(dep[0]) is str and type(dep[1]) is int


def deps_of(raw: list[list[Any]]) -> tuple[Dep, ...]:
    """A decoded row's deps (checked lists) as the tuples messages carry."""
    return tuple((topic, offset) for topic, offset in raw) if raw else ()


def _origin_out(origin: Origin | None) -> list[Any] | None:
    return None if origin is None else [origin.node, origin.request]


def _origin_in(raw: Any) -> Origin | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 2:
        raise CommandError("origin must be [node, request] or nil")
    return Origin(_str(raw[0], "origin node"), _int(raw[1], "origin request"))


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CommandError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise CommandError(f"{what} must be bytes, not {type(value).__name__}")
    return value


def _opt_str(value: Any, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _int(value: Any, what: str) -> int:
    # bool is an int subclass, but a bool where a number belongs is garbage.
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f"{what} must be an integer, not {type(value).__name__}")
    return value


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)
