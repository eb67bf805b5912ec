"""Vector clocks: immutable mappings from a key (a node, or a topic) to a counter.

A key that is absent counts as 0, and zero entries are never stored, so two clocks that mean
the same thing are equal and hash alike. Clocks form a lattice under `dominates` (pointwise
>=) with `merge` (pointwise max) as the least upper bound; `compare` names the four possible
relations. Wiber's producers use topics as keys: the counter of a topic is one past the highest
offset observed there, which turns a clock into a message's causal dependencies (`deps()`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Final


class Order(enum.Enum):
    """How clock `a` relates to clock `b` in `a.compare(b)`."""

    BEFORE = "before"  # a < b: every counter <=, at least one <
    AFTER = "after"  # a > b
    EQUAL = "equal"
    CONCURRENT = "concurrent"  # neither dominates the other


class VectorClock(Mapping[str, int]):
    """An immutable vector clock. Operations return new clocks."""

    __slots__ = ("_entries", "_hash")

    def __init__(self, entries: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        items = entries.items() if isinstance(entries, Mapping) else entries
        kept: dict[str, int] = {}
        for key, count in items:
            if count < 0:
                raise ValueError(f"vector clock counter for {key!r} is negative ({count})")
            if count:
                kept[key] = max(count, kept.get(key, 0))
        self._entries: Final = dict(sorted(kept.items()))
        self._hash = hash(frozenset(self._entries.items()))

    def __getitem__(self, key: str) -> int:
        return self._entries[key]

    def get_count(self, key: str) -> int:
        """The counter for `key`, 0 when absent."""
        return self._entries.get(key, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VectorClock):
            return self._entries == other._entries
        return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"VectorClock({self._entries!r})"

    def increment(self, key: str, by: int = 1) -> VectorClock:
        """The clock after `by` local events of `key`."""
        if by < 0:
            raise ValueError("a vector clock never goes backwards")
        return self.advance(key, self.get_count(key) + by)

    def advance(self, key: str, count: int) -> VectorClock:
        """The clock with `key` raised to at least `count` (never lowered)."""
        if count <= self.get_count(key):
            return self
        return VectorClock({**self._entries, key: count})

    def merge(self, other: Mapping[str, int]) -> VectorClock:
        """The least upper bound: pointwise maximum."""
        merged = dict(self._entries)
        for key, count in other.items():
            merged[key] = max(count, merged.get(key, 0))
        return VectorClock(merged)

    def dominates(self, other: Mapping[str, int]) -> bool:
        """True when every counter of `other` is <= ours (each clock dominates itself)."""
        return all(count <= self.get_count(key) for key, count in other.items())

    def compare(self, other: VectorClock) -> Order:
        """How this clock relates to `other` in the happened-before partial order."""
        ge = self.dominates(other)
        le = other.dominates(self)
        if ge and le:
            return Order.EQUAL
        if le:
            return Order.BEFORE
        if ge:
            return Order.AFTER
        return Order.CONCURRENT

    def deps(self) -> tuple[tuple[str, int], ...]:
        """As (topic, offset) dependencies: the highest offset covered per key, sorted."""
        return tuple((key, count - 1) for key, count in self._entries.items())


EMPTY: Final = VectorClock()
