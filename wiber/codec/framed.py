"""The framed protocol: length-prefixed msgpack frames, pipelined, binary-safe.

Theory of operation. A framed connection starts with `MAGIC` (see `wiber.codec.sniff`), then
carries frames both ways:

    frame = length:u32be  body          length = len(body), 5 <= length <= max_frame_bytes
    body  = type:u8  request_id:u32be  payload:msgpack

`type` names the message class (`FrameType`), `payload` is a msgpack map from the dataclass's
field names to values; records inside lists (`PublishMessage`, `StoredMessage`, `Member`) are
msgpack arrays in field order, since they repeat per message and their keys would cost more
than a small payload. Receivers ignore map keys they do not know, and fields with defaults may
be left out, so adding an optional field needs no new protocol version. Fields added that way
later (`Publish.traceparent`) are left out when unset (`_OMITTED_WHEN_NONE`), so a message
that does not use them is the same bytes it was before they existed.

A client picks a fresh `request_id` (1..2**32-1) for every request and may send many before
any answer (pipelining); each response carries the id of its request and responses may come in
any order. Pushes (`Delivery`) carry request id 0.

Decoding is incremental and total: `FrameDecoder.feed` returns whole frames and, for a frame
that is malformed, too large or of unknown type, a `FrameError` value. Because the length is
read first, the decoder skips a bad frame's body and stays in step, so the server can answer
with an `Error` frame and keep the connection. The only unrecoverable input is a wrong magic,
which raises `CodecError` (and keeps raising it: the connection must close).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

import msgpack

from wiber.codec import messages as m
from wiber.codec.errors import CodecError
from wiber.codec.sniff import MAGIC

MAX_FRAME_BYTES: Final = 16 << 20
HEADER: Final = struct.Struct(">IBI")  # length, type, request id
LENGTH: Final = struct.Struct(">I")
_BODY_HEADER_BYTES: Final = 5
MAX_REQUEST_ID: Final = 2**32 - 1


class FrameType(enum.IntEnum):
    HELLO = 0x01
    PUBLISH = 0x02
    FETCH = 0x03
    SUBSCRIBE = 0x04
    UNSUBSCRIBE = 0x05
    COMMIT_OFFSET = 0x06
    FETCH_OFFSET = 0x07
    METADATA = 0x08
    PING = 0x09
    STATUS = 0x0A
    CHANGE_MEMBERS = 0x0B
    TRANSFER_LEADER = 0x0C
    AUTHENTICATE = 0x0D
    PUT_USER = 0x0E
    REMOVE_USER = 0x0F
    CHANGE_ACL = 0x10
    LIST_ACLS = 0x11
    HELLO_OK = 0x81
    PUBLISH_OK = 0x82
    FETCH_OK = 0x83
    SUBSCRIBE_OK = 0x84
    OK = 0x85
    OFFSET_OK = 0x86
    METADATA_OK = 0x87
    PONG = 0x88
    STATUS_OK = 0x89
    AUTH_REPLY = 0x8A
    ACL_LIST = 0x8B
    DELIVERY = 0xC1
    ERROR = 0xFF


MESSAGE_CLASSES: Final[dict[FrameType, type[m.Message]]] = {
    FrameType.HELLO: m.Hello,
    FrameType.PUBLISH: m.Publish,
    FrameType.FETCH: m.Fetch,
    FrameType.SUBSCRIBE: m.Subscribe,
    FrameType.UNSUBSCRIBE: m.Unsubscribe,
    FrameType.COMMIT_OFFSET: m.CommitOffset,
    FrameType.FETCH_OFFSET: m.FetchOffset,
    FrameType.METADATA: m.Metadata,
    FrameType.PING: m.Ping,
    FrameType.STATUS: m.Status,
    FrameType.CHANGE_MEMBERS: m.ChangeMembers,
    FrameType.TRANSFER_LEADER: m.TransferLeader,
    FrameType.AUTHENTICATE: m.Authenticate,
    FrameType.PUT_USER: m.PutUser,
    FrameType.REMOVE_USER: m.RemoveUser,
    FrameType.CHANGE_ACL: m.ChangeAcl,
    FrameType.LIST_ACLS: m.ListAcls,
    FrameType.HELLO_OK: m.HelloOk,
    FrameType.PUBLISH_OK: m.PublishOk,
    FrameType.FETCH_OK: m.FetchOk,
    FrameType.SUBSCRIBE_OK: m.SubscribeOk,
    FrameType.OK: m.Ok,
    FrameType.OFFSET_OK: m.OffsetOk,
    FrameType.METADATA_OK: m.MetadataOk,
    FrameType.PONG: m.Pong,
    FrameType.STATUS_OK: m.StatusOk,
    FrameType.AUTH_REPLY: m.AuthReply,
    FrameType.ACL_LIST: m.AclList,
    FrameType.DELIVERY: m.Delivery,
    FrameType.ERROR: m.Error,
}
FRAME_TYPES: Final[dict[type[m.Message], FrameType]] = {
    cls: ftype for ftype, cls in MESSAGE_CLASSES.items()
}
REQUEST_TYPES: Final = frozenset(t for t in FrameType if t < 0x80)
_CLASS_BY_CODE: Final = {int(ftype): cls for ftype, cls in MESSAGE_CLASSES.items()}


@dataclass(frozen=True, slots=True)
class Frame:
    """One message with its request id: > 0 on requests, 0 on pushes, the request's on answers.

    Responses to a frame whose id could not be read (shorter than its header) carry id 0.
    """

    request_id: int
    message: m.Message

    def __post_init__(self) -> None:
        m.check_count("request_id", self.request_id, high=MAX_REQUEST_ID)
        ftype = FRAME_TYPES.get(type(self.message))
        if ftype is None:
            raise CodecError(f"{type(self.message).__name__} is not a framed-protocol message")
        if ftype in REQUEST_TYPES and self.request_id == 0:
            raise CodecError("request id 0 is reserved for pushes")
        if ftype is FrameType.DELIVERY and self.request_id != 0:
            raise CodecError("a Delivery push carries request id 0")


@dataclass(frozen=True, slots=True)
class FrameError:
    """A frame the decoder refused; the decoder has skipped it and stays usable.

    `request_id` is the refused frame's id when its header could be read, else None.
    """

    code: str
    message: str
    request_id: int | None

    def reply(self) -> Frame:
        """The `Error` frame a server sends back for this refused frame."""
        error = m.Error(code=self.code, message=self.message, definite=True)
        return Frame(self.request_id or 0, error)


# --- payload schema --------------------------------------------------------------------------
# Scalars go through unchanged: the dataclasses check them on construction. Containers need
# converting (and checking that they are lists at all) before the constructor can look at them.

Convert = Callable[[Any], Any]


def _items(raw: object, widths: tuple[int, ...], what: str) -> list[list[Any]]:
    if type(raw) is not list:
        raise CodecError(f"{what} must be a list, not {type(raw).__name__}")
    if len(raw) > m.MAX_BATCH_MESSAGES:
        raise CodecError(f"{what} holds {len(raw)} items, more than {m.MAX_BATCH_MESSAGES}")
    for item in raw:
        if type(item) is not list or len(item) not in widths:
            shape = " or ".join(map(str, widths))
            raise CodecError(f"each of {what} must be an array of {shape} fields")
    return raw


# Records grew fields for causal order; the short forms are what older peers send and what is
# sent when the new fields are empty, so old and new builds keep understanding each other.
_PUBLISH_WIDTHS: Final = (4, 5)  # payload, producer_id, seq, create_time_ms[, deps]
_STORED_WIDTHS: Final = (8, 11, 12)  # ..., node[, deps, skew_offset_us, skew_error_us[, tp]]


def _deps_in(raw: object) -> tuple[m.Dep, ...]:
    if type(raw) is not list or not all(type(d) is list and len(d) == 2 for d in raw):
        raise CodecError("deps must be an array of [topic, offset] arrays")
    return tuple((d[0], d[1]) for d in raw)


def _decode_publish_messages(raw: object) -> list[m.PublishMessage]:
    out = []
    for item in _items(raw, _PUBLISH_WIDTHS, "messages"):
        if len(item) == 5:
            item[4] = _deps_in(item[4])
        out.append(m.PublishMessage(*item))
    return out


def _encode_publish_messages(messages: list[m.PublishMessage]) -> list[list[Any]]:
    return [
        [x.payload, x.producer_id, x.seq, x.create_time_ms, x.deps]
        if x.deps
        else [x.payload, x.producer_id, x.seq, x.create_time_ms]
        for x in messages
    ]


def _decode_stored_messages(raw: object) -> list[m.StoredMessage]:
    out = []
    for item in _items(raw, _STORED_WIDTHS, "messages"):
        if len(item) > 8:
            item[8] = _deps_in(item[8])
        out.append(m.StoredMessage(*item))
    return out


def _encode_stored_messages(messages: list[m.StoredMessage]) -> list[list[Any]]:
    return [_stored_row(x) for x in messages]


def _stored_row(x: m.StoredMessage) -> list[Any]:
    row = [x.topic, x.offset, x.hlc, x.producer_id, x.seq, x.create_time_ms, x.payload, x.node]
    if x.traceparent is not None:
        row += (x.deps, x.skew_offset_us, x.skew_error_us, x.traceparent)
    elif x.deps or x.skew_offset_us is not None:
        row += (x.deps, x.skew_offset_us, x.skew_error_us)
    return row


def _decode_members(raw: object) -> list[m.Member]:
    return [m.Member(*item) for item in _items(raw, (2,), "members")]


def _encode_members(members: list[m.Member]) -> list[list[Any]]:
    return [[x.id, x.address] for x in members]


def _decode_rules(raw: object) -> list[tuple[str, str, str]]:
    if type(raw) is not list:
        raise CodecError("rules must be an array")
    rules = []
    for item in raw:
        if not (type(item) is list and len(item) == 3 and all(type(x) is str for x in item)):
            raise CodecError("an ACL rule is [principal, operation, pattern]")
        rules.append((item[0], item[1], item[2]))
    return rules


def _decode_str_list(raw: object) -> list[str]:
    if type(raw) is not list or not all(type(x) is str for x in raw):
        raise CodecError("expected an array of strings")
    return list(raw)


def _decode_int_list(raw: object) -> list[int]:
    if type(raw) is not list:
        raise CodecError(f"expected a list of integers, not {type(raw).__name__}")
    return raw


_CONVERTERS: Final[dict[tuple[type[m.Message], str], tuple[Convert, Convert]]] = {
    (m.Hello, "versions"): (_decode_int_list, list),
    (m.PublishOk, "offsets"): (_decode_int_list, list),
    (m.Publish, "messages"): (_decode_publish_messages, _encode_publish_messages),
    (m.FetchOk, "messages"): (_decode_stored_messages, _encode_stored_messages),
    (m.Delivery, "messages"): (_decode_stored_messages, _encode_stored_messages),
    (m.MetadataOk, "members"): (_decode_members, _encode_members),
    (m.AclList, "rules"): (_decode_rules, list),
    (m.AclList, "users"): (_decode_str_list, list),
}


# Optional fields added after version 1 shipped: left out of the payload when None, so that
# peers (and byte-for-byte tests) see no difference until the field is used.
_OMITTED_WHEN_NONE: Final = frozenset({(m.Publish, "traceparent")})


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    required: bool
    decode: Convert | None
    encode: Convert | None
    omit_none: bool = False


def _schema(cls: type[m.Message]) -> tuple[_Field, ...]:
    out = []
    for f in fields(cls):
        decode, encode = _CONVERTERS.get((cls, f.name), (None, None))
        required = f.default is MISSING and f.default_factory is MISSING
        omit = (cls, f.name) in _OMITTED_WHEN_NONE
        out.append(_Field(f.name, required, decode, encode, omit))
    return tuple(out)


_SCHEMAS: Final = {cls: _schema(cls) for cls in MESSAGE_CLASSES.values()}
# The decoder's view of the schema as plain tuples: it runs once per field of every frame.
_DECODE_PLANS: Final = {
    cls: tuple((f.name, f.required, f.decode) for f in schema) for cls, schema in _SCHEMAS.items()
}
_ABSENT: Final = object()


def _to_payload(message: m.Message) -> dict[str, Any]:
    payload = {}
    for f in _SCHEMAS[type(message)]:
        value = getattr(message, f.name)
        if value is None and f.omit_none:
            continue
        payload[f.name] = f.encode(value) if f.encode else value
    return payload


def _from_payload(cls: type[m.Message], raw: object) -> m.Message:
    if type(raw) is not dict:
        raise CodecError(f"{cls.__name__} payload must be a map, not {type(raw).__name__}")
    kwargs: dict[str, Any] = {}
    for name, required, decode in _DECODE_PLANS[cls]:
        value = raw.get(name, _ABSENT)
        if value is _ABSENT:
            if required:
                raise CodecError(f"{cls.__name__} lacks the field {name!r}")
        else:
            kwargs[name] = value if decode is None else decode(value)
    return cls(**kwargs)


# --- encoding --------------------------------------------------------------------------------


def encode(frame: Frame, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The bytes of one frame. Raises `CodecError` (code frame-too-large) past the limit."""
    try:
        payload: bytes = msgpack.packb(_to_payload(frame.message), use_bin_type=True)
    except UnicodeEncodeError as e:  # a str with lone surrogates has no UTF-8 form
        raise CodecError(f"text is not encodable as UTF-8: {e.reason}") from e
    length = _BODY_HEADER_BYTES + len(payload)
    if length > max_frame_bytes:
        raise CodecError(
            f"frame body of {length} bytes exceeds the limit of {max_frame_bytes}",
            code=m.ErrorCode.FRAME_TOO_LARGE,
        )
    ftype = FRAME_TYPES[type(frame.message)]
    return HEADER.pack(length, ftype, frame.request_id) + payload


