"""The broker's commands: what the `data` of a normal Raft entry holds.

Encoding (msgpack, version 1): every command is an array whose first two items are the format
version and a kind tag, then the fields in declaration order.

    PublishBatch  [1, 1, topic, hlc, origin, [[payload, producer_id, seq, create_time_ms], ...]]
    CommitOffset  [1, 2, group, topic, offset, expect, origin]
    CreateTopic   [1, 3, topic, origin]
    origin        [node, request] | nil

`decode_command` checks shapes and types only and raises `CommandError` (never anything else)
on garbage. Value rules (topic names, sequence numbers, offset ranges) are checked when the
command is applied, so that the proposer still learns which request was refused and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

FORMAT_VERSION = 1

_PUBLISH = 1
_COMMIT = 2
_CREATE = 3

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


@dataclass(frozen=True, slots=True)
class NewMessage:
    payload: bytes
    producer_id: str | None = None
    seq: int | None = None
    create_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PublishBatch:
    """Messages for one topic from one client request.

    `hlc` is stamped by the leader when it proposes; see `BrokerState` for how each message's
    own timestamp is derived from it. With a `producer_id`, every message carries the same id
    and consecutive sequence numbers (`seq`, `seq + 1`, ...).
    """

    topic: str
    messages: tuple[NewMessage, ...]
    hlc: int
    origin: Origin | None = None


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


Command = PublishBatch | CommitOffset | CreateTopic


def encode_command(cmd: Command) -> bytes:
    if isinstance(cmd, PublishBatch):
        msgs = [[m.payload, m.producer_id, m.seq, m.create_time_ms] for m in cmd.messages]
        body: list[Any] = [_PUBLISH, cmd.topic, cmd.hlc, _origin_out(cmd.origin), msgs]
    elif isinstance(cmd, CommitOffset):
        body = [_COMMIT, cmd.group, cmd.topic, cmd.offset, cmd.expect, _origin_out(cmd.origin)]
    else:
        body = [_CREATE, cmd.topic, _origin_out(cmd.origin)]
    try:
        packed: bytes = msgpack.packb([FORMAT_VERSION, *body], use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CommandError(f"cannot encode {type(cmd).__name__}: {exc}") from exc
    return packed


def decode_command(data: bytes) -> Command:
    try:
        raw = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types on garbage; all mean the same
        raise CommandError(f"not a msgpack command: {exc}") from exc
    if not isinstance(raw, list) or len(raw) < 2:
        raise CommandError("a command is an array [version, kind, ...]")
    version, kind, *fields = raw
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CommandError(f"unsupported command format version {version!r}")
    if kind == _PUBLISH and len(fields) == 4:
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
    raise CommandError(f"unknown command kind {kind!r} with {len(fields)} fields")


def _decode_publish(fields: list[Any]) -> PublishBatch:
    topic, hlc, origin, msgs = fields
    if not isinstance(msgs, list):
        raise CommandError("publish messages must be an array")
    messages = tuple(_decode_message(m) for m in msgs)
    return PublishBatch(_str(topic, "topic"), messages, _int(hlc, "hlc"), _origin_in(origin))


def _decode_message(raw: Any) -> NewMessage:
    if not isinstance(raw, list) or len(raw) != 4:
        raise CommandError("a message is [payload, producer_id, seq, create_time_ms]")
    payload, producer_id, seq, create_time_ms = raw
    if not isinstance(payload, bytes):
        raise CommandError("message payload must be bytes")
    return NewMessage(
        payload,
        _opt_str(producer_id, "producer_id"),
        _opt_int(seq, "seq"),
        _opt_int(create_time_ms, "create_time_ms"),
    )


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


def _opt_str(value: Any, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _int(value: Any, what: str) -> int:
    # bool is an int subclass, but a bool where a number belongs is garbage.
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f"{what} must be an integer, not {type(value).__name__}")
    return value


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)
