"""The state machine each simulated node applies committed entries to: the real broker.

`BrokerMachine` wraps `wiber.broker.BrokerState` with what the simulator needs: apply an entry
(returning the offsets it assigned), read a topic from an offset, snapshot and restore. Message
bodies come from the node's own simulated disk, as they do from the segmented log in a runtime,
so a node installed from a leader's snapshot serves a topic from its log-start offset.
"""

from __future__ import annotations

from collections.abc import Callable

from wiber.broker import BrokerState, NewMessage, PublishBatch, Published, encode_command

READ_PAGE = 1000


def encode_publish(topic: str, value: int, hlc: int) -> bytes:
    """A one-message publish whose payload is the value's decimal text."""
    message = NewMessage(payload=str(value).encode())
    return encode_command(PublishBatch(topic=topic, messages=(message,), hlc=hlc))


class BrokerMachine:
    def __init__(self, entry_reader: Callable[[int], bytes]) -> None:
        self._reader = entry_reader
        self.state = BrokerState()

    def apply(self, index: int, data: bytes | None) -> tuple[int, ...]:
        """Apply the entry at `index` (None for a no-op or config entry); the offsets assigned."""
        if data is None:
            self.state.apply_noop(index)
            return ()
        offsets: tuple[int, ...] = ()
        for effect in self.state.apply(index, data):
            if isinstance(effect, Published) and not effect.duplicate:
                offsets += effect.offsets
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

    def log_start(self, topic: str) -> int:
        return self.state.log_start_offset(topic)

    def snapshot(self) -> bytes:
        return self.state.snapshot()

    def restore(self, data: bytes, log_start: int) -> None:
        """Restore from snapshot bytes (empty: a fresh state); bodies below `log_start` are gone."""
        self.state = BrokerState.restore(data) if data else BrokerState()
        self.state.truncate_before(log_start)
