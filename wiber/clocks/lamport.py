"""Lamport clock: one counter that orders events consistently with happened-before.

If event a happened before event b then ``L(a) < L(b)``; the converse does not hold (use
`wiber.clocks.vector` to tell concurrent events apart). Values are non-negative ints; 0 means
"no event yet".
"""

from __future__ import annotations


class LamportClock:
    """A Lamport clock owned by one process."""

    def __init__(self, start: int = 0) -> None:
        if start < 0:
            raise ValueError(f"a Lamport clock starts at 0 or above, not {start}")
        self._value = start

    @property
    def value(self) -> int:
        """The value of the latest event (0 before the first one)."""
        return self._value

    def tick(self) -> int:
        """A local or send event: the new value."""
        self._value += 1
        return self._value

    def observe(self, remote: int) -> int:
        """A receive event carrying `remote`: jump past it, then count the receive itself."""
        if remote < 0:
            raise ValueError(f"a Lamport timestamp is never negative (got {remote})")
        self._value = max(self._value, remote) + 1
        return self._value
