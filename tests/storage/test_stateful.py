"""The segmented log against an in-memory model (a list of records), driven by hypothesis.

Rules: appends (with term changes), syncs, suffix truncations, prefix deletions, resets, clean
reopens and crashes, with segments small enough to roll every few records. A crash is modelled
the way a disk fails under fsync: everything up to the last sync survives; of the rest, the
last segment keeps a prefix of random length whose final (partial) record may also have random
bytes flipped, optionally followed by junk. The log must then hold exactly a prefix of the
model that includes every synced record.
"""

from __future__ import annotations

import shutil

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.storage.conftest import fresh_dir
from tests.storage.frames import frame_spans
from wiber.storage import Record, SegmentedLog

payloads = st.binary(max_size=40)


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = fresh_dir()
        self.model: list[Record] = []
        self.first = 1
        self.synced = 0  # every index <= synced must survive a crash
        self.term = 1
        self.segment_bytes = 200
        self.interval = 64
        self.log = self._open()

    def _open(self) -> SegmentedLog:
        return SegmentedLog.open(
            self.directory, segment_bytes=self.segment_bytes, index_interval_bytes=self.interval
        )

    @property
    def last(self) -> int:
        return self.first + len(self.model) - 1

    @initialize(segment_bytes=st.integers(34, 400), interval=st.integers(0, 200))
    def configure(self, segment_bytes: int, interval: int) -> None:
        self.log.close()
        self.segment_bytes, self.interval = segment_bytes, interval
        self.log = self._open()

    @rule(
        data=st.lists(st.tuples(payloads, st.integers(-(2**40), 2**40)), min_size=1, max_size=8),
        new_term=st.booleans(),
    )
    def append(self, data: list[tuple[bytes, int]], new_term: bool) -> None:
        self.term += new_term
        records = [
            Record(self.last + 1 + k, self.term, k % 3, ts, payload)
            for k, (payload, ts) in enumerate(data)
        ]
        self.log.append(records)
        self.model.extend(records)

    @rule()
    def sync(self) -> None:
        assert self.log.sync() == self.last
        self.synced = self.last

    @rule(data=st.data())
    def truncate_suffix(self, data: st.DataObject) -> None:
        cut = data.draw(st.integers(self.first, self.last + 1))
        self.log.truncate_suffix(cut)
        del self.model[cut - self.first :]
        self.synced = min(self.synced, cut - 1)
        self.term += 1  # a new leader's entries replace the cut ones

    @rule(data=st.data())
    def delete_prefix(self, data: st.DataObject) -> None:
        before = data.draw(st.integers(self.first, self.last + 2))
        self.log.delete_prefix(before)
        new_first = self.log.first_index
        assert self.first <= new_first <= max(before, self.first)
        bases = [int(p.name.removesuffix(".log")) for p in self.log.segment_paths()]
        assert len(bases) == 1 or bases[1] > before  # nothing more could have gone
        del self.model[: new_first - self.first]
        self.first = new_first

    @rule(gap=st.integers(0, 5))
    def reset(self, gap: int) -> None:
        next_index = self.last + 1 + gap
        self.log.reset(next_index)
        self.first = next_index
        self.model, self.synced = [], self.first - 1

    @rule()
    def reopen(self) -> None:
        self.log.close()
        self.log = self._open()
        self.synced = self.last  # open fsyncs what the page cache held

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        self.log.close()
        self._damage_unsynced_tail(data)
        self.log = self._open()
        survived = self.log.last_index
        assert self.log.first_index == self.first
        assert self.synced <= survived <= self.last, (self.synced, survived, self.last)
        event("crash: lost unsynced records" if survived < self.last else "crash: lost nothing")
        event("crash: torn bytes cut" if self.log.recovered_bytes else "crash: clean cut")
        del self.model[survived + 1 - self.first :]
        self.synced = survived

    def _damage_unsynced_tail(self, data: st.DataObject) -> None:
        path = sorted(self.directory.glob("*.log"))[-1]
        blob = bytearray(path.read_bytes())
        spans = frame_spans(path)
        synced_end = max((end for index, _s, end in spans if index <= self.synced), default=0)
        cut = data.draw(st.integers(synced_end, len(blob)), label="cut")
        torn_start = max([synced_end] + [start for _i, start, _e in spans if start < cut])
        if cut > torn_start:
            for at in data.draw(st.lists(st.integers(torn_start, cut - 1), max_size=3), "flips"):
                blob[at] ^= data.draw(st.integers(1, 255), label="mask")
        junk = data.draw(st.sampled_from([b"", b"\x00" * 64, b"\xa5" * 5]), label="junk")
        path.write_bytes(bytes(blob[:cut]) + junk)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def read_with_limits(self, data: st.DataObject) -> None:
        lo = data.draw(st.integers(self.first, self.last))
        hi = data.draw(st.integers(lo + 1, self.last + 1))
        max_bytes = data.draw(st.none() | st.integers(0, 400))
        max_count = data.draw(st.none() | st.integers(1, 10))
        got = self.log.read(lo, hi, max_bytes=max_bytes, max_count=max_count)
        assert got == self._expected_read(lo, hi, max_bytes, max_count)

    def _expected_read(
        self, lo: int, hi: int, max_bytes: int | None, max_count: int | None
    ) -> list[Record]:
        out: list[Record] = []
        used = 0
        for record in self.model[lo - self.first : hi - self.first]:
            if out and max_bytes is not None and used + record.frame_size() > max_bytes:
                break
            if out and max_count is not None and len(out) >= max_count:
                break
            out.append(record)
            used += record.frame_size()
        return out

    @rule(ts=st.integers(-(2**40), 2**40) | st.sampled_from([0, 1, -1]))
    def find_time(self, ts: int) -> None:
        expected = next((r.index for r in self.model if r.timestamp >= ts), None)
        assert self.log.find_time(ts) == expected

    @invariant()
    def matches_model(self) -> None:
        assert (self.log.first_index, self.log.last_index) == (self.first, self.last)
        assert self.log.durable_index >= self.synced
        assert self.log.durable_index <= self.last
        if self.model:
            assert self.log.read(self.first, self.last + 1) == self.model
            assert [self.log.term(r.index) for r in self.model] == [r.term for r in self.model]

    def teardown(self) -> None:
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


TestLog = LogMachine.TestCase
