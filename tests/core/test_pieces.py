"""The core's small parts against simple oracles, and the API's refusals and drop counting."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.core import quorum
from wiber.core.confchange import apply_change, decode_change, decode_result, encode_change
from wiber.core.errors import ProposalDropped
from wiber.core.memory import MemoryStorage
from wiber.core.raft import RaftCore
from wiber.core.types import (
    CompactedError,
    Config,
    ConfigChange,
    ConfigChangeType,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    Role,
    Snapshot,
    UnavailableError,
)
from wiber.invariant import InvariantViolation

NODES = st.sampled_from(["n1", "n2", "n3", "n4", "n5"])


@given(st.dictionaries(NODES, st.integers(0, 20), min_size=1))
def test_committed_index_matches_naive_oracle(match: dict[str, int]) -> None:
    voters = sorted(match)
    naive = max(
        (i for i in range(0, 21) if sum(match[v] >= i for v in voters) * 2 > len(voters)),
        default=0,
    )
    assert quorum.committed_index(voters, match) == naive


@given(st.dictionaries(NODES, st.booleans(), min_size=1), st.integers(1, 5))
def test_vote_result_matches_naive_oracle(votes: dict[str, bool], extra: int) -> None:
    voters = sorted(votes) + [f"x{i}" for i in range(extra)]  # some have not answered
    yes = sum(votes.values())
    no = len(votes) - yes
    expected = quorum.VoteResult.PENDING
    if yes * 2 > len(voters):
        expected = quorum.VoteResult.WON
    elif (len(voters) - no) * 2 <= len(voters):
        expected = quorum.VoteResult.LOST
    assert quorum.vote_result(voters, votes) is expected


@given(st.sampled_from(list(ConfigChangeType)), NODES, st.lists(NODES, unique=True))
def test_config_change_round_trips_with_its_result(
    kind: ConfigChangeType, node: str, voters: list[str]
) -> None:
    change = ConfigChange(kind, node)
    before = ConfState(tuple(sorted(voters)))
    after = apply_change(before, change)
    assert decode_change(encode_change(change)) == change
    assert decode_result(encode_change(change, after), ConfState(())) == after
    assert decode_result(encode_change(change), before) == after


@pytest.mark.parametrize("data", [b"", b"add-voter", b"bogus\x00n1", b"\xff\x00n1", b"a\x00b\x00c"])
def test_decode_change_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"config change|bogus"):
        decode_change(data)


def test_memory_storage_append_truncates_and_compacts() -> None:
    storage = MemoryStorage(["n1"])
    storage.append([Entry(1, 1), Entry(2, 1), Entry(3, 1)])
    storage.append([Entry(2, 2)])
    assert storage.last_index() == 2
    assert storage.term(2) == 2
    storage.set_hard_state(HardState(2, "n1", 2))
    storage.create_snapshot(1, ConfState(("n1",)), b"state")
    storage.compact(1)
    assert storage.first_index() == 2
    assert storage.term(1) == 1
    with pytest.raises(CompactedError):
        storage.term(0)
    with pytest.raises(UnavailableError):
        storage.term(3)
    assert [e.index for e in storage.entries(2, 3)] == [2]


def test_memory_storage_entries_respect_max_bytes_but_return_one() -> None:
    storage = MemoryStorage(["n1"])
    storage.append([Entry(i, 1, data=b"x" * 100) for i in range(1, 6)])
    assert len(storage.entries(1, 6, max_bytes=1)) == 1
    assert len(storage.entries(1, 6, max_bytes=250)) == 2


def _core(name: str = "n1", voters: tuple[str, ...] = ("n1", "n2", "n3")) -> RaftCore:
    return RaftCore(Config(name), MemoryStorage(voters), random.Random(0))


def _drain(core: RaftCore) -> list[Message]:
    sent: list[Message] = []
    while core.has_ready():
        rd = core.ready()
        storage = core.storage
        assert isinstance(storage, MemoryStorage)
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        sent.extend(rd.messages)
        core.advance(rd)
    return sent


def test_single_node_elects_itself_and_commits_alone() -> None:
    core = _core(voters=("n1",))
    core.campaign()
    assert core.role is Role.LEADER
    index = core.propose(b"x")
    _drain(core)
    assert core.status().commit == index


def test_follower_refuses_proposals_with_a_leader_hint() -> None:
    core = _core()
    core.step(Message(MessageType.HEARTBEAT, "n2", "n1", 1))
    with pytest.raises(ProposalDropped) as err:
        core.propose(b"x")
    assert err.value.reason == "not-leader"
    assert err.value.leader_hint == "n2"
    assert err.value.definite


def test_new_leader_refuses_conf_change_until_its_term_commits() -> None:
    core = _core()
    core.campaign()
    for peer in ("n2", "n3"):
        core.step(Message(MessageType.PRE_VOTE_RESP, peer, "n1", 1))
    for peer in ("n2", "n3"):
        core.step(Message(MessageType.VOTE_RESP, peer, "n1", 1))
    assert core.role is Role.LEADER
    change = ConfigChange(ConfigChangeType.ADD_VOTER, "n4")
    with pytest.raises(ProposalDropped, match="no-commit-in-term"):
        core.propose_conf_change(change)
    core.step(Message(MessageType.APPEND_RESP, "n2", "n1", 1, index=1))
    assert core.propose_conf_change(change) == 2
    with pytest.raises(ProposalDropped, match="pending-conf-change"):
        core.propose_conf_change(ConfigChange(ConfigChangeType.REMOVE, "n3"))


def test_uncommitted_cap_drops_proposals() -> None:
    core = RaftCore(
        Config("n1", max_uncommitted_bytes=100), MemoryStorage(["n1", "n2"]), random.Random(0)
    )
    core.campaign()
    core.step(Message(MessageType.PRE_VOTE_RESP, "n2", "n1", 1))
    core.step(Message(MessageType.VOTE_RESP, "n2", "n1", 1))
    core.propose(b"x" * 60)
    with pytest.raises(ProposalDropped, match="too-many-uncommitted"):
        core.propose(b"x" * 60)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Message(MessageType.APPEND, "n2", "n9", 1), "dropped-misaddressed"),
        (Message(MessageType.APPEND, "n2", "n1", -1), "dropped-negative"),
        (Message(MessageType.SNAPSHOT, "n2", "n1", 1), "dropped-snapshot-missing"),
        (
            Message(MessageType.APPEND, "n2", "n1", 1, index=0, entries=(Entry(5, 1),)),
            "dropped-entries-out-of-order",
        ),
    ],
)
def test_bad_peer_input_is_counted_and_dropped(message: Message, reason: str) -> None:
    core = _core()
    core.step(message)
    assert core.stats["dropped"] == 1
    assert core.stats[reason] == 1
    assert core.status().last_index == 0


def test_ack_beyond_the_leaders_log_is_dropped() -> None:
    core = RaftCore(Config("n1"), MemoryStorage(["n1", "n2"]), random.Random(0))
    core.campaign()
    core.step(Message(MessageType.PRE_VOTE_RESP, "n2", "n1", 1))
    core.step(Message(MessageType.VOTE_RESP, "n2", "n1", 1))
    core.step(Message(MessageType.APPEND_RESP, "n2", "n1", 1, index=99))
    assert core.stats["dropped-ack-beyond-log"] == 1
    assert core.status().commit == 0


def test_ready_twice_without_advance_is_an_invariant_violation() -> None:
    core = _core()
    core.campaign()
    core.ready()
    with pytest.raises(InvariantViolation, match="before advance"):
        core.ready()


def test_events_trace_each_step_with_the_state_after() -> None:
    core = _core()
    core.tracer.enabled = True
    core.step(Message(MessageType.PRE_VOTE, "n2", "n1", 1, index=0, log_term=0))
    events = core.events()
    assert [e["event"] for e in events] == ["receive", "send"]
    assert events[1]["msg"]["type"] == "pre-vote-resp"
    assert events[1]["state"] == {
        "term": 0,
        "role": "follower",
        "vote": None,
        "last_index": 0,
        "commit": 0,
    }
    assert core.events() == []


def _leader_with_log() -> RaftCore:
    core = RaftCore(Config("n1"), MemoryStorage(["n1", "n2", "n3"]), random.Random(0))
    core.campaign()
    core.step(Message(MessageType.PRE_VOTE_RESP, "n2", "n1", 1))
    core.step(Message(MessageType.VOTE_RESP, "n2", "n1", 1))
    for i in range(3):
        core.propose(b"p%d" % i)
    _drain(core)
    return core


ENTRY = st.builds(
    Entry,
    index=st.integers(0, 12),
    term=st.integers(0, 4),
    kind=st.sampled_from(list(EntryKind)),
    data=st.binary(max_size=8),
)
MESSAGE = st.builds(
    Message,
    type=st.sampled_from(list(MessageType)),
    src=st.sampled_from(["n2", "n3", "n7"]),
    dst=st.just("n1"),
    term=st.integers(0, 4),
    index=st.integers(0, 12),
    log_term=st.integers(0, 4),
    entries=st.lists(ENTRY, max_size=3).map(tuple),
    commit=st.integers(0, 12),
    reject=st.booleans(),
    reject_hint=st.integers(0, 12),
    hint_term=st.integers(0, 4),
    snapshot=st.none()
    | st.builds(
        Snapshot,
        index=st.integers(0, 12),
        term=st.integers(0, 4),
        conf=st.just(ConfState(("n1", "n2", "n3"))),
    ),
    context=st.binary(max_size=4),
)


@given(st.lists(MESSAGE, min_size=1, max_size=6), st.booleans())
def test_arbitrary_peer_messages_never_raise(messages: list[Message], leader: bool) -> None:
    core = _leader_with_log() if leader else _core()
    for m in messages:
        core.step(m)
        core.tick()
        _drain(core)
    status = core.status()
    assert status.commit <= status.last_index
