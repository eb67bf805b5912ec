"""The rules only an executor of `plan(ready)` can see, each broken by a scripted Ready.

Method: a `ScriptedCore` hands the node exactly one hand-made Ready; the node executes it
against its simulated disk and must raise `ViolationError` naming the rule. The same Ready made
correct executes cleanly, so every test can fail.
"""

from __future__ import annotations

import random

import pytest

from wiber.core.status import Status
from wiber.core.types import (
    Config,
    ConfigChange,
    ConfState,
    Entry,
    HardState,
    LogStorage,
    Message,
    MessageType,
    NodeId,
    Ready,
    Role,
    SoftState,
)
from wiber.sim.disk import SimDisk
from wiber.sim.node import NodeHooks, SimNode, ViolationError
from wiber.sim.simulator import SimOptions, Simulator

VOTERS = ("n1", "n2", "n3")


class ScriptedCore:
    """A stand-in core: returns the Readies it was given, one per drain, and nothing else."""

    def __init__(self, config: Config, storage: LogStorage, rng: random.Random, applied: int):
        self.readies: list[Ready] = []

    def has_ready(self) -> bool:
        return bool(self.readies)

    def ready(self) -> Ready:
        return self.readies[0]

    def advance(self, ready: Ready) -> None:
        self.readies.pop(0)

    def tick(self) -> None: ...
    def step(self, message: Message) -> None: ...
    def propose(self, data: bytes) -> int:
        return 0

    def propose_conf_change(self, change: ConfigChange) -> int:
        return 0

    def campaign(self) -> None: ...
    def transfer_leadership(self, to: NodeId) -> None: ...
    def read_index(self, context: bytes) -> None: ...
    def conf_at(self, index: int) -> ConfState:
        return ConfState(VOTERS)

    def status(self) -> Status:
        raise NotImplementedError


def make_node() -> tuple[SimNode, ScriptedCore, list[Message]]:
    sent: list[Message] = []
    hooks = NodeHooks(
        sent.append, lambda *_: None, lambda *_: None, lambda _: None, lambda *_: None
    )
    node = SimNode(
        "n1", Config(id="n1"), SimDisk(ConfState(VOTERS)), ScriptedCore, 0,
        random.Random(0), hooks,
    )  # fmt: skip
    node.start()
    core = node.core
    assert isinstance(core, ScriptedCore)
    return node, core, sent


def run(node: SimNode, core: ScriptedCore, *readies: Ready) -> None:
    core.readies.extend(readies)
    node.drain()


FOLLOWER = SoftState(Role.FOLLOWER, None)
LEADER = SoftState(Role.LEADER, "n1")
GRANT = Message(MessageType.VOTE_RESP, "n1", "n2", term=1)


def test_a_vote_sent_after_its_sync_is_fine() -> None:
    node, core, sent = make_node()
    run(node, core, Ready(FOLLOWER, HardState(1, "n2"), messages=(GRANT,), must_sync=True))
    assert sent == [GRANT]


def test_persist_before_send_catches_a_vote_sent_before_its_sync() -> None:
    node, core, sent = make_node()
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(FOLLOWER, HardState(1, "n2"), messages=(GRANT,), must_sync=False))
    assert caught.value.prop == "Persist Before Send"
    assert sent == []


def test_persist_before_send_catches_a_vote_never_written() -> None:
    node, core, _ = make_node()
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(FOLLOWER, HardState(1, None), messages=(GRANT,), must_sync=True))
    assert caught.value.prop == "Persist Before Send"
    assert "vote" in caught.value.detail


def test_persist_before_send_catches_an_ack_for_entries_not_on_disk() -> None:
    node, core, _ = make_node()
    ack = Message(MessageType.APPEND_RESP, "n1", "n2", term=1, index=2)
    entries = (Entry(1, 1),)
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(FOLLOWER, HardState(1), entries=entries, messages=(ack,),
                              must_sync=True))  # fmt: skip
    assert caught.value.prop == "Persist Before Send"


def test_a_commit_only_hard_state_needs_no_sync_before_sending() -> None:
    node, core, sent = make_node()
    beat = Message(MessageType.HEARTBEAT_RESP, "n1", "n2", term=0)
    run(node, core, Ready(FOLLOWER, HardState(0, None, 0), messages=(beat,)))
    assert sent == [beat]


def test_leader_commits_current_term_catches_counting_an_old_entry() -> None:
    node, core, _ = make_node()
    old = (Entry(1, 1), Entry(2, 1))
    run(node, core, Ready(FOLLOWER, HardState(1, "n1"), entries=old, must_sync=True))
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(LEADER, HardState(2, "n1", 2), must_sync=True))
    assert caught.value.prop == "Leader Commits Current Term"


def test_a_leader_may_commit_an_entry_of_its_own_term() -> None:
    node, core, _ = make_node()
    run(node, core, Ready(FOLLOWER, HardState(1, "n1"), entries=(Entry(1, 1),), must_sync=True))
    run(node, core, Ready(LEADER, HardState(2, "n1"), entries=(Entry(2, 2),), must_sync=True))
    run(node, core, Ready(LEADER, HardState(2, "n1", 2)))
    assert node.commit == 2


def test_state_machine_safety_catches_applying_beyond_the_commit_index() -> None:
    node, core, _ = make_node()
    entries = (Entry(1, 1),)
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(FOLLOWER, HardState(1), entries=entries, committed=entries,
                              must_sync=True))  # fmt: skip
    assert caught.value.prop == "State Machine Safety"


def test_leader_append_only_catches_a_leader_truncating_its_log() -> None:
    node, core, _ = make_node()
    run(node, core, Ready(LEADER, HardState(1, "n1"), entries=(Entry(1, 1), Entry(2, 1)),
                          must_sync=True))  # fmt: skip
    with pytest.raises(ViolationError) as caught:
        run(node, core, Ready(LEADER, entries=(Entry(2, 1, data=b"x"),), must_sync=True))
    assert caught.value.prop == "Leader Append-Only"


def test_one_vote_per_term_catches_a_second_vote_in_a_term() -> None:
    sim = Simulator(SimOptions(seed=0, faults=frozenset()))
    sim._send(GRANT)
    sim._send(GRANT)  # the same vote again (a retransmission) is fine
    with pytest.raises(ViolationError) as caught:
        sim._send(Message(MessageType.VOTE_RESP, "n1", "n3", term=1))
    assert caught.value.prop == "One Vote Per Term"
