"""Time and causal-order properties, checked as the simulator runs (named like `invariants`).

Unlike Raft's checks these are not functions of one cluster state: each watches a stream (the
HLC values a node issues, the timestamps nodes assign when they apply, what a subscriber
delivers), keeps what it needs of the past, and returns a description of the first violation
or None. Tests feed them hand-made streams; the simulator feeds them the live ones.

- `HlcMonotonicPerNode`: every HLC value a node issues is above every value it issued before,
  across restarts (the HLC's persisted bound is what makes that hold).
- `TimestampMonotonicPerTopic`: the timestamp of a committed message strictly increases with
  its offset within a topic, and every node gives an offset the same timestamp, whatever the
  node clocks do (leaders with skewed clocks stamp; the broker keeps the per-topic maximum).
- `CausalDelivery`: a subscriber never delivers a message without a mark before one of its
  causes (a declared dependency or the previous offset of its topic, on a topic it reads from
  at or after its start), never delivers one twice, and in the end delivers every committed
  message it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wiber.clocks.hlc import Stamp

HLC_MONOTONIC = "HLC Monotonic Per Node"
TIMESTAMP_MONOTONIC = "Timestamp Monotonic Per Topic"
CAUSAL_DELIVERY = "Causal Delivery"

Dep = tuple[str, int]


def _show(node: str, value: int) -> str:
    return str(Stamp(value, node))


class HlcMonotonicPerNode:
    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}  # node -> (value, incarnation)

    def issued(self, node: str, incarnation: int, value: int) -> str | None:
        last = self._last.get(node)
        if last is not None and value <= last[0]:
            restart = " across a restart" if incarnation != last[1] else ""
            return f"{node} issued HLC {_show(node, value)} after {_show(node, last[0])}{restart}"
        self._last[node] = (value, incarnation)
        return None


class TimestampMonotonicPerTopic:
    def __init__(self) -> None:
        # Per topic, offset -> timestamp, as the first node to apply it assigned it. Every node
        # applies a topic's offsets in order from what it restored, so these stay contiguous.
        self._hlcs: dict[str, dict[int, int]] = {}

    def appended(
        self, node: str, topic: str, first_offset: int, count: int, first_hlc: int
    ) -> str | None:
        seen = self._hlcs.setdefault(topic, {})
        for i in range(count):
            offset, hlc = first_offset + i, first_hlc + i
            known = seen.get(offset)
            if known is not None:
                if known != hlc:
                    return (
                        f"{node} gave {topic}/{offset} timestamp {hlc}, another node gave it "
                        f"{known}"
                    )
                continue
            below, above = seen.get(offset - 1), seen.get(offset + 1)
            if below is not None and hlc <= below:
                return (
                    f"{topic}/{offset} has timestamp {hlc} (applied by {node}), not above "
                    f"{topic}/{offset - 1}'s {below}"
                )
            if above is not None and hlc >= above:
                return (
                    f"{topic}/{offset} has timestamp {hlc} (applied by {node}), not below "
                    f"{topic}/{offset + 1}'s {above}"
                )
            seen[offset] = hlc
        return None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as a subscriber delivered it."""

    topic: str
    offset: int
    deps: tuple[Dep, ...]
    marks: frozenset[str] = frozenset()
    hlc: int = 0
    payload: str = ""

    def __str__(self) -> str:
        marks = f" [{', '.join(sorted(self.marks))}]" if self.marks else ""
        return f"{self.topic}/{self.offset}{marks}"


class CausalDelivery:
    """One subscriber's deliveries, checked one at a time."""

    def __init__(self, subscriber: str, starts: Mapping[str, int]) -> None:
        self.subscriber = subscriber
        self._starts = dict(starts)
        self._delivered: set[Dep] = set()

    def causes(self, delivery: Delivery) -> list[Dep]:
        """The causes this subscriber must deliver first: those on topics it reads, from its
        start offsets on."""
        implied = [(delivery.topic, delivery.offset - 1)]
        return [
            (topic, offset)
            for topic, offset in [*delivery.deps, *implied]
            if topic in self._starts and offset >= self._starts[topic]
        ]

    def delivered(self, delivery: Delivery) -> str | None:
        key = (delivery.topic, delivery.offset)
        if key in self._delivered:
            return f"{self.subscriber} delivered {delivery} twice"
        if not delivery.marks:
            for topic, offset in self.causes(delivery):
                if (topic, offset) not in self._delivered:
                    return (
                        f"{self.subscriber} delivered {delivery} unmarked before its cause "
                        f"{topic}/{offset}"
                    )
        self._delivered.add(key)
        return None

    def finished(self, ends: Mapping[str, int]) -> str | None:
        """At the end of the run: every committed message read was delivered (none hidden)."""
        for topic, start in sorted(self._starts.items()):
            for offset in range(start, ends.get(topic, 0)):
                if (topic, offset) not in self._delivered:
                    return f"{self.subscriber} never delivered {topic}/{offset}"
        return None
