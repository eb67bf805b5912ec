"""Raft's safety properties as named checks over a cluster state, run after every event.

Each check takes a `ClusterState` (what every node holds now, plus the `Ghost`: what the
simulator has seen over the whole run and no node can see) and returns a description of the
violation or None. Tests build violating states by hand; the simulator builds them from live
nodes after every event that changed one.

Speed matters: the checks run thousands of times per seed. Logs are lists of the `Entry`
objects themselves; in a simulated cluster every node holds the very objects the leader made,
so comparing two log prefixes is a C loop of identity tests, and different objects still
compare by value.

The ghost is the simulator's memory:
- `leaders`: every node ever seen leading each term (Election Safety);
- `committed`: the entry at each index known committed anywhere, and the (running maximum)
  term in which it was first seen committed (State Machine Safety, Leader Completeness);
- `acked`: entries a client got `ok` for (no acknowledged entry lost);
- marks from the previous check (Leader Append-Only, commit index never decreases, and how far
  each leader's log was already checked against the acknowledged entries).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from wiber.core.types import Entry, NodeId, Role


@dataclass
class LogView:
    """A log as the checks see it: the entries after `base_index` (the snapshot's index)."""

    base_index: int = 0
    base_term: int = 0
    entries: list[Entry] = field(default_factory=list)

    @property
    def last_index(self) -> int:
        return self.base_index + len(self.entries)

    def at(self, index: int) -> Entry | None:
        offset = index - self.base_index - 1
        if 0 <= offset < len(self.entries):
            return self.entries[offset]
        return None

    def term_at(self, index: int) -> int | None:
        if index == self.base_index:
            return self.base_term
        entry = self.at(index)
        return None if entry is None else entry.term

    def span(self, lo: int, hi: int) -> list[Entry]:
        """Entries in [lo, hi], clipped to what this log holds."""
        lo = max(lo, self.base_index + 1)
        if hi < lo:
            return []
        return self.entries[lo - self.base_index - 1 : hi - self.base_index]


@dataclass
class NodeView:
    id: NodeId
    up: bool
    incarnation: int
    role: Role
    term: int
    commit: int
    log: LogView
    applied: LogView  # what this incarnation applied, after the snapshot it restored
    # Changes whenever anything above may have changed; None (hand-made states): always check.
    signature: tuple[int, ...] | None = None


@dataclass
class Ghost:
    leaders: dict[int, set[NodeId]] = field(default_factory=dict)
    committed: list[Entry] = field(default_factory=list)  # index i at [i - 1]
    commit_terms: list[int] = field(default_factory=list)  # non-decreasing, per index
    acked: list[Entry] = field(default_factory=list)  # in the order clients got `ok`
    commit_marks: dict[NodeId, tuple[int, int]] = field(default_factory=dict)
    leader_marks: dict[NodeId, tuple[int, int, int, Entry | None]] = field(default_factory=dict)
    acked_marks: dict[NodeId, tuple[int, int, int]] = field(default_factory=dict)
    acked_in_committed: int = 0  # acked[:n] were found committed by an earlier check
    checked: dict[NodeId, tuple[int, ...]] = field(default_factory=dict)  # signatures that passed


@dataclass
class ClusterState:
    nodes: list[NodeView]
    ghost: Ghost

    def up(self) -> list[NodeView]:
        return self._up

    def leaders(self) -> list[NodeView]:
        return self._leaders

    def changed(self) -> list[NodeView]:
        """Up nodes not exactly as they were when every check last passed."""
        return self._changed

    @cached_property
    def _up(self) -> list[NodeView]:
        return [n for n in self.nodes if n.up]

    @cached_property
    def _leaders(self) -> list[NodeView]:
        return [n for n in self._up if n.role is Role.LEADER]

    @cached_property
    def _changed(self) -> list[NodeView]:
        checked = self.ghost.checked
        return [n for n in self._up if n.signature is None or checked.get(n.id) != n.signature]


Check = Callable[[ClusterState], str | None]


def election_safety(state: ClusterState) -> str | None:
    """At most one leader can be elected in a given term (Raft 5.2)."""
    for node in state.leaders():
        seen = state.ghost.leaders.get(node.term, set()) | {node.id}
        if len(seen) > 1:
            return f"term {node.term} has leaders {sorted(seen)}"
    return None


def leader_append_only(state: ClusterState) -> str | None:
    """A leader never overwrites or deletes entries in its log; it only appends (Raft 5.3)."""
    for node in state.leaders():
        mark = state.ghost.leader_marks.get(node.id)
        if mark is None:
            continue
        incarnation, term, last_index, last = mark
        if (incarnation, term) != (node.incarnation, node.term):
            continue
        if node.log.last_index < last_index:
            return (
                f"{node.id} (leader, term {term}) shrank its log "
                f"from {last_index} to {node.log.last_index}"
            )
        kept = last is None or last_index <= node.log.base_index
        if not kept and node.log.at(last_index) != last:
            return f"{node.id} (leader, term {term}) overwrote its entry at {last_index}"
    return None


def _highest_agreement(a: LogView, b: LogView) -> int | None:
    """The highest index where both logs hold an entry of the same term, if any."""
    lo = max(a.base_index, b.base_index)
    hi = min(a.last_index, b.last_index)
    for index in range(hi, lo - 1, -1):
        term = a.term_at(index)
        if term is not None and term == b.term_at(index):
            return index
    return None


def log_matching(state: ClusterState) -> str | None:
    """Two logs with an entry of the same index and term are identical up to it (Raft 5.3)."""
    changed = state.changed()
    checked: set[tuple[str, str]] = set()
    for a in changed:
        for b in state.up():
            pair = (min(a.id, b.id), max(a.id, b.id))
            if a is b or pair in checked:
                continue  # a pair of unchanged nodes passed before and still does
            checked.add(pair)
            agreed = _highest_agreement(a.log, b.log)
            if agreed is None:
                continue
            lo = max(a.log.base_index, b.log.base_index) + 1
            if a.log.span(lo, agreed) != b.log.span(lo, agreed):
                return (
                    f"{a.id} and {b.id} hold entries of the same term at {agreed} "
                    f"but their logs differ below it"
                )
    return None


def leader_completeness(state: ClusterState) -> str | None:
    """An entry committed in a term is in the log of every leader of a later term (Raft 5.4)."""
    ghost = state.ghost
    for node in state.leaders():
        # Entries first seen committed in a term below this leader's must all be in its log.
        must = bisect.bisect_left(ghost.commit_terms, node.term)
        if node.log.last_index < must:
            return (
                f"{node.id} (leader, term {node.term}) ends at {node.log.last_index} "
                f"but entries up to {must} were committed before its term"
            )
        lo = node.log.base_index + 1
        if lo <= must and node.log.span(lo, must) != ghost.committed[lo - 1 : must]:
            return f"{node.id} (leader, term {node.term}) lacks a committed entry below {must}"
    return None


def state_machine_safety(state: ClusterState) -> str | None:
    """No two nodes apply (or commit) different entries at the same index (Raft 5.4.3)."""
    committed = state.ghost.committed
    # The committed list only grows, so an unchanged node that matched it still does.
    for node in state.changed():
        applied = node.applied
        if applied.last_index > len(committed):
            return f"{node.id} applied up to {applied.last_index}, past every commit index"
        if applied.entries != committed[applied.base_index : applied.last_index]:
            return f"{node.id} applied an entry that differs from the committed one"
        lo = node.log.base_index + 1
        if node.log.span(lo, node.commit) != committed[lo - 1 : node.commit]:
            return f"{node.id} committed an entry that differs from the committed one"
    return None


def commit_never_decreases(state: ClusterState) -> str | None:
    """A running node's commit index only grows (a restart starts from the durable one)."""
    for node in state.up():
        mark = state.ghost.commit_marks.get(node.id)
        if mark is not None and mark[0] == node.incarnation and node.commit < mark[1]:
            return f"{node.id} commit index went from {mark[1]} down to {node.commit}"
    return None


def acknowledged_not_lost(state: ClusterState) -> str | None:
    """An entry a client got `ok` for stays committed, in every later leader and applied state.

    Marks make this incremental: the committed list never changes once written, and a leader
    never rewrites its log within a term (checked by Leader Append-Only), so an acked entry
    found in place once stays in place for that leader's term.
    """
    ghost = state.ghost
    committed = ghost.committed
    for entry in ghost.acked[ghost.acked_in_committed :]:
        if entry.index > len(committed) or committed[entry.index - 1] != entry:
            return f"acknowledged entry {entry.index} (term {entry.term}) is not committed"
    for node in state.leaders():
        mark = ghost.acked_marks.get(node.id)
        start = mark[2] if mark is not None and mark[:2] == (node.incarnation, node.term) else 0
        for entry in ghost.acked[start:]:
            later = node.term > ghost.commit_terms[entry.index - 1]
            if later and entry.index > node.log.base_index and node.log.at(entry.index) != entry:
                return f"acknowledged entry {entry.index} is missing from leader {node.id}"
    for node in state.changed():
        applied = node.applied
        if applied.entries != committed[applied.base_index : applied.last_index]:
            return f"{node.id} applied state differs from the acknowledged, committed entries"
    return None


CHECKS: dict[str, Check] = {
    "Election Safety": election_safety,
    "Leader Append-Only": leader_append_only,
    "Log Matching": log_matching,
    "Leader Completeness": leader_completeness,
    "State Machine Safety": state_machine_safety,
    "Commit Index Never Decreases": commit_never_decreases,
    "Acknowledged Entry Never Lost": acknowledged_not_lost,
}


@dataclass(frozen=True)
class Violation:
    property: str
    detail: str

    def __str__(self) -> str:
        return f"{self.property}: {self.detail}"


def observe(state: ClusterState) -> None:
    """Fold what the nodes show now into the ghost, before the checks run."""
    ghost = state.ghost
    for node in state.leaders():
        ghost.leaders.setdefault(node.term, set()).add(node.id)
    for node in state.up():
        have = len(ghost.committed)
        if node.commit <= have or node.log.base_index > have:
            continue  # nothing new, or a snapshot past anything seen committed: nothing to learn
        entries = node.log.span(have + 1, node.commit)
        ghost.committed.extend(entries)
        floor = ghost.commit_terms[-1] if ghost.commit_terms else 0
        ghost.commit_terms.extend([max(floor, node.term)] * len(entries))


def remember(state: ClusterState) -> None:
    """Keep what the next check compares against (after every check passed)."""
    ghost = state.ghost
    ghost.acked_in_committed = len(ghost.acked)
    for node in state.up():
        if node.signature is not None:
            ghost.checked[node.id] = node.signature
        ghost.commit_marks[node.id] = (node.incarnation, node.commit)
        if node.role is Role.LEADER:
            last = node.log.last_index
            ghost.leader_marks[node.id] = (node.incarnation, node.term, last, node.log.at(last))
            ghost.acked_marks[node.id] = (node.incarnation, node.term, len(ghost.acked))


def check(state: ClusterState) -> Violation | None:
    """Observe, run every check in a fixed order, then remember; the first violation wins."""
    observe(state)
    for name, function in CHECKS.items():
        detail = function(state)
        if detail is not None:
            return Violation(name, detail)
    remember(state)
    return None
