"""The consumer-side causal reorder buffer.

Theory of operation. A consumer of several topics receives each topic's messages from its own
subscription, so a message can arrive before a message of another topic that caused it. Every
message names its causal dependencies, ``deps = ((topic, offset), ...)``, and the buffer holds
it until each is *satisfied*:

- the dependency's topic is not subscribed here (this consumer never delivers it, so it cannot
  deliver the effect before it), or
- its offset is below the subscription's start offset (it came before what we read), or
- it was delivered.

Offsets of one topic are delivered in increasing order, so ``(topic, offset - 1)`` is an
implicit dependency of every message above the start offset.

A message is never held longer than `max_wait_ms`: at the first `offer` or `poll` at or after
its deadline it is delivered anyway, after any of its buffered causes and any lower buffered
offsets of its topic (so forcing one message keeps as much order as can still be kept). The
same happens to the oldest message when more than `max_buffered` are held. Gaps are reported,
never hidden, by two marks whose meaning is pinned here:

``missing-cause``
    The message was delivered although at least one dependency was not; `Delivered.missing`
    lists those dependencies. ``(topic, offset - 1)`` in that list means a gap in the topic.
``late``
    The message arrived after a higher offset of its topic had already been delivered (it
    filled a gap that a forced delivery skipped), so it breaks per-topic offset order. It is
    often the missing cause of an effect delivered earlier with ``missing-cause``.

A message may carry both marks. Unmarked deliveries form a linear extension of the
dependencies: every satisfied dependency of an unmarked message was delivered before it.

Every distinct (topic, offset) offered at or above the start is delivered exactly once;
repeats are counted and dropped. Memory is bounded: at most `max_buffered` messages, and per
topic at most `max_gaps` skipped ranges. When a topic's oldest gap is forgotten its offsets
count as delivered from then on: one arriving afterwards is taken for a duplicate and dropped
(`ReorderStats.forgotten_gap_offsets` says how many offsets that covers).

The buffer is deterministic: its output depends only on the sequence of calls and their
arguments. `now_ms` comes from the caller (a monotonic clock); a value below an earlier one is
treated as the earlier one.
"""

from __future__ import annotations

import bisect
import enum
import heapq
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from wiber.invariant import invariant

V = TypeVar("V")
Dep = tuple[str, int]


class Mark(enum.Enum):
    LATE = "late"
    MISSING_CAUSE = "missing-cause"


@dataclass(frozen=True, slots=True)
class Message(Generic[V]):
    topic: str
    offset: int
    value: V
    deps: tuple[Dep, ...] = ()

    @property
    def key(self) -> Dep:
        return (self.topic, self.offset)


@dataclass(frozen=True, slots=True)
class Delivered(Generic[V]):
    message: Message[V]
    marks: frozenset[Mark] = frozenset()
    missing: tuple[Dep, ...] = ()  # dependencies not delivered before this message
    waited_ms: int = 0

    @property
    def marked(self) -> bool:
        return bool(self.marks)


@dataclass(slots=True)
class ReorderStats:
    offered: int = 0
    delivered: int = 0
    duplicates: int = 0
    below_start: int = 0  # offered below the subscription's start offset: dropped
    late: int = 0
    missing_cause: int = 0
    forced_by_wait: int = 0
    forced_by_capacity: int = 0
    forgotten_gap_offsets: int = 0


class _Gaps:
    """Skipped offset ranges of one topic, as sorted disjoint half-open [lo, hi) ranges."""

    def __init__(self, max_ranges: int) -> None:
        self._los: list[int] = []
        self._his: list[int] = []
        self._max_ranges = max_ranges

    def add_above(self, lo: int, hi: int) -> int:
        """Add [lo, hi), above every range held; returns how many offsets were forgotten."""
        invariant(not self._his or self._his[-1] <= lo, "gaps are added in offset order")
        self._los.append(lo)
        self._his.append(hi)
        forgotten = 0
        while len(self._los) > self._max_ranges:
            forgotten += self._his.pop(0) - self._los.pop(0)
        return forgotten

    def __contains__(self, offset: int) -> bool:
        i = bisect.bisect_right(self._los, offset) - 1
        return i >= 0 and offset < self._his[i]

    def fill(self, offset: int) -> None:
        """Mark `offset` delivered; a no-op when its gap was already forgotten."""
        i = bisect.bisect_right(self._los, offset) - 1
        if i < 0 or offset >= self._his[i]:
            return
        lo, hi = self._los[i], self._his[i]
        del self._los[i], self._his[i]
        for a, b in ((offset + 1, hi), (lo, offset)):
            if a < b:
                self._los.insert(i, a)
                self._his.insert(i, b)


