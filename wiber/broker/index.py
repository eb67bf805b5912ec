"""Where each message of a topic lives in the Raft log.

Message bodies stay in the Raft log; a topic keeps one row per applied batch:
(first offset, log index of the entry, first HLC). Rows are contiguous (a batch starts where
the previous one ended), so a row's count is the next row's first offset minus its own, and
the last row ends at `end_offset`. Per-topic HLCs strictly increase, so the first-HLC column
is already the max-so-far time index Kafka keeps separately: both lookups are one bisect.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from wiber.invariant import invariant


@dataclass(frozen=True, slots=True)
class Row:
    first_offset: int
    count: int
    log_index: int
    first_hlc: int


class TopicIndex:
    __slots__ = ("_first_hlcs", "_first_offsets", "_log_indexes", "end_offset", "last_hlc")

    def __init__(self) -> None:
        self._first_offsets: list[int] = []
        self._log_indexes: list[int] = []
        self._first_hlcs: list[int] = []
        self.end_offset = 0
        # -1 so that a topic's first message takes the leader's stamp unchanged.
        self.last_hlc = -1

    @property
    def start_offset(self) -> int:
        """The log-start offset: the first offset still readable (the end when none is)."""
        return self._first_offsets[0] if self._first_offsets else self.end_offset

    def __len__(self) -> int:
        return len(self._first_offsets)

    def next_hlc(self, stamped: int) -> int:
        """The first HLC a batch stamped `stamped` gets: never at or below one already given."""
        return max(stamped, self.last_hlc + 1)

    def append(self, log_index: int, count: int, first_hlc: int) -> int:
        """Add a batch of `count` messages; returns its first offset."""
        invariant(count > 0, "an index row covers at least one message")
        invariant(first_hlc > self.last_hlc, "per-topic HLCs strictly increase")
        invariant(
            not self._log_indexes or log_index > self._log_indexes[-1],
            "rows are appended in log order",
        )
        first = self.end_offset
        self._first_offsets.append(first)
        self._log_indexes.append(log_index)
        self._first_hlcs.append(first_hlc)
        self.end_offset = first + count
        self.last_hlc = first_hlc + count - 1
        return first

    def row(self, i: int) -> Row:
        first = self._first_offsets[i]
        end = self._first_offsets[i + 1] if i + 1 < len(self) else self.end_offset
        return Row(first, end - first, self._log_indexes[i], self._first_hlcs[i])

    def row_of(self, offset: int) -> int:
        """The row holding `offset`, which must be between the start and end offsets."""
        invariant(self.start_offset <= offset < self.end_offset, f"offset {offset} not indexed")
        return bisect_right(self._first_offsets, offset) - 1

    def hlc_of(self, offset: int) -> int | None:
        """The stamp of the message at `offset`, or None once retention dropped it."""
        if not self.start_offset <= offset < self.end_offset:
            return None
        row = self.row(self.row_of(offset))
        return row.first_hlc + (offset - row.first_offset)

    def offset_at_hlc(self, hlc: int) -> int:
        """The first readable offset whose HLC is >= `hlc` (the end offset when none is)."""
        i = bisect_right(self._first_hlcs, hlc) - 1
        if i < 0:
            return self.start_offset
        row = self.row(i)
        if hlc < row.first_hlc + row.count:
            return row.first_offset + (hlc - row.first_hlc)
        return row.first_offset + row.count

    def truncate_before(self, log_index: int) -> None:
        """Forget rows whose entry is below `log_index` (retention removed that log prefix)."""
        n = bisect_left(self._log_indexes, log_index)
        del self._first_offsets[:n]
        del self._log_indexes[:n]
        del self._first_hlcs[:n]

    def rows(self) -> list[tuple[int, int, int]]:
        """(first offset, log index, first HLC) per row, for snapshots."""
        return list(zip(self._first_offsets, self._log_indexes, self._first_hlcs, strict=True))

    @classmethod
    def from_rows(
        cls, rows: list[tuple[int, int, int]], end_offset: int, last_hlc: int
    ) -> TopicIndex:
        """Rebuild from `rows()`; raises ValueError when the columns do not fit together."""
        index = cls()
        for first_offset, log_index, first_hlc in rows:
            if index._first_offsets and not (
                first_offset > index._first_offsets[-1]
                and log_index > index._log_indexes[-1]
                and first_hlc >= index._first_hlcs[-1] + first_offset - index._first_offsets[-1]
            ):
                raise ValueError(f"index row {(first_offset, log_index, first_hlc)} out of order")
            index._first_offsets.append(first_offset)
            index._log_indexes.append(log_index)
            index._first_hlcs.append(first_hlc)
        index.end_offset = end_offset
        index.last_hlc = last_hlc
        if rows and not (
            end_offset > rows[-1][0] and last_hlc == rows[-1][2] + end_offset - rows[-1][0] - 1
        ):
            raise ValueError("last index row does not end at the end offset and last HLC")
        if min(end_offset, last_hlc + 1, *(v for row in rows for v in row)) < 0:
            raise ValueError("negative offset, log index or HLC in the index")
        return index
