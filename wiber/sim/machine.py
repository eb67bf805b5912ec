"""The state machine each simulated node applies committed entries to: the real broker.

`BrokerMachine` wraps `wiber.broker.BrokerState` with what the simulator needs: apply an entry
(returning the offsets it assigned), read a topic from an offset, snapshot and restore. Message
bodies come from the node's own simulated disk, as they do from the segmented log in a runtime,
so a node installed from a leader's snapshot serves a topic from its log-start offset.
"""

from __future__ import annotations

from collections.abc import Callable

from wiber.broker import (
    Appended,
    BrokerMessage,
    BrokerState,
    NewMessage,
    PublishBatch,
    Published,
    encode_command,
)
from wiber.broker.commands import Dep

READ_PAGE = 1000


def encode_publish(topic: str, value: int, hlc: int) -> bytes:
    """A one-message publish whose payload is the value's decimal text."""
    message = NewMessage(payload=str(value).encode())
    return encode_command(PublishBatch(topic=topic, messages=(message,), hlc=hlc))


def encode_causal(topic: str, payload: bytes, deps: tuple[Dep, ...], hlc: int) -> bytes:
    """A one-message publish carrying its producer's causal dependencies."""
    message = NewMessage(payload=payload, deps=deps)
    return encode_command(PublishBatch(topic=topic, messages=(message,), hlc=hlc))


class BrokerMachine:
    def __init__(self, entry_reader: Callable[[int], bytes]) -> None:
        self._reader = entry_reader
        self.state = BrokerState()
        self.appended: list[Appended] = []  # what the last apply appended, with its timestamps

    def apply(self, index: int, data: bytes | None) -> tuple[int, ...]:
        """Apply the entry at `index` (None for a no-op or config entry); the offsets assigned."""
        self.appended = []
        if data is None:
            self.state.apply_noop(index)
            return ()
        offsets: tuple[int, ...] = ()
        for effect in self.state.apply(index, data):
            if isinstance(effect, Published) and not effect.duplicate:
                offsets += effect.offsets
            elif isinstance(effect, Appended):
                self.appended.append(effect)
        return offsets

    def read(self, topic: str, start: int) -> list[tuple[int, int]]:
        page = self.state.read(
            topic,
            from_offset=start,
            max_count=READ_PAGE,
            max_bytes=1 << 30,
            entry_reader=self._reader,
        )
        return [(m.offset, int(m.payload)) for m in page.messages]

    def read_messages(self, topic: str, start: int, count: int) -> list[BrokerMessage]:
        """Up to `count` messages from `start` (from the log start, if it is above `start`)."""
        page = self.state.read(
            topic, from_offset=start, max_count=count, max_bytes=1 << 30, entry_reader=self._reader
        )
        return page.messages

    def log_start(self, topic: str) -> int:
        return self.state.log_start_offset(topic)

    def snapshot(self) -> bytes:
        return self.state.snapshot()

    def restore(self, data: bytes, log_start: int) -> None:
        """Restore from snapshot bytes (empty: a fresh state); bodies below `log_start` are gone."""
        self.state = BrokerState.restore(data) if data else BrokerState()
        self.state.truncate_before(log_start)
