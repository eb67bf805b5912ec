"""A broker state with its own log, as a runtime or the simulator would hold them."""

from __future__ import annotations

from collections.abc import Sequence

from wiber.broker import (
    BrokerState,
    Command,
    Effect,
    NewMessage,
    Origin,
    PublishBatch,
    ReadResult,
    encode_command,
)


def batch(
    topic: str,
    payloads: Sequence[bytes],
    *,
    hlc: int = 0,
    producer: str | None = None,
    seq: int | None = None,
    origin: Origin | None = None,
) -> PublishBatch:
    messages = tuple(
        NewMessage(p, producer, None if seq is None else seq + i, 1000 + i)
        for i, p in enumerate(payloads)
    )
    return PublishBatch(topic, messages, hlc, origin)


class Node:
    def __init__(self, state: BrokerState | None = None) -> None:
        self.state = state if state is not None else BrokerState()
        self.log: dict[int, bytes] = {}

    def apply(self, cmd: Command | bytes) -> list[Effect]:
        data = cmd if isinstance(cmd, bytes) else encode_command(cmd)
        index = self.state.applied_index + 1
        self.log[index] = data
        return self.state.apply(index, data)

    def noop(self) -> None:
        self.state.apply_noop(self.state.applied_index + 1)

    def read(
        self,
        topic: str,
        *,
        from_offset: int | None = None,
        last_n: int | None = None,
        from_time_ms: int | None = None,
        max_count: int = 1_000_000,
        max_bytes: int = 1 << 40,
    ) -> ReadResult:
        return self.state.read(
            topic,
            from_offset=from_offset,
            last_n=last_n,
            from_time_ms=from_time_ms,
            max_count=max_count,
            max_bytes=max_bytes,
            entry_reader=self.log.__getitem__,
        )
