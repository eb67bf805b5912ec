"""The line protocol: the seed demo's text commands, kept byte-compatible, plus new verbs.

Theory of operation. A client sends one command per line (`\\n`, or `\\r\\n`), verbs in any
case; the broker answers with lines of its own. `LineDecoder.feed` turns received bytes into
commands, keeping a partial line until its newline arrives. Every bad line becomes one
`LineError` value (answered with `ERR <reason>`) and never stops the decoder, so a person at
`nc` who mistypes can carry on. A line longer than `max_line_bytes` yields one `LineError` and
the rest of it is dropped as it arrives, up to the next newline.

Client -> broker (the seed's verbs, then extensions):

    SUB <topic>                    live messages             -> OK subscribed <topic>
    PUB <topic> <message...>       message = rest of line    -> OK published <topic> <offset>
    HISTORY <topic> <n>            the last n messages       -> n x HISTORY ..., OK history ...
    PING                                                     -> OK PONG
    QUIT                                                     -> OK bye, then the broker closes
    SUB <topic> FROM <offset>      history from an offset, then live, no gap, no duplicate
    FETCH <topic> <offset> <n>     n messages from an offset -> HISTORY ..., OK fetched ...

Broker -> client: `OK <desc>`, `ERR <desc>`, `MSG <topic> <ts> <message>`,
`HISTORY <topic> <ts> <message>`, where `ts` is the HLC's physical milliseconds / 1000 as
Python's shortest round-tripping float text ("1764358245.123").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from wiber.codec.errors import CodecError
from wiber.codec.names import validate_topic

MAX_LINE_BYTES: Final = 1 << 20
MAX_NUMBER: Final = 2**63 - 1
_NUMBER: Final = re.compile(r"[0-9]{1,19}")
_HEAD: Final = re.compile(r"[ \t]*([^ \t]+)(.*)", re.DOTALL)  # verb, rest of the line
_PUB_ARGS: Final = re.compile(r"[ \t]+([^ \t]+)[ \t](.*)", re.DOTALL)  # topic, message


@dataclass(frozen=True, slots=True)
class Sub:
    topic: str
    from_offset: int | None = None  # None: live messages only (the seed's SUB)


@dataclass(frozen=True, slots=True)
class Pub:
    topic: str
    message: str


@dataclass(frozen=True, slots=True)
class History:
    topic: str
    n: int


@dataclass(frozen=True, slots=True)
class Fetch:
    topic: str
    offset: int
    n: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


LineCommand = Sub | Pub | History | Fetch | Ping | Quit


@dataclass(frozen=True, slots=True)
class LineError:
    """A line the decoder refused; answer it with `err(reason)` and read on."""

    reason: str
    verb: str | None = None  # the verb as sent, when the line had one

    def reply(self) -> bytes:
        return err(self.reason)


# --- decoding --------------------------------------------------------------------------------


class LineDecoder:
    """Bytes in, commands out. Never raises: bad lines come out as `LineError` values."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already known to hold no newline
        self._discarding = False  # dropping the rest of an over-long line

    @property
    def buffered(self) -> int:
        """Bytes of a partial line held back waiting for its newline."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[LineCommand | LineError]:
        """Add received bytes; return the commands (or errors) of every completed line."""
        buf = self._buf
        buf += data
        out: list[LineCommand | LineError] = []
        start = 0
        newline = buf.find(b"\n", self._scanned)
        while newline >= 0:
            if self._discarding:
                self._discarding = False
            else:
                item = parse_line(buf, start, newline, self._max)
                if item is not None:
                    out.append(item)
            start = newline + 1
            newline = buf.find(b"\n", start)
        del buf[:start]
        self._scanned = len(buf)
        if self._discarding:
            buf.clear()
            self._scanned = 0
        elif len(buf) > self._max:
            out.append(_too_long(self._max))
            buf.clear()
            self._scanned = 0
            self._discarding = True
        return out

    def feed_eof(self) -> list[LineCommand | LineError]:
        """The peer closed: a last line without its newline still counts (`printf PING | nc`)."""
        buf, discarding = self._buf, self._discarding
        self._buf, self._scanned, self._discarding = bytearray(), 0, False
        item = parse_line(buf, 0, len(buf), self._max) if buf and not discarding else None
        return [item] if item is not None else []


def _too_long(limit: int) -> LineError:
    return LineError(f"line longer than {limit} bytes; dropped up to the next newline")


def parse_line(
    buf: bytes | bytearray, start: int, end: int, max_line_bytes: int = MAX_LINE_BYTES
) -> LineCommand | LineError | None:
    """The command in `buf[start:end]` (no newline); None for a blank line, which is ignored."""
    if end - start > max_line_bytes:
        return _too_long(max_line_bytes)
    if end > start and buf[end - 1] == 0x0D:  # \r of a \r\n ending
        end -= 1
    try:
        text = buf[start:end].decode("utf-8")
    except UnicodeDecodeError as e:
        return LineError(f"line is not valid UTF-8 (bad byte at column {e.start})")
    head = _HEAD.match(text)
    if head is None:
        return None
    verb, rest = head.group(1), head.group(2)
    # isascii: str.upper() maps some non-ASCII letters onto ASCII ("\u017fub" -> "SUB").
    parser = _PARSERS.get(verb.upper()) if verb.isascii() else None
    if parser is None:
        return LineError(f"unknown command {_shorten(verb)!r}", verb=_shorten(verb))
    try:
        return parser(rest)
    except CodecError as e:
        return LineError(f"{verb.upper()}: {e}", verb=verb)


def _parse_pub(rest: str) -> Pub:
    # The message is the rest of the line after one separator, spaces and all, as in the seed.
    args = _PUB_ARGS.fullmatch(rest)
    if args is None:
        raise CodecError("usage: PUB <topic> <message>")
    topic, message = args.group(1), args.group(2)
    validate_topic(topic)
    return Pub(topic, message)


def _args(rest: str, counts: tuple[int, ...], usage: str) -> list[str]:
    args = rest.split()
    if len(args) not in counts:
        raise CodecError(f"usage: {usage}")
    return args


def _parse_sub(rest: str) -> Sub:
    args = _args(rest, (1, 3), "SUB <topic> [FROM <offset>]")
    validate_topic(args[0])
    if len(args) == 1:
        return Sub(args[0])
    if not args[1].isascii() or args[1].upper() != "FROM":
        raise CodecError("usage: SUB <topic> [FROM <offset>]")
    return Sub(args[0], _number("offset", args[2]))


def _parse_history(rest: str) -> History:
    topic, n = _args(rest, (2,), "HISTORY <topic> <n>")
    validate_topic(topic)
    return History(topic, _number("n", n))


def _parse_fetch(rest: str) -> Fetch:
    topic, offset, n = _args(rest, (3,), "FETCH <topic> <offset> <n>")
    validate_topic(topic)
    return Fetch(topic, _number("offset", offset), _number("n", n))


def _parse_ping(rest: str) -> Ping:
    _args(rest, (0,), "PING")
    return Ping()


def _parse_quit(rest: str) -> Quit:
    _args(rest, (0,), "QUIT")
    return Quit()


_PARSERS: Final[dict[str, Callable[[str], LineCommand]]] = {
    "SUB": _parse_sub,
    "PUB": _parse_pub,
    "HISTORY": _parse_history,
    "FETCH": _parse_fetch,
    "PING": _parse_ping,
    "QUIT": _parse_quit,
}


def _number(name: str, text: str) -> int:
    # int() would also take "+5", "1_000" and non-ASCII digits; the wire takes plain digits.
    if not _NUMBER.fullmatch(text) or int(text) > MAX_NUMBER:
        raise CodecError(f"{name} must be a whole number 0..{MAX_NUMBER}, not {_shorten(text)!r}")
    return int(text)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --- encoding: broker -> client --------------------------------------------------------------


def format_ts(hlc: int) -> str:
    """The seed's `ts`: the HLC's physical milliseconds as float seconds, e.g. "1764358245.123"."""
    return repr((hlc >> 16) / 1000)


def as_text(message: str | bytes) -> str:
    """A payload as one line of text: invalid UTF-8 as \\xNN, CR and LF as \\r and \\n.

    Messages published over the line protocol never hold a newline, so they come back
    unchanged; binary payloads from framed clients get a readable, lossy rendering.
    """
    if isinstance(message, bytes):
        message = message.decode("utf-8", "backslashreplace")
    if "\n" in message or "\r" in message:
        message = message.replace("\r", "\\r").replace("\n", "\\n")
    return message


def _line(text: str) -> bytes:
    return (text + "\n").encode("utf-8", "backslashreplace")


def ok(desc: str = "") -> bytes:
    return _line(f"OK {as_text(desc)}" if desc else "OK")


def err(desc: str) -> bytes:
    return _line(f"ERR {as_text(desc)}")


def msg_line(topic: str, hlc: int, message: str | bytes) -> bytes:
    return _line(f"MSG {topic} {format_ts(hlc)} {as_text(message)}")


def history_line(topic: str, hlc: int, message: str | bytes) -> bytes:
    return _line(f"HISTORY {topic} {format_ts(hlc)} {as_text(message)}")


# The pinned texts of the OK replies; clients may rely on the words after "OK".


def pong() -> bytes:
    return ok("PONG")


def published(topic: str, offset: int) -> bytes:
    return ok(f"published {topic} {offset}")


def subscribed(topic: str, from_offset: int | None = None) -> bytes:
    if from_offset is None:
        return ok(f"subscribed {topic}")
    return ok(f"subscribed {topic} from {from_offset}")


def history_done(topic: str, count: int) -> bytes:
    """Ends the HISTORY lines of a HISTORY command; `count` is how many were sent."""
    return ok(f"history {topic} {count}")


def fetch_done(topic: str, count: int, next_offset: int) -> bytes:
    """Ends the HISTORY lines of a FETCH; `next_offset` is where the next page starts."""
    return ok(f"fetched {topic} {count} next {next_offset}")


def bye() -> bytes:
    return ok("bye")


# --- encoding: client -> broker --------------------------------------------------------------


def encode_command(command: LineCommand) -> bytes:
    """The line a client sends. Raises `CodecError` for what the line protocol cannot carry."""
    match command:
        case Ping():
            return b"PING\n"
        case Quit():
            return b"QUIT\n"
        case Sub(topic, None):
            text = f"SUB {topic}"
        case Sub(topic, from_offset):
            text = f"SUB {topic} FROM {from_offset}"
        case Pub(topic, message):
            if "\n" in message or "\r" in message:
                raise CodecError("a line-protocol message cannot hold CR or LF")
            text = f"PUB {topic} {message}"
        case History(topic, n):
            text = f"HISTORY {topic} {n}"
        case Fetch(topic, offset, n):
            text = f"FETCH {topic} {offset} {n}"
    validate_topic(command.topic)
    for name in ("from_offset", "offset", "n"):
        value = getattr(command, name, None)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_NUMBER):
            raise CodecError(f"{name} must be a whole number 0..{MAX_NUMBER}, not {value!r}")
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError as e:
        raise CodecError(f"message is not encodable as UTF-8: {e.reason}") from e


# --- decoding: broker -> client --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OkReply:
    desc: str


@dataclass(frozen=True, slots=True)
class ErrReply:
    desc: str


@dataclass(frozen=True, slots=True)
class MsgReply:
    """A `MSG` line (`history` False) or a `HISTORY` line (`history` True)."""

    topic: str
    ts: float
    message: str
    history: bool = False


LineReply = OkReply | ErrReply | MsgReply


def parse_reply(line: bytes) -> LineReply:
    """One broker line (with or without its newline), for clients. Raises `CodecError`."""
    try:
        text = line.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError as e:
        raise CodecError("reply is not valid UTF-8") from e
    kind, _, rest = text.partition(" ")
    if kind in ("OK", "ERR"):
        return OkReply(rest) if kind == "OK" else ErrReply(rest)
    if kind in ("MSG", "HISTORY"):
        parts = rest.split(" ", 2)
        if len(parts) == 3:
            topic, ts, message = parts
            try:
                return MsgReply(topic, float(ts), message, history=kind == "HISTORY")
            except ValueError:
                pass
    raise CodecError(f"not a broker reply: {_shorten(text)!r}")
