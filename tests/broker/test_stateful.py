"""The broker state machine against a naive model, over random runs.

Runs mix publishes (with and without producer ids; in order, retried, with gaps, overlapping,
from unknown producers), offset commits and compare-and-sets, topic creation, no-op and
garbage entries, retention, and snapshot/restore in the middle. After every step the state
must agree with the model; reads by offset, last N and time are paged with random limits and
must return exactly the model's messages.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.broker.helpers import Node
from tests.broker.model import Model, ModelMessage, Outcome
from wiber.broker import (
    EXPECT_UNSET,
    Appended,
    BrokerState,
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
)

TOPICS = ["a", "b", "c.d"]
PRODUCERS = ["p1", "p2"]
GROUPS = ["g1", "g2"]
# A few milliseconds with a few logical ticks each, so that stamps collide and go backwards.
hlcs = st.builds(lambda ms, logical: ms << 16 | logical, st.integers(0, 6), st.integers(0, 3))
payloads = st.binary(max_size=12)
# Causal deps are stored as given; a negative offset (rarely drawn) refuses the whole batch.
deps = st.lists(
    st.tuples(st.sampled_from(TOPICS), st.sampled_from([*range(10), -1])),
    max_size=2,
).map(tuple)
skews = st.none() | st.tuples(st.integers(-5000, 5000), st.integers(0, 900))


def outcome_of(effects: list[Effect], origin: Origin) -> Outcome:
    """The client-visible outcome of applying one command, checked against its origin."""
    replies = [e for e in effects if getattr(e, "origin", None) == origin]
    assert len(replies) == 1, effects
    (reply,) = replies
    if isinstance(reply, Published):
        return ("published", reply.offsets, reply.duplicate)
    if isinstance(reply, Rejected):
        return ("rejected", reply.code, reply.definite)
    assert isinstance(reply, OffsetCommitted), reply
    return ("committed", reply.offset)


class BrokerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.node = Node()
        self.model = Model()
        self.requests = 0

    def origin(self) -> Origin:
        self.requests += 1
        return Origin("n1", self.requests)

    @rule(data=st.data(), topic=st.sampled_from([TOPICS[0], *TOPICS]), hlc=hlcs, skew=skews)
    def publish(
        self, data: st.DataObject, topic: str, hlc: int, skew: tuple[int, int] | None
    ) -> None:
        # mostly one producer on one topic, so that its dedup window fills up and slides
        producer = data.draw(st.sampled_from([None, "p1", "p1", "p1", "p2"]), label="producer")
        bodies = data.draw(st.lists(payloads, min_size=1, max_size=4), label="payloads")
        seq = None if producer is None else self.draw_seq(data, producer, topic, len(bodies))
        messages = tuple(
            NewMessage(
                b,
                producer,
                None if seq is None else seq + i,
                data.draw(st.none() | hlcs),
                data.draw(deps, label="deps"),
            )
            for i, b in enumerate(bodies)
        )
        self.check_publish(topic, messages, hlc, skew)

    @rule(topic=st.sampled_from(TOPICS), batches=st.integers(1, 8), hlc=hlcs)
    def publish_run(self, topic: str, batches: int, hlc: int) -> None:
        """Several in-order batches of one producer: enough to slide its dedup window."""
        for _ in range(batches):
            seq = sum(n for _, n in self.model.history.get(("p1", topic), []))
            self.check_publish(topic, (NewMessage(b"run", "p1", seq),), hlc)

    def check_publish(
        self,
        topic: str,
        messages: tuple[NewMessage, ...],
        hlc: int,
        skew: tuple[int, int] | None = None,
    ) -> None:
        origin = self.origin()
        new_topic = topic not in self.model.topics
        cmd = PublishBatch(topic, messages, hlc, origin, skew)
        effects = self.node.apply(cmd)
        expected = self.model.publish(self.node.state.applied_index, cmd)
        event(f"publish: {expected[0]} {expected[1] if expected[0] == 'rejected' else expected[2]}")
        assert outcome_of(effects, origin) == expected
        if expected[0] == "published" and not expected[2]:
            first = self.model.topics[topic][-len(messages)]
            appended = Appended(topic, first.offset, len(messages), first.log_index, first.hlc)
            assert appended in effects
            assert (TopicCreated(None, topic) in effects) == (first.offset == 0 and new_topic)
        else:
            assert not any(isinstance(e, Appended | TopicCreated) for e in effects)

    def draw_seq(self, data: st.DataObject, producer: str, topic: str, count: int) -> int:
        """A sequence number that is usually right and often wrong in every interesting way."""
        sent = sum(n for _, n in self.model.history.get((producer, topic), []))
        kind = data.draw(st.sampled_from(["next", "next", "retry", "first", "gap", "overlap"]))
        if kind == "retry" and sent >= count:
            return data.draw(st.integers(0, sent - count), label="retry seq")
        if kind == "first" and sent >= count:
            return 0  # likely older than the dedup window
        if kind == "gap":
            return sent + data.draw(st.integers(1, 3), label="gap")
        if kind == "overlap" and sent > 0 and count > 1:
            return data.draw(st.integers(max(0, sent - count + 1), sent - 1), label="overlap")
        return sent

    @rule(
        group=st.sampled_from(GROUPS),
        topic=st.sampled_from(TOPICS),
        offset=st.integers(0, 20),
        expect=st.none() | st.just(EXPECT_UNSET) | st.integers(0, 20),
    )
    def commit(self, group: str, topic: str, offset: int, expect: int | None) -> None:
        origin = self.origin()
        effects = self.node.apply(CommitOffset(group, topic, offset, expect, origin))
        assert outcome_of(effects, origin) == self.model.commit(group, topic, offset, expect)

    @rule(group=st.sampled_from(GROUPS), topic=st.sampled_from(TOPICS))
    def compare_and_set_current(self, group: str, topic: str) -> None:
        current = self.node.state.committed_offset(group, topic)
        expect = EXPECT_UNSET if current is None else current
        origin = self.origin()
        effects = self.node.apply(CommitOffset(group, topic, (current or 0) + 1, expect, origin))
        assert outcome_of(effects, origin) == self.model.commit(
            group, topic, (current or 0) + 1, expect
        )

    @rule(topic=st.sampled_from(TOPICS))
    def create_topic(self, topic: str) -> None:
        existed = topic in self.model.topics
        origin = self.origin()
        effects = self.node.apply(CreateTopic(topic, origin))
        if existed:
            assert isinstance(effects[0], Rejected)
        else:
            assert effects == [TopicCreated(origin, topic)]
            self.model.topics[topic] = []

    @rule(garbage=st.binary(max_size=8))
    def apply_garbage(self, garbage: bytes) -> None:
        effects = self.node.apply(b"\xc1" + garbage)  # 0xc1 is never valid msgpack
        assert len(effects) == 1
        assert isinstance(effects[0], Rejected)

    @rule()
    def noop(self) -> None:
        self.node.noop()

    @rule(data=st.data())
    def retention(self, data: st.DataObject) -> None:
        floor = data.draw(st.integers(0, self.node.state.applied_index + 1), label="floor")
        self.node.state.truncate_before(floor)
        self.model.retention_floor = max(self.model.retention_floor, floor)
        for index in [i for i in self.node.log if i < self.model.retention_floor]:
            del self.node.log[index]  # a read that touches a deleted entry then fails loudly

    @rule()
    def snapshot_and_restore(self) -> None:
        snap = self.node.state.snapshot()
        restored = BrokerState.restore(snap)
        assert restored.snapshot() == snap
        self.node.state = restored

    @rule(
        topic=st.sampled_from(TOPICS),
        how=st.sampled_from(["start", "from_offset", "last_n", "from_time_ms"]),
        position=st.integers(0, 12),
        max_count=st.integers(1, 5),
        max_bytes=st.integers(0, 30),
    )
    def read_paged(
        self, topic: str, how: str, position: int, max_count: int, max_bytes: int
    ) -> None:
        """Page through a read; the pages together must be exactly the model's messages."""
        end = len(self.model.topics.get(topic, []))
        where = {} if how == "start" else {how: position}
        page = self.node.read(topic, max_count=max_count, max_bytes=max_bytes, **where)
        got: list[ModelMessage] = []
        while True:
            assert page.log_start_offset == self.model.log_start_offset(topic)
            assert len(page.messages) <= max_count
            if len(page.messages) > 1:
                assert sum(len(m.payload) for m in page.messages) <= max_bytes
            got.extend(
                ModelMessage(
                    *(m.offset, m.payload, m.producer_id, m.seq, m.create_time_ms, m.hlc, 0),
                    m.deps,
                    None if m.skew_offset_us is None else (m.skew_offset_us, m.skew_error_us or 0),
                )
                for m in page.messages
            )
            if not page.messages:
                break
            page = self.node.read(
                topic, from_offset=page.next_offset, max_count=max_count, max_bytes=max_bytes
            )
        assert got == [replace(m, log_index=0) for m in self.expected_read(topic, how, position)]
        assert page.next_offset == (max(end, position) if how == "from_offset" else end)

    def expected_read(self, topic: str, how: str, position: int) -> list[ModelMessage]:
        readable = self.model.readable(topic)
        if how == "from_offset":
            return [m for m in readable if m.offset >= position]
        if how == "last_n":
            end = len(self.model.topics.get(topic, []))
            return [m for m in readable if m.offset >= end - position]
        if how == "from_time_ms":
            return [m for m in readable if m.hlc >= position << 16]
        return readable

    @invariant()
    def agrees_with_the_model(self) -> None:
        state = self.node.state
        assert state.committed_offset("g1", "a") == self.model.committed.get(("g1", "a"))
        for group in GROUPS:
            for topic in TOPICS:
                assert state.committed_offset(group, topic) == self.model.committed.get(
                    (group, topic)
                )
        assert state.topics() == sorted(self.model.topics)
        for topic, msgs in self.model.topics.items():
            assert state.end_offset(topic) == len(msgs)
            assert state.log_start_offset(topic) == self.model.log_start_offset(topic)


TestBroker = BrokerMachine.TestCase
TestBroker.settings = settings(stateful_step_count=40)
