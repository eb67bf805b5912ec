"""Applying commands: the effects of each command, and one test per rejection code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.helpers import Node, batch
from wiber.broker import (
    DEDUP_WINDOW,
    EXPECT_UNSET,
    Appended,
    BrokerState,
    ChangeAcl,
    Code,
    CommitOffset,
    CreateTopic,
    Effect,
    NewMessage,
    OffsetCommitted,
    Origin,
    PublishBatch,
    Published,
    Rejected,
    TopicCreated,
    encode_command,
)
from wiber.invariant import InvariantViolation

ORIGIN = Origin("n1", 7)


def rejection(effects: list[Effect]) -> tuple[str, bool]:
    assert len(effects) == 1
    (effect,) = effects
    assert isinstance(effect, Rejected), effect
    assert effect.origin == ORIGIN
    return effect.code, effect.definite


def test_publish_assigns_dense_offsets_and_auto_creates() -> None:
    node = Node()
    first = node.apply(batch("chat", [b"a", b"b"], hlc=5 << 16, origin=ORIGIN))
    assert first == [
        TopicCreated(None, "chat"),
        Appended("chat", 0, 2, 1, 5 << 16),
        # The stored stamp of the batch's last message: message i is first_hlc + i.
        Published(ORIGIN, "chat", (0, 1), hlc=(5 << 16) + 1),
    ]
    second = node.apply(batch("chat", [b"c"], hlc=9 << 16, origin=ORIGIN))
    assert second == [
        Appended("chat", 2, 1, 2, 9 << 16),
        Published(ORIGIN, "chat", (2,), hlc=9 << 16),
    ]
    # A stamp at or below the topic's last is raised, and the reply says so.
    third = node.apply(batch("chat", [b"d"], hlc=1 << 16, origin=ORIGIN))
    assert third[-1] == Published(ORIGIN, "chat", (3,), hlc=(9 << 16) + 1)
    assert node.state.end_offset("chat") == 4
    assert node.state.topics() == ["chat"]


def test_hlcs_strictly_increase_per_topic_even_when_the_stamp_goes_back() -> None:
    node = Node()
    node.apply(batch("t", [b"a", b"b", b"c"], hlc=100))
    effects = node.apply(batch("t", [b"d"], hlc=50))  # a new leader with a slower clock
    assert Appended("t", 3, 1, 2, 103) in effects
    hlcs = [m.hlc for m in node.read("t").messages]
    assert hlcs == [100, 101, 102, 103]


def test_a_retry_of_a_remembered_batch_returns_the_original_offsets() -> None:
    node = Node()
    node.apply(batch("other", [b"x"]))
    node.apply(batch("t", [b"a", b"b"], producer="p", seq=0))
    node.apply(batch("t", [b"c"], producer="p", seq=2))
    stamps = [m.hlc for m in node.read("t").messages]
    again = node.apply(batch("t", [b"a", b"b"], producer="p", seq=0, origin=ORIGIN))
    # the stamp of the original's last message comes back too
    assert again == [Published(ORIGIN, "t", (0, 1), duplicate=True, hlc=stamps[1])]
    # a retry cut differently (seq 1..2 spans two batches) still finds its offsets
    assert node.apply(batch("t", [b"b", b"c"], producer="p", seq=1, origin=ORIGIN)) == [
        Published(ORIGIN, "t", (1, 2), duplicate=True, hlc=stamps[2])
    ]
    assert node.state.end_offset("t") == 3


def test_producer_sequences_are_per_topic() -> None:
    node = Node()
    node.apply(batch("t1", [b"a"], producer="p", seq=0))
    effects = node.apply(batch("t2", [b"a"], producer="p", seq=0, origin=ORIGIN))
    assert effects[-1] == Published(ORIGIN, "t2", (0,), hlc=0)


def test_create_topic_then_commit_offsets() -> None:
    node = Node()
    assert node.apply(CreateTopic("t", ORIGIN)) == [TopicCreated(ORIGIN, "t")]
    assert node.state.end_offset("t") == 0
    assert node.apply(CommitOffset("g", "t", 4, None, ORIGIN)) == [
        OffsetCommitted(ORIGIN, "g", "t", 4)
    ]
    assert node.apply(CommitOffset("g", "t", 9, 4, ORIGIN)) == [
        OffsetCommitted(ORIGIN, "g", "t", 9)
    ]
    assert node.state.committed_offset("g", "t") == 9
    assert node.state.committed_offset("g", "other") is None


def test_compare_and_set_from_unset() -> None:
    node = Node()
    assert node.apply(CommitOffset("g", "t", 1, EXPECT_UNSET, ORIGIN)) == [
        OffsetCommitted(ORIGIN, "g", "t", 1)
    ]
    assert rejection(node.apply(CommitOffset("g", "t", 2, EXPECT_UNSET, ORIGIN))) == (
        Code.OFFSET_MISMATCH,
        True,
    )


def test_noop_entries_keep_the_applied_index() -> None:
    node = Node()
    node.noop()
    node.apply(batch("t", [b"a"]))
    node.noop()
    assert node.state.applied_index == 3
    assert node.read("t").messages[0].payload == b"a"


def test_entries_must_apply_in_order() -> None:
    state = BrokerState()
    state.apply_noop(1)
    with pytest.raises(InvariantViolation):
        state.apply_noop(3)
    with pytest.raises(InvariantViolation):
        state.apply(1, encode_command(CreateTopic("t")))


# -- one test per rejection code ---------------------------------------------------------------


def test_invalid_command_for_undecodable_bytes() -> None:
    node = Node()
    effects = node.apply(b"\xc1garbage")
    assert len(effects) == 1
    assert isinstance(effects[0], Rejected)
    assert (effects[0].code, effects[0].origin, effects[0].definite) == (
        Code.INVALID_COMMAND,
        None,
        True,
    )
    assert node.state.applied_index == 1


@pytest.mark.parametrize(
    "cmd",
    [
        PublishBatch("t", (), 0, ORIGIN),
        batch("t", [b"a"], hlc=-1, origin=ORIGIN),
        batch("t", [b"a"], hlc=1 << 63, origin=ORIGIN),
        PublishBatch("t", (NewMessage(b"a", "p", None),), 0, ORIGIN),
        PublishBatch("t", (NewMessage(b"a", None, 0),), 0, ORIGIN),
        PublishBatch("t", (NewMessage(b"a", "p", 0), NewMessage(b"b", "q", 1)), 0, ORIGIN),
        PublishBatch("t", (NewMessage(b"a", "p", 0), NewMessage(b"b", "p", 2)), 0, ORIGIN),
        batch("t", [b"a"], producer="p", seq=-1, origin=ORIGIN),
        batch("t", [b"a", b"b"], producer="p", seq=(1 << 63) - 1, origin=ORIGIN),
    ],
    ids=[
        "empty",
        "neg-hlc",
        "big-hlc",
        "pid-no-seq",
        "seq-no-pid",
        "two-pids",
        "seq-gap",
        "neg-seq",
        "seq-overflow",
    ],
)
def test_invalid_command_for_malformed_batches(cmd: PublishBatch) -> None:
    node = Node()
    assert rejection(node.apply(cmd)) == (Code.INVALID_COMMAND, True)
    assert node.state.topics() == []


def test_invalid_command_when_the_hlc_would_pass_int64() -> None:
    node = Node()
    node.apply(batch("t", [b"a"], hlc=(1 << 63) - 2))
    assert rejection(node.apply(batch("t", [b"b", b"c"], hlc=0, origin=ORIGIN))) == (
        Code.INVALID_COMMAND,
        True,
    )
    assert node.state.end_offset("t") == 1
    # a new topic is not created by a refused batch
    assert rejection(node.apply(batch("u", [b"b", b"c"], hlc=(1 << 63) - 1, origin=ORIGIN))) == (
        Code.INVALID_COMMAND,
        True,
    )
    assert node.state.topics() == ["t"]


@pytest.mark.parametrize(
    "cmd",
    [
        batch("a b", [b"x"], origin=ORIGIN),
        batch("", [b"x"], origin=ORIGIN),
        batch("..", [b"x"], origin=ORIGIN),
        batch("x" * 250, [b"x"], origin=ORIGIN),
        CreateTopic(".", ORIGIN),
        CommitOffset("g", "t/1", 0, None, ORIGIN),
    ],
    ids=["space", "empty", "dotdot", "too-long", "create-dot", "commit-slash"],
)
def test_invalid_topic(cmd: PublishBatch | CreateTopic | CommitOffset) -> None:
    assert rejection(Node().apply(cmd)) == (Code.INVALID_TOPIC, True)


def test_valid_topic_edge_cases_are_accepted() -> None:
    node = Node()
    for name in ["x" * 249, "...", "a.b-c_D9"]:
        assert node.apply(CreateTopic(name, ORIGIN)) == [TopicCreated(ORIGIN, name)]


@pytest.mark.parametrize("group", ["", "g" * 250, "my group", ".."])
def test_invalid_group(group: str) -> None:
    assert rejection(Node().apply(CommitOffset(group, "t", 0, None, ORIGIN))) == (
        Code.INVALID_GROUP,
        True,
    )


@pytest.mark.parametrize(("offset", "expect"), [(-1, None), (1 << 63, None), (0, -2)])
def test_invalid_offset(offset: int, expect: int | None) -> None:
    node = Node()
    assert rejection(node.apply(CommitOffset("g", "t", offset, expect, ORIGIN))) == (
        Code.INVALID_OFFSET,
        True,
    )
    assert node.state.committed_offset("g", "t") is None


def test_unknown_topic_when_auto_create_is_off() -> None:
    node = Node(BrokerState(auto_create_topics=False))
    assert rejection(node.apply(batch("t", [b"a"], origin=ORIGIN))) == (Code.UNKNOWN_TOPIC, True)
    node.apply(CreateTopic("t"))
    assert node.apply(batch("t", [b"a"], origin=ORIGIN))[-1] == Published(ORIGIN, "t", (0,), hlc=0)


def test_topic_exists() -> None:
    node = Node()
    node.apply(batch("t", [b"a"]))
    assert rejection(node.apply(CreateTopic("t", ORIGIN))) == (Code.TOPIC_EXISTS, True)


def test_unknown_producer_and_the_topic_is_not_created() -> None:
    node = Node()
    assert rejection(node.apply(batch("t", [b"a"], producer="p", seq=3, origin=ORIGIN))) == (
        Code.UNKNOWN_PRODUCER,
        True,
    )
    assert node.state.topics() == []


def test_out_of_order_sequence_gap_is_definite() -> None:
    node = Node()
    node.apply(batch("t", [b"a"], producer="p", seq=0))
    assert rejection(node.apply(batch("t", [b"c"], producer="p", seq=2, origin=ORIGIN))) == (
        Code.OUT_OF_ORDER_SEQUENCE,
        True,
    )
    assert node.state.end_offset("t") == 1


def test_out_of_order_sequence_overlap_is_not_definite() -> None:
    node = Node()
    node.apply(batch("t", [b"a", b"b"], producer="p", seq=0))
    assert rejection(node.apply(batch("t", [b"b", b"c"], producer="p", seq=1, origin=ORIGIN))) == (
        Code.OUT_OF_ORDER_SEQUENCE,
        False,
    )
    assert node.state.end_offset("t") == 2


def test_duplicate_sequence_below_the_window_is_not_definite() -> None:
    node = Node()
    for seq in range(DEDUP_WINDOW + 1):
        node.apply(batch("t", [b"m"], producer="p", seq=seq))
    assert rejection(node.apply(batch("t", [b"m"], producer="p", seq=0, origin=ORIGIN))) == (
        Code.DUPLICATE_SEQUENCE,
        False,
    )
    # the oldest batch still remembered answers with its offset
    assert node.apply(batch("t", [b"m"], producer="p", seq=1, origin=ORIGIN)) == [
        Published(ORIGIN, "t", (1,), duplicate=True, hlc=node.read("t").messages[1].hlc)
    ]
    assert node.state.end_offset("t") == DEDUP_WINDOW + 1


def test_offset_mismatch() -> None:
    node = Node()
    node.apply(CommitOffset("g", "t", 5))
    assert rejection(node.apply(CommitOffset("g", "t", 6, 4, ORIGIN))) == (
        Code.OFFSET_MISMATCH,
        True,
    )
    assert rejection(node.apply(CommitOffset("g2", "t", 6, 5, ORIGIN))) == (
        Code.OFFSET_MISMATCH,
        True,
    )
    assert node.state.committed_offset("g", "t") == 5


def test_access_commands_refuse_bad_rules_and_unknown_removals() -> None:
    node = Node()
    bad = ChangeAcl("add", "alice", "delete", "t", ORIGIN)
    assert rejection(node.apply(bad)) == (Code.INVALID_ACCESS, True)
    missing = ChangeAcl("remove", "alice", "publish", "t", ORIGIN)
    assert rejection(node.apply(missing)) == (Code.NOT_FOUND, True)
    assert node.state.acl_rules() == []


def test_every_rejection_code_is_tested_here() -> None:
    codes = {v for k, v in vars(Code).items() if k.isupper()}
    source = Path(__file__).read_text()
    untested = {c for c in codes if f"Code.{_attr(c)}" not in source.split("def test_every")[0]}
    assert untested == set()


def _attr(code: str) -> str:
    return code.upper().replace("-", "_")
