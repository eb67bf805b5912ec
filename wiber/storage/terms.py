"""Run-length index of terms: the term of any index in O(log runs).

A Raft log changes term rarely (once per election that appends), so one (start index, term)
pair per run is tiny even for a long log, and it is rebuilt on open from the records.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from wiber.storage.record import Record


class TermIndex:
    def __init__(self) -> None:
        self._starts: list[int] = []
        self._terms: list[int] = []

    def note(self, index: int, term: int) -> None:
        """Record that `index` (the next index after every noted one) has `term`."""
        if not self._terms or self._terms[-1] != term:
            self._starts.append(index)
            self._terms.append(term)

    def note_all(self, records: Sequence[Record]) -> None:
        """`note()` for each record in order (one call per batch on the append path)."""
        last = self._terms[-1] if self._terms else None
        for record in records:
            if record.term != last:
                last = record.term
                self._starts.append(record.index)
                self._terms.append(last)

    def term(self, index: int) -> int:
        """The term of `index`; the caller checks that `index` is in the log."""
        return self._terms[bisect_right(self._starts, index) - 1]

    def truncate(self, from_index: int) -> None:
        """Forget indexes >= from_index."""
        cut = bisect_left(self._starts, from_index)
        del self._starts[cut:], self._terms[cut:]

    def forget_before(self, first_index: int) -> None:
        """Drop runs that end before `first_index` (keeps the run containing it)."""
        keep = max(bisect_right(self._starts, first_index) - 1, 0)
        del self._starts[:keep], self._terms[:keep]

    def clear(self) -> None:
        self._starts.clear()
        self._terms.clear()

    def runs(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._terms, strict=True))
