"""Topic and group name rules, and telling the two protocols apart by their first bytes.

Method: the name rule is checked against an independent model (a plain regular expression
plus the two forbidden names); sniffing is checked on examples and on the property that more
bytes never change a decision once it is made.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.codec import MAGIC, CodecError, sniff, validate_group, validate_topic
from wiber.codec.framed import Frame, encode
from wiber.codec.messages import Ping

MODEL = re.compile(r"[A-Za-z0-9._-]{1,249}")


@given(
    st.text(alphabet="ab._-/ \u00e9\n", max_size=6)
    | st.text(alphabet="ab/", min_size=248, max_size=251)
)
def test_topic_rule_matches_the_model(name: str) -> None:
    expected = bool(MODEL.fullmatch(name)) and name not in (".", "..")
    try:
        validate_topic(name)
        accepted = True
    except CodecError:
        accepted = False
    assert accepted == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "topic name is empty"),
        (".", "may not be '.'"),
        ("..", "may not be '..'"),
        ("a" * 250, "250 characters, more than 249"),
        ("caf\u00e9", "contains '\u00e9'"),
        ("a b", "contains ' '"),
    ],
)
def test_bad_topic_names_say_why(name: str, reason: str) -> None:
    with pytest.raises(CodecError, match=re.escape(reason)):
        validate_topic(name)


def test_groups_follow_the_same_rule() -> None:
    validate_group("readers-1")
    with pytest.raises(CodecError, match="group name"):
        validate_group("no/slash")


def test_sniff_examples() -> None:
    assert sniff(b"") == "need-more"
    assert sniff(b"\x00W") == "need-more"
    assert sniff(MAGIC) == "framed"
    assert sniff(MAGIC + encode(Frame(1, Ping()))) == "framed"
    assert sniff(b"P") == "line"
    assert sniff(b"PING\n") == "line"
    assert sniff(b"\x00X") == "line"


@given(st.binary(max_size=8), st.binary(max_size=8))
def test_a_sniff_decision_never_changes_with_more_bytes(head: bytes, more: bytes) -> None:
    first = sniff(head)
    if first != "need-more":
        assert sniff(head + more) == first
    if len(head) >= len(MAGIC):
        assert first != "need-more"
