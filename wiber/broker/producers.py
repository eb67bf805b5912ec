"""Idempotent-producer deduplication, per (producer id, topic).

A producer numbers its messages 0, 1, 2, ... per topic; a batch of k messages carries seq s and
covers s .. s+k-1. Like Kafka, the broker remembers the last `DEDUP_WINDOW` batches of each
producer, so a retry of any of them returns the offsets the messages got the first time.

| incoming batch (s, k) vs. next expected seq n      | verdict                                   |
|----------------------------------------------------|-------------------------------------------|
| unknown producer, s == 0                           | append                                    |
| unknown producer, s > 0                            | unknown-producer (definite)               |
| s == n                                             | append                                    |
| s > n (a gap)                                      | out-of-order-sequence (definite)          |
| s+k <= n, every seq in a remembered batch          | duplicate: the original offsets           |
| s+k <= n, some seq older than the window           | duplicate-sequence (NOT definite: the     |
|                                                    | messages are in the log, offsets unknown) |
| s < n < s+k (overlaps the tail)                    | out-of-order-sequence (NOT definite: the  |
|                                                    | first part is already in the log)         |

Producer state is never expired, so a restarted producer must use a fresh producer id.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from wiber.broker.effects import Code

DEDUP_WINDOW = 5


@dataclass(frozen=True, slots=True)
class SentBatch:
    first_seq: int
    count: int
    first_offset: int


@dataclass(slots=True)
class ProducerWindow:
    next_seq: int = 0
    batches: deque[SentBatch] = field(default_factory=lambda: deque(maxlen=DEDUP_WINDOW))

    def record(self, first_seq: int, count: int, first_offset: int) -> None:
        self.batches.append(SentBatch(first_seq, count, first_offset))
        self.next_seq = first_seq + count


@dataclass(frozen=True, slots=True)
class Duplicate:
    offsets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str
    definite: bool


def check(window: ProducerWindow | None, seq: int, count: int) -> Duplicate | Refusal | None:
    """None when the batch is new and in order; otherwise what to answer instead."""
    if window is None:
        if seq == 0:
            return None
        return Refusal(Code.UNKNOWN_PRODUCER, f"first batch must start at seq 0, not {seq}", True)
    expected = window.next_seq
    if seq == expected:
        return None
    if seq > expected:
        return Refusal(Code.OUT_OF_ORDER_SEQUENCE, f"seq {seq} leaves a gap after {expected}", True)
    if seq + count > expected:
        return Refusal(
            Code.OUT_OF_ORDER_SEQUENCE,
            f"seqs {seq}..{seq + count - 1} overlap those already appended (below {expected})",
            False,
        )
    offsets = _remembered_offsets(window, seq, count)
    if offsets is None:
        return Refusal(
            Code.DUPLICATE_SEQUENCE,
            f"seq {seq} was appended before the dedup window; its offsets are no longer known",
            False,
        )
    return Duplicate(offsets)


def _remembered_offsets(window: ProducerWindow, seq: int, count: int) -> tuple[int, ...] | None:
    offsets: list[int] = []
    for s in range(seq, seq + count):
        for batch in window.batches:
            if batch.first_seq <= s < batch.first_seq + batch.count:
                offsets.append(batch.first_offset + (s - batch.first_seq))
                break
        else:
            return None
    return tuple(offsets)
