"""ReadIndex (Raft thesis 6.4): linearizable reads without writing to the log.

The leader notes its commit index for each request, then confirms it is still leader with a
heartbeat round carrying the request's context. Once a majority answered a round, that request
and every earlier one are safe to serve at their noted index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wiber.core.types import NodeId


@dataclass(slots=True)
class ReadRequest:
    index: int
    context: bytes
    requester: NodeId
    acks: set[NodeId] = field(default_factory=set)


class ReadOnly:
    def __init__(self) -> None:
        self._queue: list[ReadRequest] = []

    def add(self, index: int, context: bytes, requester: NodeId) -> bool:
        """False when a request with this context is already pending (it is served once)."""
        if any(r.context == context for r in self._queue):
            return False
        self._queue.append(ReadRequest(index, context, requester))
        return True

    def ack(self, context: bytes, voter: NodeId) -> ReadRequest | None:
        for request in self._queue:
            if request.context == context:
                request.acks.add(voter)
                return request
        return None

    def release(self, request: ReadRequest) -> list[ReadRequest]:
        """Remove and return `request` with everything queued before it."""
        at = self._queue.index(request)
        done = self._queue[: at + 1]
        del self._queue[: at + 1]
        return done

    def last_context(self) -> bytes:
        return self._queue[-1].context if self._queue else b""

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)
