"""Users and ACL rules as replicated broker state: applying, snapshots, pattern matching."""

from __future__ import annotations

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from tests.broker.helpers import Node
from wiber.broker import (
    AccessChanged,
    AclRule,
    BrokerState,
    ChangeAcl,
    Code,
    Credential,
    Origin,
    PutUser,
    Rejected,
    RemoveUser,
    decode_command,
    encode_command,
)
from wiber.broker.access import allows, canonical_pattern, pattern_matches

ORIGIN = Origin("n1", 3)
CRED = Credential(b"salt", 4096, b"s" * 32, b"k" * 32)
topics = st.from_regex(r"[a-z]{1,4}(\.[a-z]{1,4}){0,2}", fullmatch=True)


def test_users_are_put_replaced_and_removed() -> None:
    node = Node()
    put = PutUser("alice", *CRED, origin=ORIGIN)
    assert node.apply(put) == [AccessChanged(ORIGIN, "user alice")]
    assert node.state.user("alice") == CRED
    node.apply(PutUser("alice", b"salt2", 10, b"a" * 32, b"b" * 32))
    assert node.state.user("alice") == Credential(b"salt2", 10, b"a" * 32, b"b" * 32)
    assert isinstance(node.apply(RemoveUser("alice", ORIGIN))[0], AccessChanged)
    assert node.state.user("alice") is None
    (refused,) = node.apply(RemoveUser("alice", ORIGIN))
    assert isinstance(refused, Rejected)
    assert refused.code == Code.NOT_FOUND


def test_a_user_without_a_sha256_verifier_is_refused() -> None:
    (refused,) = Node().apply(PutUser("bob", b"salt", 4096, b"short", b"k" * 32, ORIGIN))
    assert isinstance(refused, Rejected)
    assert refused.code == Code.INVALID_ACCESS


def test_both_prefix_spellings_are_one_rule() -> None:
    node = Node()
    node.apply(ChangeAcl("add", "alice", "publish", "orders.*"))
    node.apply(ChangeAcl("add", "alice", "publish", "prefix:orders."))
    assert node.state.acl_rules() == [AclRule("alice", "publish", "prefix:orders.")]
    node.apply(ChangeAcl("remove", "alice", "publish", "orders.*"))
    assert node.state.acl_rules() == []


def test_access_commands_round_trip_through_the_codec() -> None:
    for cmd in (
        PutUser("alice", *CRED, origin=ORIGIN),
        RemoveUser("alice", ORIGIN),
        ChangeAcl("add", "*", "subscribe", "prefix:x.", ORIGIN),
    ):
        assert decode_command(encode_command(cmd)) == cmd


def test_snapshots_keep_users_and_rules_and_old_snapshots_still_load() -> None:
    node = Node()
    node.apply(PutUser("alice", *CRED))
    node.apply(ChangeAcl("add", "alice", "admin", "*"))
    restored = BrokerState.restore(node.state.snapshot())
    assert restored.user("alice") == CRED
    assert restored.acl_rules() == [AclRule("alice", "admin", "*")]
    assert restored.snapshot() == node.state.snapshot()
    version_1 = msgpack.packb([1, 0, [], []], use_bin_type=True)
    old = BrokerState.restore(version_1)
    assert old.users() == []
    assert old.acl_rules() == []


@given(topics, topics)
def test_a_prefix_rule_matches_exactly_the_topics_under_it(prefix: str, topic: str) -> None:
    pattern = canonical_pattern(prefix + ".*")
    assert pattern_matches(pattern, topic) == topic.startswith(prefix + ".")
    assert pattern_matches(canonical_pattern(topic), topic)
    assert pattern_matches(canonical_pattern(prefix), topic) == (prefix == topic)


@given(
    st.sampled_from(["alice", "bob"]),
    st.sampled_from(["publish", "subscribe", "admin"]),
    topics,
    st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob", "*"]),
            st.sampled_from(["publish", "subscribe", "admin"]),
            topics.map(lambda t: t.split(".")[0] + ".*") | topics | st.just("*"),
        ),
        max_size=5,
    ),
)
def test_allows_is_the_union_of_the_matching_rules(
    principal: str, operation: str, topic: str, raw: list[tuple[str, str, str]]
) -> None:
    rules = {AclRule(p, o, canonical_pattern(t)) for p, o, t in raw}
    expected = any(
        p in (principal, "*")
        and (o == operation or o == "admin")
        and pattern_matches(canonical_pattern(t), topic)
        for p, o, t in raw
    )
    assert allows(rules, frozenset(), principal, operation, topic) == expected
    assert allows(rules, frozenset({principal}), principal, operation, topic)


def test_cluster_actions_need_admin_on_everything() -> None:
    rules = {AclRule("alice", "admin", "prefix:orders."), AclRule("bob", "admin", "*")}
    assert allows(rules, frozenset(), "alice", "publish", "orders.eu")
    assert not allows(rules, frozenset(), "alice", "admin", "*")
    assert allows(rules, frozenset(), "bob", "admin", "*")
    assert not allows(rules, frozenset(), "carol", "subscribe", "orders.eu")
