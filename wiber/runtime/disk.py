"""A node's durable Raft state on disk: the segmented log, the hard state and snapshots.

`DiskStorage` is the `LogStorage` the core reads, and the writer that executes the persisting
actions of `plan(ready)`. Layout under the node's data directory:

    log/          the segmented log (wiber.storage): one record per Raft entry
    raft-state    term, vote and commit (MetaStore: atomic replace, CRC-checked)
    snapshots/    the newest broker snapshot (SnapshotStore)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgpack

from wiber.core.types import (
    CompactedError,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    UnavailableError,
)
from wiber.storage import FsyncPolicy, MetaStore, Record, SegmentedLog, SnapshotStore


class DiskStorage:
    def __init__(
        self,
        data_dir: Path,
        *,
        bootstrap_voters: Sequence[str],
        fsync: str = "group",
        segment_bytes: int = 64 << 20,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.fsync_policy = FsyncPolicy.parse(fsync)
        self.log = SegmentedLog.open(
            data_dir / "log", segment_bytes=segment_bytes, fsync=self.fsync_policy
        )
        self._meta = MetaStore(data_dir / "raft-state")
        self._snapshots = SnapshotStore(data_dir / "snapshots")
        self._hard_state = self._load_hard_state()
        self._snapshot = self._load_snapshot(tuple(sorted(bootstrap_voters)))

    # -- reading (LogStorage) -------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.conf

    def first_index(self) -> int:
        return max(self.log.first_index, self._snapshot.index + 1)

    def last_index(self) -> int:
        return max(self.log.last_index, self._snapshot.index)

    def term(self, index: int) -> int:
        if index == self._snapshot.index:
            return self._snapshot.term
        if index < self.first_index():
            raise CompactedError(f"index {index} is below the first index {self.first_index()}")
        if index > self.last_index():
            raise UnavailableError(f"index {index} is above the last index {self.last_index()}")
        return self.log.term(index)

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        if lo < self.first_index():
            raise CompactedError(f"index {lo} is below the first index {self.first_index()}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} is above the last index {self.last_index()}")
        if lo >= hi:
            return []
        return [
            Entry(r.index, r.term, EntryKind(r.kind), r.payload)
            for r in self.log.read(lo, hi, max_bytes=max_bytes)
        ]

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def entry_data(self, index: int) -> bytes:
        """The command bytes of one entry (the broker's reader of message bodies)."""
        return self.log.read(index, index + 1)[0].payload

    # -- writing (executing plan actions) -------------------------------------------------

    def append(self, entries: Sequence[Entry], timestamps: Sequence[int]) -> None:
        first = entries[0].index
        if first <= self.log.last_index:
            self.log.truncate_suffix(first)
        self.log.append(
            [
                Record(e.index, e.term, int(e.kind), ts, e.data)
                for e, ts in zip(entries, timestamps, strict=True)
            ]
        )

    def save_hard_state(self, hs: HardState) -> None:
        # Term and vote must be durable before any message leaves; the commit index need not
        # be (it is re-learned from the leader), so a commit-only change skips the fsyncs.
        old = self._hard_state
        self._hard_state = hs
        if (hs.term, hs.vote) != (old.term, old.vote):
            self._meta.save({"term": hs.term, "vote": hs.vote, "commit": hs.commit})

    def install_snapshot(self, snapshot: Snapshot) -> None:
        meta = msgpack.packb(
            {"voters": list(snapshot.conf.voters), "learners": list(snapshot.conf.learners)}
        )
        self._snapshots.save(snapshot.index, snapshot.term, meta + snapshot.data)
        self.log.reset(snapshot.index + 1)
        self._snapshot = snapshot

    def sync(self) -> int:
        return self.log.sync()

    def close(self) -> None:
        self.log.close()

    # -- loading --------------------------------------------------------------------------

    def _load_hard_state(self) -> HardState:
        raw = self._meta.load()
        if raw is None:
            return HardState()
        return HardState(term=int(raw["term"]), vote=raw["vote"], commit=int(raw["commit"]))

    def _load_snapshot(self, voters: tuple[str, ...]) -> Snapshot:
        stored = self._snapshots.load()
        if stored is None:
            return Snapshot(index=0, term=0, conf=ConfState(voters=voters))
        index, term, blob = stored
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(blob)
        conf = unpacker.unpack()
        data = blob[unpacker.tell() :]
        return Snapshot(
            index, term, ConfState(tuple(conf["voters"]), tuple(conf["learners"])), data
        )
