"""wiber.storage: the on-disk Raft log (which is the message log), metadata and snapshots.

Full description: `wiber/storage/FORMAT.md`. Layout of a node's log directory:

    LOCK                          flock()ed while a SegmentedLog has the directory open
    00000000000000000001.log      segment: records with indexes [1, ...]
    00000000000000004711.log      next segment: starts right after the previous one ends

Record frame (little-endian, see `record.py`): crc32 u32 over the rest of the frame | length
u32 (25 + payload bytes) | index u64 | term u64 | timestamp i64 (HLC) | kind u8 | payload.

Indexes are in memory only, rebuilt on open by reading every segment and checking every CRC
(opening costs one sequential read of the log):
- a sparse offset index per segment: one point per `index_interval_bytes` of frames, mapping a
  record index to its byte position;
- the time index on the same points: the max timestamp of the segment's records before each
  point, so `find_time(t)` finds the first record stamped at or after t (Kafka's max-so-far);
- a run-length term index: one (first index, term) pair per run of equal terms.

Recovery on open: a bad frame (short, impossible length, CRC mismatch) in the last segment with
no valid record after it is a torn tail and is cut, with everything after it. A bad frame with
a valid record after it, a bad frame in an earlier segment, a record whose index breaks the
sequence, or a gap between segments raises `CorruptLogError(path, offset, reason)`.

Durability: see `policy.py` (always / group / interval:<ms> / never) and `log.py`. Segment rolls
fsync the finished segment and the directory. `MetaStore` and `SnapshotStore` replace whole
files atomically (write-new, fsync, rename, fsync dir) behind a magic and a CRC.
"""

from wiber.storage.errors import (
    CorruptFileError,
    CorruptLogError,
    LogUsageError,
    OutOfRangeError,
    StorageError,
)
from wiber.storage.files import atomic_write
from wiber.storage.log import SegmentedLog
from wiber.storage.meta import MetaStore
from wiber.storage.policy import FsyncPolicy
from wiber.storage.record import Record
from wiber.storage.snapshots import SnapshotStore

__all__ = [
    "CorruptFileError",
    "CorruptLogError",
    "FsyncPolicy",
    "LogUsageError",
    "MetaStore",
    "OutOfRangeError",
    "Record",
    "SegmentedLog",
    "SnapshotStore",
    "StorageError",
    "atomic_write",
]
