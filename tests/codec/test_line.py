"""The line protocol: the seed's commands and replies byte for byte, new verbs, and bad lines.

Method: hand-written lines pin the seed's exact bytes and every refusal's reason; hypothesis
round-trips every command through `encode_command` and the decoder with the stream split at
random places, and feeds random bytes to check that the decoder never raises.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.codec.strategies import line_commands, line_messages, split_points, topics
from wiber.codec import CodecError
from wiber.codec.line import (
    MAX_LINE_BYTES,
    ErrReply,
    Fetch,
    History,
    LineCommand,
    LineDecoder,
    LineError,
    MsgReply,
    OkReply,
    Ping,
    Pub,
    Quit,
    Sub,
    bye,
    encode_command,
    err,
    fetch_done,
    format_ts,
    history_done,
    history_line,
    msg_line,
    ok,
    parse_reply,
    pong,
    published,
    subscribed,
)


def decode(data: bytes) -> list[LineCommand | LineError]:
    return LineDecoder().feed(data)


def test_the_seed_commands_decode() -> None:
    wire = b"SUB chat\nPUB chat Hello, distributed world!\nHISTORY chat 5\nPING\nQUIT\n"
    assert decode(wire) == [
        Sub("chat"),
        Pub("chat", "Hello, distributed world!"),
        History("chat", 5),
        Ping(),
        Quit(),
    ]


def test_the_new_verbs_decode() -> None:
    assert decode(b"SUB chat FROM 12\nFETCH chat 3 10\n") == [Sub("chat", 12), Fetch("chat", 3, 10)]


def test_verbs_are_case_insensitive_and_crlf_is_accepted() -> None:
    assert decode(b"ping\r\nsub chat from 4\r\nPub t x\r\n") == [
        Ping(),
        Sub("chat", 4),
        Pub("t", "x"),
    ]


def test_a_pub_message_keeps_its_spaces_and_may_be_empty() -> None:
    assert decode(b"PUB t  two  spaces \nPUB t \n") == [Pub("t", " two  spaces "), Pub("t", "")]


def test_blank_lines_are_ignored() -> None:
    assert decode(b"\n  \r\n\t\nPING\n") == [Ping()]


def test_a_partial_line_waits_for_its_newline() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"PUB chat hel") == []
    assert decoder.buffered == 12
    assert decoder.feed(b"lo\nPI") == [Pub("chat", "hello")]
    assert decoder.feed(b"NG\n") == [Ping()]


def test_a_last_line_without_newline_counts_at_eof() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"PING\nQUIT") == [Ping()]
    assert decoder.feed_eof() == [Quit()]
    assert decoder.feed_eof() == []


def test_the_seed_replies_are_byte_exact() -> None:
    hlc = (1764358245123 << 16) | 7
    assert msg_line("chat", hlc, "Hello, distributed world!") == (
        b"MSG chat 1764358245.123 Hello, distributed world!\n"
    )
    assert history_line("chat", hlc, "hi") == b"HISTORY chat 1764358245.123 hi\n"
    assert pong() == b"OK PONG\n"
    assert ok() == b"OK\n"
    assert err("no such thing") == b"ERR no such thing\n"


def test_the_pinned_ok_texts() -> None:
    assert published("chat", 5) == b"OK published chat 5\n"
    assert subscribed("chat") == b"OK subscribed chat\n"
    assert subscribed("chat", 7) == b"OK subscribed chat from 7\n"
    assert history_done("chat", 3) == b"OK history chat 3\n"
    assert fetch_done("chat", 2, 9) == b"OK fetched chat 2 next 9\n"
    assert bye() == b"OK bye\n"


def test_replies_never_hold_a_newline_inside() -> None:
    assert msg_line("t", 0, b"a\nb\r\xffc") == b"MSG t 0.0 a\\nb\\r\\xffc\n"
    assert err("bad\nthing") == b"ERR bad\\nthing\n"


@given(st.integers(0, 2**63 - 1))
def test_ts_is_the_hlc_physical_part_in_seconds(hlc: int) -> None:
    assert round(float(format_ts(hlc)) * 1000) == hlc >> 16


@given(topics, st.integers(0, 2**63 - 1), line_messages, st.booleans())
def test_message_lines_parse_back(topic: str, hlc: int, message: str, history: bool) -> None:
    wire = (history_line if history else msg_line)(topic, hlc, message)
    assert parse_reply(wire) == MsgReply(topic, float(format_ts(hlc)), message, history)


def test_ok_and_err_parse_back_and_other_lines_are_refused() -> None:
    assert parse_reply(published("t", 1)) == OkReply("published t 1")
    assert parse_reply(b"ERR nope\r\n") == ErrReply("nope")
    for bad in (b"WHAT\n", b"MSG t notafloat x\n", b"\xff\n"):
        with pytest.raises(CodecError):
            parse_reply(bad)


@given(
    st.lists(line_commands, max_size=8).flatmap(
        lambda cs: st.tuples(st.just(cs), split_points(b"".join(encode_command(c) for c in cs)))
    )
)
def test_every_command_round_trips_across_any_split(
    case: tuple[list[LineCommand], list[bytes]],
) -> None:
    sent, chunks = case
    decoder = LineDecoder()
    received = [item for chunk in chunks for item in decoder.feed(chunk)]
    assert received == sent
    assert decoder.buffered == 0


@given(st.lists(line_commands, min_size=1, max_size=5), st.data())
def test_a_truncated_stream_yields_a_prefix_and_waits_for_the_rest(
    sent: list[LineCommand], data: st.DataObject
) -> None:
    stream = b"".join(encode_command(c) for c in sent)
    cut = data.draw(st.integers(0, len(stream)))
    decoder = LineDecoder()
    head = decoder.feed(stream[:cut])
    assert head == sent[: len(head)]
    assert decoder.buffered == cut - len(b"".join(encode_command(c) for c in sent[: len(head)]))
    assert head + decoder.feed(stream[cut:]) == sent


def test_eof_in_the_middle_of_an_over_long_line_yields_nothing_more() -> None:
    decoder = LineDecoder(max_line_bytes=8)
    assert len(decoder.feed(b"PUB t 0123456789")) == 1
    assert decoder.feed_eof() == []


@given(st.lists(st.binary(max_size=40), max_size=10))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    decoder = LineDecoder(max_line_bytes=32)
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, LineError | Sub | Pub | History | Fetch | Ping | Quit)
    decoder.feed_eof()


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_an_over_long_line_is_one_error_and_the_decoder_stays_usable(chunk: int) -> None:
    decoder = LineDecoder(max_line_bytes=20)
    wire = b"PUB chat " + b"x" * 50 + b"\nPING\n"
    out = [item for i in range(0, len(wire), chunk) for item in decoder.feed(wire[i : i + chunk])]
    assert out == [LineError("line longer than 20 bytes; dropped up to the next newline"), Ping()]


def test_the_default_line_limit_is_one_mebibyte() -> None:
    assert MAX_LINE_BYTES == 1 << 20
    fits = b"PUB t " + b"x" * (MAX_LINE_BYTES - 6) + b"\n"
    assert decode(fits) == [Pub("t", "x" * (MAX_LINE_BYTES - 6))]
    (error,) = decode(b"PUB t " + b"x" * MAX_LINE_BYTES + b"\n")
    assert isinstance(error, LineError)
    assert "longer than" in error.reason


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"PUB chat \xff\xfe\n", "line is not valid UTF-8 (bad byte at column 9)"),
        (b"FROB chat\n", "unknown command 'FROB'"),
        (b"PUB bad/topic hi\n", "PUB: topic name 'bad/topic' contains '/'"),
        (b"SUB ..\n", "SUB: topic name may not be '..'"),
        (b"SUB " + b"a" * 250 + b"\n", "SUB: topic name has 250 characters, more than 249"),
        (b"PUB chat\n", "PUB: usage: PUB <topic> <message>"),
        (b"HISTORY chat\n", "HISTORY: usage: HISTORY <topic> <n>"),
        (b"HISTORY chat -1\n", "HISTORY: n must be a whole number"),
        (b"HISTORY chat 1_000\n", "HISTORY: n must be a whole number"),
        (b"HISTORY chat +5\n", "HISTORY: n must be a whole number"),
        ("HISTORY chat \u0663\n".encode(), "HISTORY: n must be a whole number"),
        (b"HISTORY chat 99999999999999999999\n", "HISTORY: n must be a whole number"),
        (b"FETCH chat x 5\n", "FETCH: offset must be a whole number"),
        (b"SUB chat AFTER 5\n", "SUB: usage: SUB <topic> [FROM <offset>]"),
        (b"PING now\n", "PING: usage: PING"),
    ],
)
def test_bad_lines_get_clear_reasons_and_the_next_line_still_works(
    wire: bytes, reason: str
) -> None:
    error, after = decode(wire + b"PING\n")
    assert isinstance(error, LineError)
    assert error.reason.startswith(reason)
    assert error.reply().startswith(b"ERR ")
    assert after == Ping()


def test_an_unknown_verb_is_reported_by_name() -> None:
    (error,) = decode(b"frob x y\n")
    assert error == LineError("unknown command 'frob'", verb="frob")


def test_only_ascii_spells_a_verb() -> None:
    # "\u017f" (long s) upper-cases to "S": it must not make "SUB".
    (error,) = decode("\u017fub chat\n".encode())
    assert error == LineError("unknown command '\u017fub'", verb="\u017fub")
    (error,) = decode("SUB chat \u017fROM 1\n".encode())
    assert isinstance(error, LineError)


@pytest.mark.parametrize(
    "command",
    [
        Pub("t", "a\nb"),
        Pub("t", "a\r"),
        Pub("bad topic", "x"),
        History("t", -1),
        Pub("t", "\ud800"),
    ],
)
def test_commands_the_line_cannot_carry_are_refused(command: LineCommand) -> None:
    with pytest.raises(CodecError):
        encode_command(command)


# Lines that can never be commands: they start with a byte that is not UTF-8.
bad_lines = st.binary(max_size=20).map(lambda junk: b"\xff" + junk.replace(b"\n", b"") + b"\n")


@given(st.lists(st.tuples(st.booleans(), line_commands, bad_lines), max_size=8), st.data())
def test_the_decoder_stays_in_step_across_bad_lines(
    items: list[tuple[bool, LineCommand, bytes]], data: st.DataObject
) -> None:
    stream, expected = b"", []
    for good, command, bad in items:
        stream += encode_command(command) if good else bad
        expected.append(command if good else None)
    decoder = LineDecoder()
    out = [x for chunk in data.draw(split_points(stream)) for x in decoder.feed(chunk)]
    assert [None if isinstance(x, LineError) else x for x in out] == expected
