"""Causal reorder buffer: random causal histories across topics, offered in random orders with
drops, duplicates and time gaps. The output must deliver every message exactly once, never put
an unmarked message before one of its causes or out of topic order, mark exactly what it must,
and never hold a message past its wait bound."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wiber.clocks.reorder import Delivered, Mark, Message, ReorderBuffer

Dep = tuple[str, int]

# Each example draws a whole history and schedule; half the profile's examples keeps the area
# within its time budget while still exploring hundreds of interleavings per CI run.
heavy = settings(max_examples=max(10, settings().max_examples // 2))


def causes(message: Message[int], subscriptions: Mapping[str, int]) -> list[Dep]:
    """The dependencies that matter to this consumer: explicit deps and the topic predecessor,
    limited to subscribed topics at or above the start offset."""
    pred = (message.topic, message.offset - 1)
    deps = [*message.deps, pred]
    return [d for d in deps if d[0] in subscriptions and d[1] >= subscriptions[d[0]]]


def violations(out: Sequence[Delivered[int]], subscriptions: Mapping[str, int]) -> list[str]:
    """Names of the rules `out` breaks (an empty list for a correct output)."""
    found: list[str] = []
    seen: set[Dep] = set()
    high: dict[str, int] = {}
    for d in out:
        m = d.message
        if m.key in seen:
            found.append(f"duplicate {m.key}")
        late = m.offset < high.get(m.topic, -1)
        if late != (Mark.LATE in d.marks):
            found.append(f"late-mark-wrong {m.key}")
        expected = {c for c in causes(m, subscriptions) if c not in seen}
        if late and m.key[1] - 1 >= 0 and (m.topic, m.offset - 1) not in m.deps:
            expected.discard((m.topic, m.offset - 1))
        if expected != set(d.missing):
            found.append(f"missing-wrong {m.key}: {sorted(expected)} != {sorted(d.missing)}")
        if bool(d.missing) != (Mark.MISSING_CAUSE in d.marks):
            found.append(f"missing-cause-mark-wrong {m.key}")
        if not d.marks and any(c not in seen for c in causes(m, subscriptions)):
            found.append(f"unmarked-before-cause {m.key}")
        seen.add(m.key)
        high[m.topic] = max(high.get(m.topic, -1), m.offset)
    return found


@dataclass(frozen=True)
class History:
    messages: tuple[Message[int], ...]  # in causal (creation) order
    subscriptions: dict[str, int]


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Messages on topics a, b (subscribed) and c (not), each depending on earlier ones."""
    subscriptions = {"a": draw(st.integers(0, 2)), "b": draw(st.integers(0, 2))}
    next_offset = {"a": 0, "b": 0, "c": 0}
    messages: list[Message[int]] = []
    for value in range(draw(st.integers(1, 16))):
        topic = draw(st.sampled_from(["a", "a", "b", "b", "c"]))
        earlier = [m.key for m in messages]
        deps = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
        messages.append(Message(topic, next_offset[topic], value, tuple(deps)))
        next_offset[topic] += 1
    return History(tuple(messages), subscriptions)


@st.composite
def schedules(draw: st.DrawFn, history: History) -> list[tuple[str, int, int]]:
    """("offer", message index, time step) and ("poll", -1, time step) events."""
    offered = [i for i, m in enumerate(history.messages) if m.topic != "c"]
    order = draw(st.permutations(offered))
    kept = [i for i in order if draw(st.integers(0, 9)) > 0]  # drop about one in ten
    kept += draw(st.lists(st.sampled_from(kept), max_size=3)) if kept else []  # duplicates
    events = [("offer", i, draw(st.integers(0, 40))) for i in kept]
    for _ in range(draw(st.integers(0, 4))):
        events.insert(draw(st.integers(0, len(events))), ("poll", -1, draw(st.integers(0, 80))))
    return events