def encode_message(request_id: int, message: m.Message) -> bytes:
    """Shorthand for `encode(Frame(request_id, message))`."""
    return encode(Frame(request_id, message))


# --- decoding --------------------------------------------------------------------------------


class FrameDecoder:
    """Bytes in, frames out; keeps partial frames until the rest arrives.

    Args:
        max_frame_bytes: the largest body accepted; a larger frame yields a `FrameError`
            (code frame-too-large) and its body is skipped as it arrives.
        expect_magic: the server side, which reads the connection's `MAGIC` before any frame.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES, expect_magic: bool = False):
        m.check_count("max_frame_bytes", max_frame_bytes, low=_BODY_HEADER_BYTES)
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._need_magic = expect_magic
        self._skip = 0  # bytes of a refused frame's body still to drop
        self._broken: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        """Add received bytes; return every frame (or refused frame) now complete, in order."""
        if self._broken is not None:
            raise CodecError(self._broken)
        buf = self._buf
        buf += data
        if self._need_magic and not self._read_magic():
            return []
        out: list[Frame | FrameError] = []
        pos = 0
        while True:
            if self._skip:
                dropped = min(self._skip, len(buf) - pos)
                pos += dropped
                self._skip -= dropped
                if self._skip:
                    break
            consumed = self._next(pos, out)
            if consumed == 0:
                break
            pos += consumed
        del buf[:pos]
        return out

    def _read_magic(self) -> bool:
        head = bytes(self._buf[: len(MAGIC)])
        if not MAGIC.startswith(head):
            self._broken = f"connection did not open with the framed protocol's magic {MAGIC!r}"
            self._buf.clear()
            raise CodecError(self._broken)
        if len(head) < len(MAGIC):
            return False
        del self._buf[: len(MAGIC)]
        self._need_magic = False
        return True

    def _next(self, pos: int, out: list[Frame | FrameError]) -> int:
        """Read one frame at `pos` into `out`; return the bytes consumed, 0 if incomplete."""
        buf = self._buf
        avail = len(buf) - pos
        if avail < LENGTH.size:
            return 0
        length: int = LENGTH.unpack_from(buf, pos)[0]
        if length < _BODY_HEADER_BYTES:
            out.append(FrameError(m.ErrorCode.BAD_REQUEST, _short_frame(length), None))
            self._skip = length
            return LENGTH.size
        if avail < HEADER.size:
            return 0
        _, ftype, request_id = HEADER.unpack_from(buf, pos)
        if length > self._max:
            text = f"frame body of {length} bytes exceeds the limit of {self._max}"
            out.append(FrameError(m.ErrorCode.FRAME_TOO_LARGE, text, request_id))
            self._skip = length - _BODY_HEADER_BYTES
            return HEADER.size
        if avail < LENGTH.size + length:
            return 0
        out.append(self._decode_body(ftype, request_id, pos + HEADER.size, pos + 4 + length))
        return LENGTH.size + length

    def _decode_body(self, ftype: int, request_id: int, start: int, end: int) -> Frame | FrameError:
        cls = _CLASS_BY_CODE.get(ftype)
        if cls is None:
            return FrameError(
                m.ErrorCode.BAD_REQUEST, f"unknown frame type 0x{ftype:02x}", request_id
            )
        try:
            raw = _unpack(self._buf[start:end])  # one small copy; no view pins the buffer
            return Frame(request_id, _from_payload(cls, raw))
        except CodecError as e:
            return FrameError(e.code, f"bad {cls.__name__} frame: {e}", request_id)


def _unpack(data: bytearray) -> object:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    # why: msgpack reports bad input through many types (ValueError, its FormatError and
    # StackError, UnicodeDecodeError, TypeError); all of them mean the same thing here.
    except Exception as e:
        raise CodecError(f"payload is not valid msgpack ({type(e).__name__}: {e})") from e


def _short_frame(length: int) -> str:
    return f"frame body of {length} bytes is shorter than its {_BODY_HEADER_BYTES}-byte header"