@dataclass(slots=True)
class _Topic:
    start: int
    high: int  # highest offset delivered in order (start - 1 before the first)
    gaps: _Gaps
    buffered: dict[int, None] = field(default_factory=dict)  # an ordered set of offsets

    def delivered(self, offset: int) -> bool:
        return self.start <= offset <= self.high and offset not in self.gaps


@dataclass(slots=True)
class _Held(Generic[V]):
    message: Message[V]
    arrival_ms: int
    seq: int
    waiting: dict[Dep, None]  # unsatisfied dependencies, an ordered set


class ReorderBuffer(Generic[V]):
    """Holds messages until their causes are delivered, for at most `max_wait_ms`."""

    def __init__(
        self,
        max_wait_ms: int,
        subscriptions: Mapping[str, int],
        *,
        max_buffered: int = 10_000,
        max_gaps: int = 1_000,
    ) -> None:
        """Args:
        max_wait_ms: the longest a message is held before it is delivered marked.
        subscriptions: topic -> the first offset this consumer reads of it.
        max_buffered: the most messages held; the oldest is forced out beyond it.
        max_gaps: per topic, the most skipped ranges remembered (see the module docstring).
        """
        if max_wait_ms < 0 or max_buffered < 1 or max_gaps < 1:
            raise ValueError("max_wait_ms must be >= 0, max_buffered and max_gaps >= 1")
        self.max_wait_ms = max_wait_ms
        self.max_buffered = max_buffered
        self.max_gaps = max_gaps
        self.stats = ReorderStats()
        self._topics: dict[str, _Topic] = {}
        self._held: dict[Dep, _Held[V]] = {}
        self._waiters: dict[Dep, dict[Dep, None]] = {}
        self._ready: list[tuple[int, Dep]] = []  # heap by arrival order
        self._arrivals: deque[tuple[int, Dep]] = deque()  # oldest first; stale entries skipped
        self._seq = 0
        self._now = 0
        for topic, start in subscriptions.items():
            self.subscribe(topic, start)

    def subscribe(self, topic: str, start: int) -> None:
        """Read `topic` from offset `start`. Messages already held keep their dependencies."""
        if topic in self._topics:
            raise ValueError(f"topic {topic!r} is already subscribed")
        if start < 0:
            raise ValueError(f"start offset {start} of {topic!r} is negative")
        self._topics[topic] = _Topic(start, start - 1, _Gaps(self.max_gaps))

    def __len__(self) -> int:
        return len(self._held)

    def offer(self, message: Message[V], now_ms: int) -> list[Delivered[V]]:
        """Take one message; returns what can be delivered now, in delivery order.

        Raises:
            ValueError: the message's topic is not subscribed.
        """
        topic = self._topics.get(message.topic)
        if topic is None:
            raise ValueError(f"message of unsubscribed topic {message.topic!r}")
        now = self._tick(now_ms)
        self.stats.offered += 1
        out: list[Delivered[V]] = []
        if message.offset < topic.start:
            self.stats.below_start += 1
        elif message.key in self._held or topic.delivered(message.offset):
            self.stats.duplicates += 1
        else:
            self._hold(message, now)
            self._drain(out)
        while len(self._held) > self.max_buffered:
            self.stats.forced_by_capacity += 1
            self._force(self._oldest(), out)
        self._expire(out)
        self._compact()
        return out

    def poll(self, now_ms: int) -> list[Delivered[V]]:
        """Deliver whatever has waited its bound by `now_ms`."""
        self._tick(now_ms)
        out: list[Delivered[V]] = []
        self._expire(out)
        return out

    def next_deadline(self) -> int | None:
        """When the oldest held message must be delivered: the time to call `poll` next."""
        if not self._held:
            return None
        return self._held[self._oldest()].arrival_ms + self.max_wait_ms

    def _tick(self, now_ms: int) -> int:
        self._now = max(self._now, now_ms)
        return self._now

    def _hold(self, message: Message[V], now: int) -> None:
        topic = self._topics[message.topic]
        deps = list(message.deps)
        if message.offset > topic.high + 1:
            deps.append((message.topic, message.offset - 1))
        waiting = {d: None for d in deps if not self._satisfied(d)}
        self._seq += 1
        held = _Held(message, now, self._seq, waiting)
        self._held[message.key] = held
        topic.buffered[message.offset] = None
        self._arrivals.append((held.seq, message.key))
        for dep in waiting:
            self._waiters.setdefault(dep, {})[message.key] = None
        if not waiting:
            heapq.heappush(self._ready, (held.seq, message.key))

    def _satisfied(self, dep: Dep) -> bool:
        topic = self._topics.get(dep[0])
        return topic is None or dep[1] < topic.start or topic.delivered(dep[1])

    def _drain(self, out: list[Delivered[V]]) -> None:
        while self._ready:
            seq, key = heapq.heappop(self._ready)
            held = self._held.get(key)
            if held is not None and held.seq == seq:
                out.append(self._deliver(key))

    def _oldest(self) -> Dep:
        while True:
            seq, key = self._arrivals[0]
            held = self._held.get(key)
            if held is not None and held.seq == seq:
                return key
            self._arrivals.popleft()

    def _compact(self) -> None:
        # Messages delivered out of arrival order leave stale entries behind an old held one;
        # rebuilding when they outnumber the live ones keeps memory bounded by max_buffered.
        if len(self._arrivals) > 2 * len(self._held) + 64:
            self._arrivals = deque(
                (seq, key)
                for seq, key in self._arrivals
                if (held := self._held.get(key)) is not None and held.seq == seq
            )

    def _expire(self, out: list[Delivered[V]]) -> None:
        while self._held:
            key = self._oldest()
            if self._held[key].arrival_ms + self.max_wait_ms > self._now:
                return
            self.stats.forced_by_wait += 1
            self._force(key, out)

    def _force(self, key: Dep, out: list[Delivered[V]]) -> None:
        """Deliver `key` now, after its held causes and the lower held offsets of its topic."""
        for ancestor in self._held_ancestors(key):
            out.append(self._deliver(ancestor))
        self._drain(out)

    def _held_ancestors(self, key: Dep) -> list[Dep]:
        """`key` and what it waits for among held messages, causes first (post-order DFS)."""
        order: list[Dep] = []
        visited = {key}
        stack: list[tuple[Dep, Iterator[Dep]]] = [(key, self._held_causes(key))]
        while stack:
            node, causes = stack[-1]
            cause = next(causes, None)
            if cause is None:
                stack.pop()
                order.append(node)
            elif cause not in visited:
                visited.add(cause)
                stack.append((cause, self._held_causes(cause)))
        return order

    def _held_causes(self, key: Dep) -> Iterator[Dep]:
        topic_name, offset = key
        lower = sorted(o for o in self._topics[topic_name].buffered if o < offset)
        yield from ((topic_name, o) for o in lower)
        yield from (d for d in self._held[key].waiting if d in self._held)

    def _deliver(self, key: Dep) -> Delivered[V]:
        held = self._held.pop(key)
        message = held.message
        topic = self._topics[message.topic]
        del topic.buffered[message.offset]
        for dep in held.waiting:
            waiters = self._waiters[dep]
            del waiters[key]
            if not waiters:
                del self._waiters[dep]
        marks: set[Mark] = set()
        missing = [d for d in held.waiting if not self._satisfied(d)]
        if message.offset <= topic.high:
            marks.add(Mark.LATE)
            topic.gaps.fill(message.offset)
            # A late message's place in its topic is already lost; only its own deps count.
            gap = (message.topic, message.offset - 1)
            missing = [d for d in missing if d != gap or d in message.deps]
        else:
            if message.offset > topic.high + 1:
                forgotten = topic.gaps.add_above(topic.high + 1, message.offset)
                self.stats.forgotten_gap_offsets += forgotten
            topic.high = message.offset
        if missing:
            marks.add(Mark.MISSING_CAUSE)
        self._count(marks)
        self._wake(key)
        return Delivered(message, frozenset(marks), tuple(missing), self._now - held.arrival_ms)

    def _count(self, marks: set[Mark]) -> None:
        self.stats.delivered += 1
        self.stats.late += Mark.LATE in marks
        self.stats.missing_cause += Mark.MISSING_CAUSE in marks

    def _wake(self, key: Dep) -> None:
        for waiter in self._waiters.pop(key, {}):
            held = self._held[waiter]
            del held.waiting[key]
            if not held.waiting:
                heapq.heappush(self._ready, (held.seq, waiter))
