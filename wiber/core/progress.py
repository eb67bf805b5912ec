"""What a leader knows about one follower's log, and how fast it may send to it.

```
            reject / unreachable                 needs a compacted entry
  REPLICATE --------------------> PROBE -----------------------------------> SNAPSHOT
      ^                             |  ^                                        |
      +------ append accepted ------+  +---- snapshot acked / failed / stale ---+
```

PROBE sends one AppendEntries and waits for its answer (the follower's log position is
unknown); REPLICATE streams up to `max_inflight` AppendEntries without waiting; SNAPSHOT sends
nothing until the InstallSnapshot is acknowledged or reported failed.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class ProgressStatus:
    match: int
    next: int
    state: ProgressState
    inflight: int
    recent_active: bool
    learner: bool


class Progress:
    def __init__(self, next_index: int, max_inflight: int, learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.recent_active = False
        self.learner = learner
        self.max_inflight = max_inflight
        # last index carried by each AppendEntries in flight, oldest first
        self.inflight: deque[int] = deque()
        self.snapshot_ticks = 0
        self.sent_commit = 0  # highest commit index this follower can have learned from us

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflight.clear()
        self.snapshot_ticks = 0

    def become_probe(self) -> None:
        # after a snapshot the follower has at least the snapshot's entries (if it was applied;
        # if not, the probe is rejected and we back off to the compacted region again)
        if self.state is ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = index

    def maybe_update(self, index: int) -> bool:
        """An AppendEntries up to `index` was accepted; False when the answer is stale."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return updated

    def maybe_decrease(self, rejected: int, hint: int) -> bool:
        """The follower rejected an append after `rejected`; False when the answer is stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def inflight_full(self) -> bool:
        return len(self.inflight) >= self.max_inflight

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflight_full()
        return True

    def sent_entries(self, last_index: int, count: int) -> None:
        if self.state is ProgressState.REPLICATE and count:
            self.next = last_index + 1
            self.inflight.append(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def status(self) -> ProgressStatus:
        return ProgressStatus(
            self.match, self.next, self.state, len(self.inflight), self.recent_active, self.learner
        )
