"""History reads: from an offset, the last N, or from a time, one page at a time.

The state knows where messages are; their bodies come from the Raft log through an injected
`entry_reader(log_index) -> bytes` (the segmented log in the runtime, a dict in tests and in the
simulator), so reading stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from wiber.broker.commands import CommandError, Dep, RawBatch, decode_entry, deps_of
from wiber.broker.index import TopicIndex
from wiber.invariant import InvariantViolation

EntryReader = Callable[[int], bytes]


def message_id(topic: str, offset: int) -> str:
    """A message's id: offsets are never reused, so `<topic>/<offset>` names it forever."""
    return f"{topic}/{offset}"


class BrokerMessage(NamedTuple):
    """A stored message as reads return it (a named tuple: pages hold many of them).

    `skew_offset_us` / `skew_error_us` are the stamping leader's clock metadata for the batch
    (see `PublishBatch.skew_us`), None when it had none.
    """

    topic: str
    offset: int
    hlc: int
    producer_id: str | None
    seq: int | None
    create_time_ms: int | None
    payload: bytes
    deps: tuple[Dep, ...] = ()
    skew_offset_us: int | None = None
    skew_error_us: int | None = None
    traceparent: str | None = None  # the trace context of the message's batch

    @property
    def id(self) -> str:
        return message_id(self.topic, self.offset)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One page. Continue from `next_offset`; it equals the end offset when caught up."""

    messages: list[BrokerMessage]
    next_offset: int
    log_start_offset: int


class ReadError(ValueError):
    """The read's arguments are malformed (a caller bug or a bad client request)."""


def start_offset(
    index: TopicIndex, from_offset: int | None, last_n: int | None, from_time_ms: int | None
) -> int:
    """Where a read begins; offsets below the log-start offset read from the log start."""
    chosen = [arg for arg in (from_offset, last_n, from_time_ms) if arg is not None]
    if len(chosen) > 1:
        raise ReadError("give at most one of from_offset, last_n and from_time_ms")
    if any(arg < 0 for arg in chosen):
        raise ReadError("read positions must not be negative")
    if from_offset is not None:
        return max(from_offset, index.start_offset)
    if last_n is not None:
        return max(index.end_offset - last_n, index.start_offset)
    if from_time_ms is not None:
        # HLC = physical ms << 16 | logical, so this is the first HLC of that millisecond.
        return index.offset_at_hlc(from_time_ms << 16)
    return index.start_offset


def read_page(
    topic: str,
    index: TopicIndex,
    first: int,
    max_count: int,
    max_bytes: int,
    entry_reader: EntryReader,
) -> ReadResult:
    """Messages from offset `first` on, at most `max_count` and about `max_bytes` of payload.

    The first message is returned even when it alone exceeds `max_bytes`, so that paging always
    makes progress (as Kafka's fetch does).
    """
    if max_count < 0 or max_bytes < 0:
        raise ReadError("max_count and max_bytes must not be negative")
    messages: list[BrokerMessage] = []
    offset, size = first, 0
    while offset < index.end_offset and len(messages) < max_count:
        row = index.row(index.row_of(offset))
        batch = _batch_at(entry_reader, row.log_index, topic, row.count)
        skew_offset, skew_error = batch.skew_us or (None, None)
        for slot in range(offset - row.first_offset, row.count):
            payload, producer_id, seq, create_time_ms, deps = batch.rows[slot]
            if messages and (len(messages) >= max_count or size + len(payload) > max_bytes):
                return ReadResult(messages, offset, index.start_offset)
            messages.append(
                BrokerMessage(
                    topic,
                    offset,
                    row.first_hlc + slot,
                    producer_id,
                    seq,
                    create_time_ms,
                    payload,
                    deps_of(deps),
                    skew_offset,
                    skew_error,
                    batch.traceparent,
                )
            )
            size += len(payload)
            offset += 1
    return ReadResult(messages, offset, index.start_offset)


def _batch_at(entry_reader: EntryReader, log_index: int, topic: str, count: int) -> RawBatch:
    try:
        cmd = decode_entry(entry_reader(log_index))
    except CommandError as exc:
        raise InvariantViolation(f"log entry {log_index} of topic {topic!r}: {exc}") from exc
    if isinstance(cmd, RawBatch) and cmd.topic == topic and len(cmd.rows) == count:
        return cmd
    raise InvariantViolation(
        f"log entry {log_index} is not the {count}-message batch of {topic!r} the index expects"
    )
