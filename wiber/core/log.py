"""The core's view of the Raft log: the durable part read through `LogStorage`, plus the
unstable tail (entries, or a snapshot) that the runtime has not yet persisted.

Indexes handed to the runtime are tracked so that every entry is in exactly one Ready:
`_handed` is the last unstable index already given out, `_applying` the last committed index
already given out for apply. Lookups never copy the log: the unstable tail is a list slice.
"""

from __future__ import annotations

from wiber.core.types import (
    CompactedError,
    Entry,
    LogStorage,
    Snapshot,
    UnavailableError,
)
from wiber.invariant import invariant

ENTRY_OVERHEAD = 16  # bytes counted per entry besides its data, for the append size cap


def entry_size(entry: Entry) -> int:
    return len(entry.data) + ENTRY_OVERHEAD


class RaftLog:
    def __init__(self, storage: LogStorage, committed: int, applied: int) -> None:
        self.storage = storage
        self.unstable: list[Entry] = []
        self.offset = storage.last_index() + 1  # index of unstable[0]
        self.snapshot: Snapshot | None = None  # received, not yet handed to the runtime
        self._snapshot_handed = False
        first = storage.first_index()
        # a snapshot's entries are committed even if the hard state on disk is older
        self.committed = max(committed, first - 1)
        self.applied = max(applied, first - 1)
        self._handed = self.offset - 1
        self._applying = self.applied
        invariant(self.applied <= self.committed, f"applied {applied} beyond commit {committed}")

    # -- reading --------------------------------------------------------------------------

    def first_index(self) -> int:
        if self.snapshot is not None:
            return self.snapshot.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        if self.unstable:
            return self.offset + len(self.unstable) - 1
        if self.snapshot is not None:
            return self.snapshot.index
        return self.storage.last_index()

    def term(self, index: int) -> int:
        """Raises CompactedError / UnavailableError like `LogStorage.term`."""
        if self.unstable and self.offset <= index < self.offset + len(self.unstable):
            return self.unstable[index - self.offset].term
        if index > self.last_index():
            raise UnavailableError(index)
        if self.snapshot is not None:
            if index == self.snapshot.index:
                return self.snapshot.term
            raise CompactedError(index)
        return self.storage.term(index)

    def term_or_zero(self, index: int) -> int:
        try:
            return self.term(index)
        except (CompactedError, UnavailableError):
            return 0

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (CompactedError, UnavailableError):
            return False

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft 5.4.1: a candidate's log is at least as up to date as ours."""
        ours = self.last_term()
        return last_term > ours or (last_term == ours and last_index >= self.last_index())

    def entries(self, lo: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries from `lo` to the end (at least one if any), within `max_bytes`."""
        hi = self.last_index() + 1
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(lo)
        out: list[Entry] = []
        if lo < self.offset:
            out = self.storage.entries(lo, min(hi, self.offset), max_bytes)
            if out[-1].index < min(hi, self.offset) - 1:
                return out
        if hi > self.offset:
            start = max(lo, self.offset) - self.offset
            budget = None if max_bytes is None else max_bytes - sum(map(entry_size, out))
            out.extend(_limit(self.unstable[start:], budget, allow_empty=bool(out)))
        return out

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= `index` whose term is <= `term` (fast log back-off)."""
        while index > 0:
            try:
                if self.term(index) <= term:
                    return index
            except CompactedError:
                return index
            except UnavailableError:
                pass
            index -= 1
        return 0

    # -- writing ----------------------------------------------------------------------------

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append, first dropping any suffix from `entries[0].index` on (a conflict)."""
        if not entries:
            return
        after = entries[0].index
        invariant(after > self.committed, f"truncating committed entry {after}")
        invariant(after <= self.last_index() + 1, f"gap before {after}")
        if after == self.offset + len(self.unstable):
            self.unstable.extend(entries)
        elif after <= self.offset:
            self.offset = after
            self.unstable = list(entries)
        else:
            del self.unstable[after - self.offset :]
            self.unstable.extend(entries)
        self._handed = min(self._handed, after - 1)

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: tuple[Entry, ...]
    ) -> int | None:
        """AppendEntries on a follower; returns the last new index, None on mismatch."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                self.append(entries[entry.index - prev_index - 1 :])
                break
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> bool:
        if index <= self.committed:
            return False
        invariant(index <= self.last_index(), f"commit {index} beyond log {self.last_index()}")
        self.committed = index
        return True

    def restore(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._snapshot_handed = False
        self.unstable = []
        self.offset = snapshot.index + 1
        self._handed = snapshot.index
        self.committed = snapshot.index
        self._applying = max(self._applying, snapshot.index)

    # -- the Ready cycle ----------------------------------------------------------------------

    def pending_snapshot(self) -> Snapshot | None:
        return None if self._snapshot_handed else self.snapshot

    def unhanded_entries(self) -> list[Entry]:
        return self.unstable[max(0, self._handed + 1 - self.offset) :]

    def next_to_apply(self, hi: int) -> list[Entry]:
        """Entries after those already handed out for apply, up to `hi` (the caller caps it
        at the commit index)."""
        if hi <= self._applying:
            return []
        return self.entries_between(self._applying + 1, hi + 1)

    def entries_between(self, lo: int, hi: int) -> list[Entry]:
        out: list[Entry] = []
        if lo < self.offset:
            out = self.storage.entries(lo, min(hi, self.offset))
        if hi > self.offset:
            out.extend(self.unstable[max(lo, self.offset) - self.offset : hi - self.offset])
        return out

    def has_work(self) -> bool:
        return (
            self.pending_snapshot() is not None
            or (self._handed < self.last_index() and bool(self.unhanded_entries()))
            or self.committed > self._applying
        )

    def hand_out(self, entries: list[Entry], committed: list[Entry]) -> None:
        if self.snapshot is not None:
            self._snapshot_handed = True
        if entries:
            self._handed = entries[-1].index
        if committed:
            self._applying = committed[-1].index

    def stable_to(self, index: int, term: int) -> None:
        """The runtime persisted entries up to `index` (if still of `term`)."""
        if not self.match_term(index, term) or index < self.offset:
            return
        del self.unstable[: index + 1 - self.offset]
        self.offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.index == index:
            self.snapshot = None
            self._snapshot_handed = False
        self.applied = max(self.applied, index)

    def applied_to(self, index: int) -> None:
        # not an invariant: the simulator must be able to watch a broken core apply early
        self.applied = max(self.applied, index)


def _limit(entries: list[Entry], max_bytes: int | None, allow_empty: bool) -> list[Entry]:
    if max_bytes is None:
        return entries
    size = 0
    for i, entry in enumerate(entries):
        size += entry_size(entry)
        if size > max_bytes and (i > 0 or allow_empty):
            return entries[:i]
    return entries
