"""ReadIndex on the leader (Raft thesis 6.4; the queue itself is in `readonly.py`)."""

from __future__ import annotations

from wiber.core import quorum
from wiber.core.readonly import ReadRequest
from wiber.core.state import MT, CoreState
from wiber.core.types import NodeId, ReadState


class Reads(CoreState):
    def _committed_in_term(self) -> bool:
        return self.log.term_or_zero(self.log.committed) == self.term

    def _leader_read(self, context: bytes, requester: NodeId) -> None:
        if not self._committed_in_term():
            # until an entry of this term commits, our commit index may be behind the real one
            self._reads_waiting.append((context, requester))
            return
        request = ReadRequest(self.log.committed, context, requester)
        if quorum.has_quorum(self.conf.voters, {self.id}):
            self._serve_read(request)
        elif self.readonly.add(self.log.committed, context, requester):
            self._bcast_heartbeat(context)

    def _ack_read(self, context: bytes, voter: NodeId) -> None:
        request = self.readonly.ack(context, voter)
        if request is None or not quorum.has_quorum(self.conf.voters, request.acks | {self.id}):
            return
        for done in self.readonly.release(request):
            self._serve_read(done)

    def _serve_read(self, request: ReadRequest) -> None:
        if request.requester == self.id:
            self._read_states.append(ReadState(request.index, request.context))
        else:
            self._send(
                MT.READ_INDEX_RESP, request.requester, index=request.index, context=request.context
            )
