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
from wiber.storage import (
    FsyncPolicy,
    MetaStore,
    Record,
    SegmentedLog,
    SnapshotStore,
    StorageError,
)


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
        self._prefix = MetaStore(data_dir / "log-prefix")
        self._hard_state = self._load_hard_state()
        self._snapshot = self._load_snapshot(tuple(sorted(bootstrap_voters)))
        self._prefix_term = self._load_prefix()
        self._finish_interrupted_install()

    # -- reading (LogStorage) -------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        # The commit index on disk may lag (commit-only changes are not fsynced), but a
        # snapshot only ever holds committed entries.
        hs = self._hard_state
        if hs.commit < self._snapshot.index:
            hs = HardState(hs.term, hs.vote, self._snapshot.index)
        return hs, self._snapshot.conf

    def first_index(self) -> int:
        # Entries below the snapshot stay readable until retention deletes them, so a
        # follower that is only a little behind gets entries, not a snapshot.
        return self.log.first_index

    def last_index(self) -> int:
        return max(self.log.last_index, self._snapshot.index)

    def term(self, index: int) -> int:
        if index == 0:
            return 0  # the empty log's sentinel: index 0 has term 0, always
        if index == self._snapshot.index:
            return self._snapshot.term
        if self._prefix_term is not None and index == self._prefix_term[0]:
            return self._prefix_term[1]
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

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` as the newest state-machine image; the log is left as it is."""
        meta = msgpack.packb(
            {"voters": list(snapshot.conf.voters), "learners": list(snapshot.conf.learners)}
        )
        self._snapshots.save(snapshot.index, snapshot.term, meta + snapshot.data)
        self._snapshot = snapshot

    def install_snapshot(self, snapshot: Snapshot) -> None:
        """A snapshot from the leader replaces the log: it continues after the snapshot."""
        self.save_snapshot(snapshot)
        self.log.reset(snapshot.index + 1)

    def compact(self, before_index: int) -> int:
        """Delete log segments wholly below `before_index` (never past the snapshot), keeping
        the term of the entry just before the new first one; returns the new first index."""
        before_index = min(before_index, self._snapshot.index + 1)
        bases = sorted(int(p.stem) for p in self.log.segment_paths() if p.stem.isdigit())
        cut = max((b for b in bases if b <= before_index), default=self.log.first_index)
        if cut <= self.log.first_index:
            return self.log.first_index
        self._prefix.save({"index": cut - 1, "term": self.log.term(cut - 1)})
        self._prefix_term = (cut - 1, self.log.term(cut - 1))
        self.log.delete_prefix(cut)
        return self.log.first_index

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

    def _load_prefix(self) -> tuple[int, int] | None:
        raw = self._prefix.load()
        return None if raw is None else (int(raw["index"]), int(raw["term"]))

    def _finish_interrupted_install(self) -> None:
        # Installing a snapshot saves it, then resets the log; a crash in between leaves a
        # log that does not continue the snapshot. Finish the reset.
        s = self._snapshot
        if s.index == 0 or self.log.first_index == s.index + 1:
            return
        try:
            consistent = self.log.first_index <= s.index and self.log.term(s.index) == s.term
        except StorageError:
            consistent = False
        if not consistent:
            self.log.reset(s.index + 1)

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
