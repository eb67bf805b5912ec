"""One event queue and virtual time: the only scheduler in a simulated world.

Events are ordered by (time, seq): `seq` counts schedulings, so two events due at the same
virtual instant run in the order they were scheduled, never in an order that depends on object
identity or hashing. That tie-break is what makes one seed replay byte for byte.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from wiber.invariant import invariant

Action = Callable[[], None]


class EventQueue:
    """A heap of `(time_us, seq, action)`; `now_us` only moves forward."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Action]] = []
        self._seq = 0
        self.now_us = 0
        self.executed = 0

    def at(self, time_us: int, action: Action) -> None:
        invariant(time_us >= self.now_us, f"event scheduled in the past: {time_us} < {self.now_us}")
        heapq.heappush(self._heap, (time_us, self._seq, action))
        self._seq += 1

    def after(self, delay_us: int, action: Action) -> None:
        self.at(self.now_us + delay_us, action)

    def next_time_us(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def run_next(self) -> None:
        time_us, _, action = heapq.heappop(self._heap)
        self.now_us = time_us
        self.executed += 1
        action()

    def __len__(self) -> int:
        return len(self._heap)


def seconds(time_us: int) -> str:
    """Virtual time as the trace prints it: fixed width, millisecond precision."""
    return f"{time_us / 1_000_000:8.3f}s"
