"""A client's causal context: what it has seen, turned into the deps of its next publish.

A producer that consumed offset 41 of `orders` and then publishes to `invoices` makes its
message depend on ``("orders", 41)``; its own previous publish is a dependency too. The context
is a vector clock over topics whose counter is one past the highest offset observed, so
"observed" only ever grows, and offsets below the highest one are implied: a topic's messages
are delivered in offset order, so depending on offset 41 covers 0..40.
"""

from __future__ import annotations

from wiber.clocks.vector import EMPTY, VectorClock

Dep = tuple[str, int]


class CausalContext:
    """The causal past of one client, per topic."""

    def __init__(self, clock: VectorClock = EMPTY) -> None:
        self._clock = clock

    @property
    def clock(self) -> VectorClock:
        return self._clock

    def observed(self, topic: str, offset: int) -> None:
        """The client consumed (`topic`, `offset`)."""
        if offset < 0:
            raise ValueError(f"offset {offset} of {topic!r} is negative")
        self._clock = self._clock.advance(topic, offset + 1)

    def observed_message(self, topic: str, offset: int, deps: tuple[Dep, ...]) -> None:
        """The client consumed a message, hence also its causes: its deps are in our past too
        (a message depending on it then names them even if they are on other topics)."""
        self.observed(topic, offset)
        for dep_topic, dep_offset in deps:
            self.observed(dep_topic, dep_offset)

    def published(self, topic: str, offset: int) -> None:
        """The client's publish was acknowledged at (`topic`, `offset`)."""
        self.observed(topic, offset)

    def merge(self, other: VectorClock) -> None:
        """Adopt another context's past (e.g. carried in a message's metadata)."""
        self._clock = self._clock.merge(other)

    def deps(self) -> tuple[Dep, ...]:
        """The dependencies to attach to the next publish, one per topic, sorted by topic."""
        return self._clock.deps()
