"""Framed-protocol messages refuse to exist when invalid, with a reason that names the rule.

Method: one hand-made violation per rule, each expected to raise `CodecError` with its own
wording; plus the error-code table and version choice.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

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
        (lambda: m.PublishMessage(b"", deps=[("t", 1)]), "deps must be a tuple of (topic, offset)"),  # type: ignore[arg-type]
        (
            lambda: m.PublishMessage(b"", deps=(["t", 1],)),  # type: ignore[arg-type]
            "deps must be a tuple of (topic, offset)",
        ),
        (lambda: m.PublishMessage(b"", deps=(("t",),)), "a dep is a (topic, offset) pair"),  # type: ignore[arg-type]
        (lambda: m.PublishMessage(b"", deps=(("t", -1),)), "dep offset of 't' must be an integer"),
        (
            lambda: m.PublishMessage(b"", deps=(("t", True),)),
            "dep offset of 't' must be an integer",
        ),
        (lambda: m.PublishMessage(b"", deps=(("", 1),)), "dep topic: topic name is empty"),
        (lambda: m.PublishMessage(b"", deps=((7, 1),)), "dep topic"),  # type: ignore[arg-type]
        (lambda: m.PublishMessage(b"", deps=(("t", 0),) * 65), "at most 64 deps, not 65"),
        (lambda: _stored(deps=(("a/b", 0),)), "dep topic: topic name 'a/b' contains '/'"),
        (lambda: _stored(skew_offset_us=5), "skew_offset_us and skew_error_us come together"),
        (lambda: _stored(skew_error_us=5), "skew_offset_us and skew_error_us come together"),
        (lambda: _stored(skew_offset_us=-(2**63) - 1, skew_error_us=0), "skew_offset_us must be"),
        (lambda: _stored(skew_offset_us=0, skew_error_us=-1), "skew_error_us must be in 0.."),
    ],
)
def test_invalid_messages_cannot_be_built(build: object, reason: str) -> None:
    with pytest.raises(CodecError, match=re.escape(reason)):
        build()  # type: ignore[operator]


def _stored(**fields: object) -> m.StoredMessage:
    return m.StoredMessage("t", 0, 0, None, None, None, b"", **fields)  # type: ignore[arg-type]


def test_causal_fields_at_their_limits_are_accepted() -> None:
    deps = tuple((f"t{i}", i) for i in range(m.MAX_DEPS))
    assert m.PublishMessage(b"", deps=deps).deps == deps
    low = _stored(deps=(("t", m.MAX_INT),), skew_offset_us=m.MIN_INT, skew_error_us=m.MAX_INT)
    assert (low.skew_offset_us, low.skew_error_us) == (m.MIN_INT, m.MAX_INT)


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


# Values near every boundary, valid and not, for a model check of the per-message fast paths:
# every combination for PublishMessage, every field varied alone for StoredMessage.
COUNTS: list[object] = [None, 0, 5, m.MAX_INT, m.MAX_INT + 1, -1, True, 1.0, "5"]
IDS: list[object] = [None, "p", "x" * 255, "x" * 256, "", 5, b"p"]
TOPICS: list[object] = ["t", "a.b-c_9", "x" * 249, ".", "..", "", "a b", "x" * 250, 7, None]
PAYLOADS: list[object] = [b"", b"x", "x", None, bytearray(b"x")]


def _count(value: object, optional: bool = True) -> bool:
    return (optional and value is None) or (type(value) is int and 0 <= value <= m.MAX_INT)


def _id(value: object) -> bool:
    return value is None or (type(value) is str and 0 < len(value) <= 255)


def _builds(build: Callable[[], object]) -> bool:
    try:
        build()
    except CodecError:
        return False
    return True


def test_publish_message_accepts_exactly_the_model() -> None:
    for payload, producer, seq, time_ms in itertools.product(PAYLOADS, IDS, COUNTS, COUNTS):
        expected = (
            type(payload) is bytes
            and (producer is None) == (seq is None)
            and _id(producer)
            and _count(seq)
            and _count(time_ms)
        )
        built = _builds(lambda: m.PublishMessage(payload, producer, seq, time_ms))  # type: ignore[arg-type]  # noqa: B023
        assert built == expected, (payload, producer, seq, time_ms)


STORED_POOLS: dict[str, tuple[list[object], Callable[[object], bool]]] = {
    "topic": (
        TOPICS,
        lambda t: (
            type(t) is str
            and bool(re.fullmatch(r"[A-Za-z0-9._-]{1,249}", t))
            and t not in (".", "..")
        ),
    ),
    "offset": (COUNTS, lambda v: _count(v, optional=False)),
    "hlc": (COUNTS, lambda v: _count(v, optional=False)),
    "producer_id": (IDS, _id),
    "seq": (COUNTS, lambda v: _count(v)),
    "create_time_ms": (COUNTS, lambda v: _count(v)),
    "payload": (PAYLOADS, lambda v: type(v) is bytes),
    "node": (IDS, _id),
}


@pytest.mark.parametrize("name", list(STORED_POOLS))
def test_stored_message_accepts_exactly_the_model(name: str) -> None:
    base: dict[str, object] = {
        "topic": "t",
        "offset": 1,
        "hlc": 2,
        "producer_id": "p",
        "seq": 3,
        "create_time_ms": None,
        "payload": b"x",
        "node": "n1",
    }
    pool, valid = STORED_POOLS[name]
    for value in pool:
        fields = {**base, name: value}
        assert _builds(lambda: m.StoredMessage(**fields)) == valid(value), (name, value)  # type: ignore[arg-type]  # noqa: B023
