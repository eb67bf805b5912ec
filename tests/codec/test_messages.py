"""Framed-protocol messages refuse to exist when invalid, with a reason that names the rule.

Method: one hand-made violation per rule, each expected to raise `CodecError` with its own
wording; plus the error-code table and version choice.
"""

from __future__ import annotations

import re

import pytest

from wiber.codec import CodecError
from wiber.codec import messages as m


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: m.Fetch("t"), "give exactly one of from_offset | last_n | from_time_ms, not none"),
        (lambda: m.Fetch("t", from_offset=1, last_n=2), "not ['from_offset', 'last_n']"),
        (lambda: m.Subscribe("t", last_n=1, from_time_ms=2), "give exactly one of"),
        (lambda: m.Fetch("t", from_offset=-1), "from_offset must be in 0.."),
        (lambda: m.Fetch("t", last_n=True), "last_n must be an integer, not bool"),
        (lambda: m.Fetch("t", last_n=1, max_count=0), "max_count must be in 1..65536"),
        (lambda: m.Publish("t", []), "messages must hold 1..65536 items, not 0"),
        (lambda: m.Publish("t", [m.PublishMessage(b"")] * 65_537), "not 65537"),
        (lambda: m.Publish("t", [m.PublishMessage(b"")], acks="one"), "acks must be"),  # type: ignore[arg-type]
        (lambda: m.Publish("a b", [m.PublishMessage(b"")]), "topic name 'a b' contains ' '"),
        (lambda: m.PublishMessage(b"", "p"), "producer_id and seq come together"),
        (lambda: m.PublishMessage("text"), "payload must be bytes, not str"),  # type: ignore[arg-type]
        (lambda: m.Hello([], "c"), "versions must list 1..64 versions, not 0"),
        (lambda: m.Hello([0], "c"), "version must be in 1..65535"),
        (lambda: m.Hello([1], ""), "client_id must have 1..255 characters"),
        (lambda: m.CommitOffset("g/1", "t", 0), "group name 'g/1' contains '/'"),
        (lambda: m.OffsetOk(2**63), "offset must be in 0.."),
        (lambda: m.Error("timeout", "x", definite=1), "definite must be a boolean"),  # type: ignore[arg-type]
        (lambda: m.StoredMessage("t", 0, -5, None, None, None, b""), "hlc must be in 0.."),
    ],
)
def test_invalid_messages_cannot_be_built(build: object, reason: str) -> None:
    with pytest.raises(CodecError, match=re.escape(reason)):
        build()  # type: ignore[operator]


def test_valid_starting_points() -> None:
    assert m.Fetch("t", from_time_ms=5).from_time_ms == 5
    assert m.Subscribe("t").from_offset is None  # live only
    assert m.Subscribe("t", group="g").group == "g"


def test_every_error_code_has_a_definite_default() -> None:
    assert set(m.DEFINITE_BY_DEFAULT) == set(m.ErrorCode)
    assert m.DEFINITE_BY_DEFAULT[m.ErrorCode.TIMEOUT] is False
    assert m.DEFINITE_BY_DEFAULT[m.ErrorCode.NOT_LEADER] is True


def test_version_choice() -> None:
    assert m.choose_version([1, 2, 3]) == 1
    assert m.choose_version([7]) is None