def run(
    history: History, events: list[tuple[str, int, int]], max_wait_ms: int, max_buffered: int
) -> tuple[ReorderBuffer[int], list[Delivered[int]]]:
    buffer: ReorderBuffer[int] = ReorderBuffer(
        max_wait_ms, history.subscriptions, max_buffered=max_buffered
    )
    out: list[Delivered[int]] = []
    now = 0
    for kind, index, step in events:
        now += step
        if kind == "offer":
            out += buffer.offer(history.messages[index], now)
        else:
            out += buffer.poll(now)
        deadline = buffer.next_deadline()
        assert deadline is None or deadline > now, "a message was held past its bound"
        assert len(buffer) <= max_buffered
    out += buffer.poll(now + max_wait_ms)
    assert len(buffer) == 0
    return buffer, out


@heavy
@given(st.data(), st.integers(0, 60), st.integers(1, 30))
def test_reorder_buffer_delivers_each_message_once_in_causal_order_or_marked(
    data: st.DataObject, max_wait_ms: int, max_buffered: int
) -> None:
    history = data.draw(histories())
    events = data.draw(schedules(history))
    buffer, out = run(history, events, max_wait_ms, max_buffered)
    assert violations(out, history.subscriptions) == []
    subs = history.subscriptions
    offered = {
        history.messages[i].key
        for kind, i, _ in events
        if kind == "offer" and history.messages[i].offset >= subs[history.messages[i].topic]
    }
    assert sorted(d.message.key for d in out) == sorted(offered)  # nothing lost or duplicated
    assert all(d.waited_ms >= 0 for d in out)
    # Deterministic: the same calls give the same deliveries.
    assert run(history, events, max_wait_ms, max_buffered)[1] == out
    assert buffer.stats.delivered == len(out)


@heavy
@given(st.data())
def test_with_everything_arriving_in_time_nothing_is_marked(data: st.DataObject) -> None:
    history = data.draw(histories())
    subs = history.subscriptions
    wanted = [m for m in history.messages if m.topic != "c"]
    order = data.draw(st.permutations(wanted))
    buffer: ReorderBuffer[int] = ReorderBuffer(1_000, subs)
    out = [d for m in order for d in buffer.offer(m, 0)]
    assert [d for d in out if d.marks] == []
    assert violations(out, subs) == []
    assert len(out) == len([m for m in wanted if m.offset >= subs[m.topic]])


def test_the_output_checker_catches_each_kind_of_violation() -> None:
    """The property above can fail: hand-made bad outputs are caught by name."""
    subs = {"a": 0, "b": 0}
    cause = Message("a", 0, 1)
    effect = Message("b", 0, 2, (("a", 0),))
    assert violations([Delivered(effect), Delivered(cause)], subs) == [
        "missing-wrong ('b', 0): [('a', 0)] != []",
        "unmarked-before-cause ('b', 0)",
    ]
    assert violations([Delivered(cause), Delivered(cause)], subs)[0] == "duplicate ('a', 0)"
    a1 = Message("a", 1, 3)
    assert "late-mark-wrong ('a', 0)" in violations([Delivered(a1), Delivered(cause)], subs)
    wrong_mark = Delivered(cause, frozenset({Mark.MISSING_CAUSE}), (), 0)
    assert violations([wrong_mark], subs) == ["missing-cause-mark-wrong ('a', 0)"]


def test_missing_cause_is_delivered_after_the_bound_marked_and_named() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(100, {"orders": 0, "invoices": 0})
    effect = Message("invoices", 0, "invoice for order 0", (("orders", 0),))
    assert buffer.offer(effect, now_ms=1_000) == []
    assert buffer.next_deadline() == 1_100
    assert buffer.poll(1_099) == []
    [forced] = buffer.poll(1_100)
    assert forced.marks == {Mark.MISSING_CAUSE}
    assert forced.missing == (("orders", 0),)
    assert forced.waited_ms == 100
    # The cause turns up after all: delivered at once, in its topic's order, unmarked.
    [cause] = buffer.offer(Message("orders", 0, "order 0"), 1_200)
    assert cause.marks == frozenset()
    assert buffer.stats.forced_by_wait == 1
    assert buffer.stats.missing_cause == 1


