"""Membership: the configuration in force follows the config entries in the log (effective
on append, reverted on truncation); the leader keeps one progress per member."""

from __future__ import annotations

from wiber.core.confchange import decode_result, members
from wiber.core.progress import Progress
from wiber.core.state import CoreState
from wiber.core.types import Entry, EntryKind, NodeId, Role


class Membership(CoreState):
    def _refresh_confs(self, entries: tuple[Entry, ...]) -> None:
        """Forget configs whose entries were truncated, then adopt new config entries."""
        while len(self._confs) > 1 and not self.log.match_term(*self._confs[-1][:2]):
            self._confs.pop()
        self._scan_confs(entries)
        if self.role is Role.LEADER:
            self._sync_progress()

    def _scan_confs(self, entries: tuple[Entry, ...] | list[Entry]) -> None:
        for entry in entries:
            if entry.kind is not EntryKind.CONFIG or entry.index <= self._confs[-1][0]:
                continue
            if not self.log.match_term(entry.index, entry.term):
                continue
            try:
                conf = decode_result(entry.data, self.conf)
            except ValueError:
                self._drop("bad-conf-entry")  # kept in the log, but changes nothing
                continue
            self._confs.append((entry.index, entry.term, conf))

    def _sync_progress(self) -> None:
        conf = self.conf
        for node in members(conf):
            if node not in self.prs:
                self._add_progress(node, self.log.last_index())
            self.prs[node].learner = node in conf.learners
        for node in [n for n in self.prs if n not in members(conf)]:
            del self.prs[node]

    def _add_progress(self, node: NodeId, next_index: int) -> None:
        pr = Progress(next_index, self.config.max_inflight, node in self.conf.learners)
        if node == self.id:
            pr.match = self.log.last_index()
            pr.recent_active = True
            pr.become_replicate()
        self.prs[node] = pr
