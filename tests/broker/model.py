"""A deliberately naive model of the broker, for the stateful test to compare against.

It keeps every message of every topic in a list and every producer's whole history, and
answers each question by scanning them: slow, obvious, and written without the state
machine's index or dedup window structures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wiber.broker import DEDUP_WINDOW, EXPECT_UNSET, Code, Dep, PublishBatch

INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class ModelMessage:
    offset: int
    payload: bytes
    producer_id: str | None
    seq: int | None
    create_time_ms: int | None
    hlc: int
    log_index: int
    deps: tuple[Dep, ...] = ()
    skew_us: tuple[int, int] | None = None


# What the model expects of an applied command: a tuple naming the outcome.
#   ("published", offsets, duplicate)   ("rejected", code, definite)   ("committed", offset)
Outcome = tuple[object, ...]


@dataclass
class Model:
    topics: dict[str, list[ModelMessage]] = field(default_factory=dict)
    committed: dict[tuple[str, str], int] = field(default_factory=dict)
    # (producer, topic) -> the (first_seq, count) of every batch it appended, oldest first
    history: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)
    retention_floor: int = 0  # no message from an entry below this log index is readable

    def publish(self, log_index: int, cmd: PublishBatch) -> Outcome:
        bad_deps = any(o < 0 for m in cmd.messages for _, o in m.deps)
        if bad_deps or any(len(m.deps) > 64 for m in cmd.messages):
            return ("rejected", Code.INVALID_COMMAND, True)
        msgs = self.topics.get(cmd.topic, [])
        pid, seq = cmd.messages[0].producer_id, cmd.messages[0].seq
        if pid is not None and seq is not None:
            outcome = self._dedup(pid, cmd.topic, seq, len(cmd.messages))
            if outcome is not None:
                return outcome
        last_hlc = msgs[-1].hlc if msgs else -1
        first_hlc = max(cmd.hlc, last_hlc + 1)
        start = len(msgs)
        for i, m in enumerate(cmd.messages):
            msgs.append(
                ModelMessage(
                    start + i,
                    m.payload,
                    m.producer_id,
                    m.seq,
                    m.create_time_ms,
                    first_hlc + i,
                    log_index,
                    m.deps,
                    cmd.skew_us,
                )
            )
        self.topics[cmd.topic] = msgs
        if pid is not None and seq is not None:
            self.history.setdefault((pid, cmd.topic), []).append((seq, len(cmd.messages)))
        return ("published", tuple(range(start, len(msgs))), False)

    def _dedup(self, pid: str, topic: str, seq: int, count: int) -> Outcome | None:
        batches = self.history.get((pid, topic), [])
        expected = sum(n for _, n in batches)
        if not batches:
            return None if seq == 0 else ("rejected", Code.UNKNOWN_PRODUCER, True)
        if seq == expected:
            return None
        if seq > expected:
            return ("rejected", Code.OUT_OF_ORDER_SEQUENCE, True)
        if seq + count > expected:
            return ("rejected", Code.OUT_OF_ORDER_SEQUENCE, False)
        remembered = {s for first, n in batches[-DEDUP_WINDOW:] for s in range(first, first + n)}
        if not all(s in remembered for s in range(seq, seq + count)):
            return ("rejected", Code.DUPLICATE_SEQUENCE, False)
        by_seq = {m.seq: m.offset for m in self.topics[topic] if m.producer_id == pid}
        return ("published", tuple(by_seq[s] for s in range(seq, seq + count)), True)

    def commit(self, group: str, topic: str, offset: int, expect: int | None) -> Outcome:
        current = self.committed.get((group, topic))
        if expect is not None and current != (None if expect == EXPECT_UNSET else expect):
            return ("rejected", Code.OFFSET_MISMATCH, True)
        self.committed[(group, topic)] = offset
        return ("committed", offset)

    def readable(self, topic: str) -> list[ModelMessage]:
        return [m for m in self.topics.get(topic, []) if m.log_index >= self.retention_floor]

    def log_start_offset(self, topic: str) -> int:
        readable = self.readable(topic)
        return readable[0].offset if readable else len(self.topics.get(topic, []))
