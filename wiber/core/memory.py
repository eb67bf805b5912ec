"""`MemoryStorage`: the reference `LogStorage`, kept in memory (tests and the simulator).

Besides the read side the core uses, it has the write side a runtime drives from
`plan(ready)`: `append` (with truncation), `set_hard_state`, `apply_snapshot`, and the
application's own `create_snapshot` + `compact`. `entries[0]` is a dummy standing for the
snapshot's last entry, so `term(first_index() - 1)` is always answerable.
"""

from __future__ import annotations

from collections.abc import Iterable

from wiber.core.log import entry_size
from wiber.core.types import (
    CompactedError,
    ConfState,
    Entry,
    HardState,
    NodeId,
    Snapshot,
    UnavailableError,
)
from wiber.invariant import invariant


class MemoryStorage:
    def __init__(self, voters: Iterable[NodeId] = (), learners: Iterable[NodeId] = ()) -> None:
        conf = ConfState(tuple(sorted(voters)), tuple(sorted(learners)))
        self.hard_state = HardState()
        self._snapshot = Snapshot(index=0, term=0, conf=conf)
        self._entries: list[Entry] = [Entry(0, 0)]

    # -- LogStorage ---------------------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.hard_state, self._snapshot.conf

    def first_index(self) -> int:
        return self._entries[0].index + 1

    def last_index(self) -> int:
        return self._entries[0].index + len(self._entries) - 1

    def term(self, index: int) -> int:
        base = self._entries[0].index
        if index < base:
            raise CompactedError(index)
        if index > self.last_index():
            raise UnavailableError(index)
        return self._entries[index - base].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        base = self._entries[0].index
        if lo <= base:
            raise CompactedError(lo)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi)
        out = self._entries[lo - base : hi - base]
        if max_bytes is not None:
            size = 0
            for i, entry in enumerate(out):
                size += entry_size(entry)
                if size > max_bytes and i > 0:
                    return out[:i]
        return out

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- writes, driven by plan(ready) ----------------------------------------------------------

    def append(self, entries: Iterable[Entry]) -> None:
        """Append, first truncating the log to just before the first new entry."""
        entries = list(entries)
        if not entries:
            return
        base = self._entries[0].index
        first = entries[0].index
        if first + len(entries) - 1 <= base:
            return  # all already folded into the snapshot
        if first <= base:
            entries = entries[base + 1 - first :]
            first = base + 1
        last = self.last_index()
        invariant(first <= last + 1, f"gap: append at {first} after {last}")
        del self._entries[first - base :]
        self._entries.extend(entries)

    def set_hard_state(self, hard_state: HardState) -> None:
        self.hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the whole log with `snapshot` (a follower installing the leader's)."""
        if snapshot.index <= self._snapshot.index:
            return
        self._snapshot = snapshot
        self._entries = [Entry(snapshot.index, snapshot.term)]
        if self.hard_state.commit < snapshot.index:
            hs = self.hard_state
            self.hard_state = HardState(hs.term, hs.vote, snapshot.index)

    # -- the application's compaction --------------------------------------------------------

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        """Record state-machine state as of applied `index`; entries stay until `compact`."""
        invariant(index <= self.hard_state.commit, f"snapshot {index} beyond commit")
        if index <= self._snapshot.index:
            return self._snapshot
        self._snapshot = Snapshot(index, self.term(index), conf, data)
        return self._snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to `index` (which must be covered by the snapshot)."""
        base = self._entries[0].index
        if index <= base:
            return
        invariant(index <= self._snapshot.index, f"compact {index} beyond snapshot")
        invariant(index <= self.last_index(), f"compact {index} beyond log")
        self._entries = [Entry(index, self.term(index)), *self._entries[index - base + 1 :]]
