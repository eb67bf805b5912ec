"""A simulated disk: the node's write-ahead log, with the difference between written and durable.

Reads see every write (the page cache), but only writes covered by a `sync()` survive a power
loss. A process crash keeps everything written, as the kernel still holds it; a power loss keeps
the durable state plus, at random, a prefix of the unsynced writes in order, and may tear the
last of them (an append keeps only some of its entries). Writes reach one log file in order, so
the hard state and the entries never disagree about what came first.

The disk is also the `LogStorage` the core reads: the core sees exactly what a restarted node
would recover, which is how persist-before-send is tested rather than assumed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from wiber.core.types import (
    CompactedError,
    ConfState,
    Entry,
    HardState,
    Snapshot,
    UnavailableError,
)
from wiber.invariant import invariant


@dataclass
class DiskState:
    """The log as one node would recover it: a snapshot, the entries after it, a hard state."""

    snapshot: Snapshot
    hard_state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)

    def copy(self) -> DiskState:
        return DiskState(self.snapshot, self.hard_state, list(self.entries))

    def last_index(self) -> int:
        return self.snapshot.index + len(self.entries)

    def append(self, entries: tuple[Entry, ...]) -> None:
        first = entries[0].index
        invariant(first > self.snapshot.index, f"append at {first} below snapshot")
        invariant(first <= self.last_index() + 1, f"append at {first} leaves a gap")
        cut = first - self.snapshot.index - 1
        del self.entries[cut:]
        self.entries.extend(entries)

    def install(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.entries = []

    def compact(self, snapshot: Snapshot) -> None:
        """Fold entries up to `snapshot.index` into `snapshot`, keeping the ones after it."""
        cut = snapshot.index - self.snapshot.index
        invariant(0 <= cut <= len(self.entries), f"compact to {snapshot.index} outside the log")
        self.snapshot = snapshot
        del self.entries[:cut]


@dataclass(frozen=True, slots=True)
class _Append:
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class _SaveHardState:
    hard_state: HardState


@dataclass(frozen=True, slots=True)
class _Install:
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class _Compact:
    snapshot: Snapshot


Write = _Append | _SaveHardState | _Install | _Compact


def _replay(state: DiskState, write: Write) -> None:
    match write:
        case _Append(entries):
            if entries:
                state.append(entries)
        case _SaveHardState(hard_state):
            state.hard_state = hard_state
        case _Install(snapshot):
            state.install(snapshot)
        case _Compact(snapshot):
            state.compact(snapshot)


class SimDisk:
    """One node's disk. Implements `wiber.core.types.LogStorage` over what has been written."""

    def __init__(self, conf: ConfState) -> None:
        self.current = DiskState(Snapshot(index=0, term=0, conf=conf))
        self._durable = self.current.copy()
        self.unsynced: list[Write] = []
        self.syncs = 0
        self.writes = 0  # counts every change to `current`, so observers can skip the unchanged
        # Bodies of entries compacted out of the Raft log: the segmented log keeps message
        # bodies until retention lets them go (DESIGN.md 3), which the simulator never does.
        # Compaction is synced at once, so no crash takes them back.
        self.archive: dict[int, bytes] = {}

    # Writes, in the order plan(ready) issues them.
    def append(self, entries: tuple[Entry, ...]) -> None:
        self._write(_Append(entries))

    def save_hard_state(self, hard_state: HardState) -> None:
        self._write(_SaveHardState(hard_state))

    def install_snapshot(self, snapshot: Snapshot) -> None:
        self._write(_Install(snapshot))

    def compact(self, index: int, conf: ConfState, data: bytes) -> None:
        for entry in self.entries(self.first_index(), index + 1):
            self.archive[entry.index] = entry.data
        self._write(_Compact(Snapshot(index, self.term(index), conf, data)))

    def body(self, index: int) -> bytes:
        """An entry's data, from the log or, once compacted away, from the archive."""
        if index < self.first_index():
            return self.archive[index]
        return self.entries(index, index + 1)[0].data

    def bodies_from(self, index: int) -> int:
        """The lowest index from which every body up to `index` is still on this disk."""
        start = index + 1
        while start > 1 and start - 1 in self.archive:
            start -= 1
        return start

    def _write(self, write: Write) -> None:
        _replay(self.current, write)
        self.unsynced.append(write)
        self.writes += 1

    def sync(self) -> None:
        if self.unsynced:
            self._durable = self.current.copy()
            self.unsynced = []
        self.syncs += 1

    @property
    def durable(self) -> DiskState:
        """What a power loss right now would leave (read-only: callers must not change it)."""
        return self._durable

    def unsynced_promise(self) -> str | None:
        """What unsynced writes promise, if anything: entries, a snapshot, a term or a vote.

        A hard state that differs from the durable one only in its commit index promises
        nothing (etcd's MustSync rule): the commit index can be recovered from the quorum.
        """
        for write in self.unsynced:
            match write:
                case _Append(entries) if entries:
                    return f"unsynced entries {entries[0].index}..{entries[-1].index}"
                case _Install(snapshot):
                    return f"an unsynced snapshot at {snapshot.index}"
                case _SaveHardState(hard_state):
                    durable = self._durable.hard_state
                    if (hard_state.term, hard_state.vote) != (durable.term, durable.vote):
                        return f"an unsynced term {hard_state.term} / vote {hard_state.vote}"
        return None

    # Crashes.
    def crash_process(self) -> None:
        """The process died but the machine did not: the page cache reaches the disk."""
        self.sync()

    def crash_power(self, rng: random.Random, tear: bool) -> str:
        """Lose unsynced writes (all but a random prefix); maybe tear the last one kept."""
        kept = rng.randint(0, len(self.unsynced))
        lost = len(self.unsynced) - kept
        state = self._durable.copy()
        for write in self.unsynced[:kept]:
            _replay(state, write)
        torn = ""
        next_write = self.unsynced[kept] if lost else None
        if tear and isinstance(next_write, _Append) and next_write.entries:
            entries = next_write.entries
            part = rng.randint(0, len(entries) - 1)
            if part:
                state.append(entries[:part])
                torn = f", tore an append of {len(entries)} entries to {part}"
        self.current = state
        self.writes += 1
        self._durable = state.copy()
        self.unsynced = []
        return f"kept {kept} of {kept + lost} unsynced writes{torn}"

    # LogStorage: what the core reads.
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.current.hard_state, self.current.snapshot.conf

    def first_index(self) -> int:
        return self.current.snapshot.index + 1

    def last_index(self) -> int:
        return self.current.last_index()

    def term(self, index: int) -> int:
        snap = self.current.snapshot
        if index < snap.index:
            raise CompactedError(index)
        if index == snap.index:
            return snap.term
        if index > self.current.last_index():
            raise UnavailableError(index)
        return self.current.entries[index - snap.index - 1].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        base = self.current.snapshot.index
        if lo <= base:
            raise CompactedError(lo)
        if hi > self.current.last_index() + 1:
            raise UnavailableError(hi)
        chosen = self.current.entries[lo - base - 1 : hi - base - 1]
        if max_bytes is None:
            return chosen
        size = 0
        for n, entry in enumerate(chosen):
            size += len(entry.data)
            if size > max_bytes and n > 0:
                return chosen[:n]
        return chosen

    def snapshot(self) -> Snapshot:
        return self.current.snapshot