def test_a_gap_skipped_by_force_makes_the_straggler_late() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(50, {"t": 0})
    buffer.offer(Message("t", 0, "zero"), 0)
    assert buffer.offer(Message("t", 2, "two"), 0) == []  # waits for offset 1
    [two] = buffer.poll(50)
    assert two.marks == {Mark.MISSING_CAUSE}
    assert two.missing == (("t", 1),)
    [one] = buffer.offer(Message("t", 1, "one"), 60)
    assert one.marks == {Mark.LATE}
    assert one.missing == ()
    assert buffer.offer(Message("t", 1, "one again"), 70) == []  # a duplicate now
    assert buffer.stats.duplicates == 1
    assert buffer.stats.late == 1


def test_forcing_an_effect_delivers_its_held_causes_first() -> None:
    buffer: ReorderBuffer[str] = ReorderBuffer(100, {"a": 0, "b": 0})
    # b/0 waits for a/1, which waits for the never-seen a/0; b/0 arrived first.
    buffer.offer(Message("b", 0, "effect", (("a", 1),)), 0)
    buffer.offer(Message("a", 1, "cause"), 10)
    out = buffer.poll(100)
    assert [(d.message.key, d.marks, d.missing) for d in out] == [
        (("a", 1), {Mark.MISSING_CAUSE}, (("a", 0),)),
        (("b", 0), frozenset(), ()),  # its own cause came first: no mark needed
    ]


def test_the_oldest_is_forced_out_when_the_buffer_is_full() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(10_000, {"a": 0, "b": 0}, max_buffered=2)
    buffer.offer(Message("a", 1, 1), 0)
    buffer.offer(Message("b", 1, 2), 1)
    [forced] = buffer.offer(Message("a", 3, 3), 2)
    assert forced.message.key == ("a", 1)
    assert forced.missing == (("a", 0),)
    assert buffer.stats.forced_by_capacity == 1
    assert len(buffer) == 2


def test_deps_outside_the_subscription_do_not_hold_messages() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(100, {"a": 5})
    message = Message("a", 5, 0, (("elsewhere", 3), ("a", 2)))  # unsubscribed; below start
    [delivered] = buffer.offer(message, 0)
    assert delivered.marks == frozenset()
    assert buffer.offer(Message("a", 4, 0), 0) == []
    assert buffer.stats.below_start == 1


def test_forgotten_gaps_bound_memory_and_are_counted() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(0, {"t": 0}, max_gaps=1)
    buffer.offer(Message("t", 2, 0), 0)  # forced at once: gap [0, 2)
    buffer.offer(Message("t", 5, 0), 0)  # gap [3, 5); the first gap is forgotten
    assert buffer.stats.forgotten_gap_offsets == 2
    assert buffer.offer(Message("t", 1, 0), 1) == []  # taken for a duplicate, as documented
    [late] = buffer.offer(Message("t", 4, 0), 1)
    assert late.marks == {Mark.LATE}


def test_misuse_is_refused() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(10, {"a": 0})
    with pytest.raises(ValueError, match="unsubscribed"):
        buffer.offer(Message("z", 0, 0), 0)
    with pytest.raises(ValueError, match="already subscribed"):
        buffer.subscribe("a", 3)
    with pytest.raises(ValueError, match="negative"):
        buffer.subscribe("b", -1)
    with pytest.raises(ValueError, match="max_wait_ms"):
        ReorderBuffer(-1, {})


def test_bookkeeping_stays_bounded_while_an_old_message_waits() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(10_000, {"a": 0, "b": 0})
    buffer.offer(Message("a", 1, 0), 0)  # held until a/0 or the bound
    for offset in range(1_000):
        assert len(buffer.offer(Message("b", offset, offset), 1)) == 1
    assert len(buffer) == 1
    assert len(buffer._arrivals) <= 2 * len(buffer) + 64
