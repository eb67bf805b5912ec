"""The peer protocol: Raft messages between nodes, as length-prefixed msgpack frames.

A peer connection opens with a hello frame naming the sending node, then carries one Raft
message per frame. Nothing a peer sends is trusted: every field is type- and range-checked
and anything malformed is a `CodecError`, which the runtime counts and drops (a lying or broken
peer must never crash a node).

Frame: u32 big-endian body length | body (msgpack array). Bodies:
    hello:   [1, "hello", node_id]
    clock:   [1, "clock", src, t1, t2, t3]  (NTP-style probe; t2, t3 null in the request)
    message: [1, type, src, dst, term, index, log_term, commit, reject, reject_hint,
              hint_term, context, entries, snapshot, hlc]
             (hlc: the sender's hybrid clock at send; a 14-field message without it is
             accepted, so nodes of the previous layout still interoperate)
    entries: [[index, term, kind, data], ...]; snapshot: null or
             [index, term, voters, learners, data]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from wiber.codec.errors import CodecError
from wiber.core.types import ConfState, Entry, EntryKind, Message, MessageType, Snapshot

VERSION: Final = 1
MAX_PEER_FRAME: Final = 64 << 20
LENGTH: Final = struct.Struct(">I")
_U64: Final = (1 << 64) - 1
_TYPES: Final = {t.value: t for t in MessageType}
_KINDS: Final = {int(k): k for k in EntryKind}


def encode_hello(node_id: str) -> bytes:
    body: bytes = msgpack.packb([VERSION, "hello", node_id], use_bin_type=True)
    return LENGTH.pack(len(body)) + body


@dataclass(frozen=True, slots=True)
class ClockProbe:
    """A clock-offset exchange between brokers, in wall-clock microseconds: the request carries
    t1 (sent); the answer adds t2 (received) and t3 (answered); the requester notes t4."""

    src: str
    t1: int
    t2: int | None = None
    t3: int | None = None


def encode_clock(probe: ClockProbe) -> bytes:
    body: bytes = msgpack.packb(
        [VERSION, "clock", probe.src, probe.t1, probe.t2, probe.t3], use_bin_type=True
    )
    return LENGTH.pack(len(body)) + body


@dataclass(frozen=True, slots=True)
class Envelope:
    """A Raft message with the sender's hybrid clock when it sent it (None when absent)."""

    message: Message
    hlc: int | None = None


def encode_message(msg: Message, hlc: int | None = None) -> bytes:
    snapshot = None
    if msg.snapshot is not None:
        s = msg.snapshot
        snapshot = [s.index, s.term, list(s.conf.voters), list(s.conf.learners), s.data]
    body: bytes = msgpack.packb(
        [
            VERSION,
            msg.type.value,
            msg.src,
            msg.dst,
            msg.term,
            msg.index,
            msg.log_term,
            msg.commit,
            msg.reject,
            msg.reject_hint,
            msg.hint_term,
            msg.context,
            [[e.index, e.term, int(e.kind), e.data] for e in msg.entries],
            snapshot,
            *(() if hlc is None else (hlc,)),
        ],
        use_bin_type=True,
    )
    return LENGTH.pack(len(body)) + body


class PeerDecoder:
    """Bytes in, hello node id or Raft messages out. Raises `CodecError` on a bad frame; a bad
    length prefix breaks the stream (the caller closes the connection), a bad body does not."""

    def __init__(self, max_frame: int = MAX_PEER_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        """Complete frame bodies, in order."""
        self._buf += data
        out: list[bytes] = []
        pos = 0
        buf = self._buf
        while len(buf) - pos >= 4:
            (length,) = LENGTH.unpack_from(buf, pos)
            if length > self._max or length == 0:
                self._buf = bytearray()
                raise CodecError(f"peer frame of {length} bytes (limit {self._max})")
            if len(buf) - pos - 4 < length:
                break
            out.append(bytes(buf[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        del buf[:pos]
        return out


def decode_body(body: bytes) -> str | Envelope | ClockProbe:
    """A hello's node id, a clock probe, or a Raft message in its envelope."""
    try:
        raw = msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=True)
    except Exception as e:  # msgpack raises many types on garbage; all mean the same here
        raise CodecError(f"peer frame is not msgpack: {e}") from None
    if not isinstance(raw, list) or len(raw) < 3 or raw[0] != VERSION:
        raise CodecError("peer frame is not a [version, ...] array of a known version")
    if raw[1] == "hello" and len(raw) == 3:
        return _text(raw[2], "node id")
    if raw[1] == "clock" and len(raw) == 6:
        t2, t3 = raw[4], raw[5]
        if (t2 is None) != (t3 is None):
            raise CodecError("clock probe: t2 and t3 come together")
        return ClockProbe(
            _text(raw[2], "src"),
            _uint(raw[3], "t1"),
            None if t2 is None else _uint(t2, "t2"),
            None if t3 is None else _uint(t3, "t3"),
        )
    if len(raw) == 15:
        return Envelope(_message(raw[:14]), _uint(raw[14], "hlc"))
    if len(raw) != 14:
        raise CodecError(f"peer message has {len(raw)} fields, expected 15 (or 14)")
    return Envelope(_message(raw))


def _message(raw: list[Any]) -> Message:
    _, type_, src, dst, term, index, log_term, commit, reject, hint, hint_term, ctx, ents, snap = (
        raw
    )
    mtype = _TYPES.get(type_) if isinstance(type_, str) else None
    if mtype is None:
        raise CodecError(f"unknown peer message type {type_!r}")
    if not isinstance(reject, bool) or not isinstance(ctx, bytes):
        raise CodecError("peer message: reject must be a bool and context bytes")
    if not isinstance(ents, list):
        raise CodecError("peer message: entries must be a list")
    return Message(
        type=mtype,
        src=_text(src, "src"),
        dst=_text(dst, "dst"),
        term=_uint(term, "term"),
        index=_uint(index, "index"),
        log_term=_uint(log_term, "log_term"),
        entries=tuple(_entry(e) for e in ents),
        commit=_uint(commit, "commit"),
        reject=reject,
        reject_hint=_uint(hint, "reject_hint"),
        hint_term=_uint(hint_term, "hint_term"),
        snapshot=None if snap is None else _snapshot(snap),
        context=ctx,
    )


def _entry(raw: Any) -> Entry:
    if not isinstance(raw, list) or len(raw) != 4 or not isinstance(raw[3], bytes):
        raise CodecError("peer entry must be [index, term, kind, data]")
    kind = _KINDS.get(raw[2]) if type(raw[2]) is int else None
    if kind is None:
        raise CodecError(f"unknown entry kind {raw[2]!r}")
    return Entry(_uint(raw[0], "entry index"), _uint(raw[1], "entry term"), kind, raw[3])


def _snapshot(raw: Any) -> Snapshot:
    if not isinstance(raw, list) or len(raw) != 5 or not isinstance(raw[4], bytes):
        raise CodecError("peer snapshot must be [index, term, voters, learners, data]")
    voters, learners = raw[2], raw[3]
    if not isinstance(voters, list) or not isinstance(learners, list):
        raise CodecError("snapshot voters and learners must be lists")
    conf = ConfState(
        tuple(_text(v, "voter") for v in voters), tuple(_text(v, "learner") for v in learners)
    )
    return Snapshot(_uint(raw[0], "snapshot index"), _uint(raw[1], "snapshot term"), conf, raw[4])


def _uint(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= _U64:
        raise CodecError(f"peer message: {what} must be an unsigned integer, got {value!r}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise CodecError(f"peer message: {what} must be a non-empty string, got {value!r}")
    return value
