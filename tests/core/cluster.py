"""A small randomized cluster of cores for property tests, with Raft's safety checks.

Not the simulator (`wiber/sim` has virtual time, disks and the history format): this is the
core's own test bench. One seed drives everything: ticks, message delivery in any order,
drops, duplicates, partitions, crashes and restarts, proposals, compaction, transfers and
reads. Every Ready is executed with `plan()` against a `MemoryStorage` and fully synced, and
after every Ready the checks below run; a violation raises `SafetyViolation` naming the rule.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

from wiber.core.errors import ProposalDropped
from wiber.core.memory import MemoryStorage
from wiber.core.plan import Append, Apply, InstallSnapshot, SaveHardState, Send, plan
from wiber.core.raft import RaftCore
from wiber.core.types import (
    Config,
    ConfigChange,
    ConfigChangeType,
    Entry,
    EntryKind,
    Message,
    Ready,
    Role,
)


class SafetyViolation(Exception):
    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule


class Cluster:
    def __init__(
        self,
        size: int,
        seed: int,
        core_class: type[RaftCore] = RaftCore,
        *,
        pre_vote: bool = True,
        check_quorum: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        self.core_class = core_class
        self.names = [f"n{i}" for i in range(1, size + 1)]
        self.configs = {
            n: Config(n, pre_vote=pre_vote, check_quorum=check_quorum, max_inflight=4)
            for n in self.names
        }
        self.storages = {n: MemoryStorage(self.names) for n in self.names}
        self.cores: dict[str, RaftCore | None] = {n: self._boot(n) for n in self.names}
        self.network: list[Message] = []
        self.cuts: set[frozenset[str]] = set()
        self.proposed = 0
        # what the checks remember
        self.leader_of_term: dict[int, str] = {}
        self.leader_log: dict[int, dict[int, int]] = {}  # term -> index -> entry term
        self.committed: dict[int, tuple[int, bytes]] = {}  # index -> (term, data)
        self.applied: dict[int, tuple[int, bytes]] = {}
        self.commit_seen: dict[str, int] = dict.fromkeys(self.names, 0)
        self.ready_hooks: list[Callable[[str, Ready], None]] = []

    def _boot(self, name: str) -> RaftCore:
        rng = random.Random(self.rng.getrandbits(32))
        return self.core_class(self.configs[name], self.storages[name], rng)

    # -- running ------------------------------------------------------------------------------

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.random_step()

    def random_step(self) -> None:
        roll = self.rng.random()
        if roll < 0.30:
            self.tick_all()
        elif roll < 0.70:
            self.deliver_one()
        elif roll < 0.80:
            self.propose()
        elif roll < 0.84 and self.network:
            self.network.pop(self.rng.randrange(len(self.network)))
        elif roll < 0.86 and self.network:
            self.network.append(self.rng.choice(self.network))  # duplicate
        elif roll < 0.88:
            self.partition_or_heal()
        elif roll < 0.90:
            self.crash_or_restart()
        elif roll < 0.92:
            self.compact()
        elif roll < 0.93:
            self.transfer()
        elif roll < 0.95:
            self.read()
        elif roll < 0.96:
            self.change_membership()
        self.process_all()

    def tick_all(self) -> None:
        for core in self.cores.values():
            if core is not None:
                core.tick()

    def deliver_one(self) -> None:
        if not self.network:
            return
        m = self.network.pop(self.rng.randrange(len(self.network)))
        core = self.cores[m.dst]
        if core is not None and frozenset((m.src, m.dst)) not in self.cuts:
            core.step(m)

    def propose(self) -> None:
        for core in self.live():
            if core.role is Role.LEADER:
                self.proposed += 1
                with contextlib.suppress(ProposalDropped):
                    core.propose(b"v%d" % self.proposed)
                return

    def partition_or_heal(self) -> None:
        if self.cuts:
            self.cuts.clear()
            return
        isolated = self.rng.sample(self.names, self.rng.randint(1, len(self.names) // 2))
        for a in isolated:
            self.cuts.update(frozenset((a, b)) for b in self.names if b not in isolated)

    def crash_or_restart(self) -> None:
        name = self.rng.choice(self.names)
        if self.cores[name] is None:
            self.cores[name] = self._boot(name)
        elif sum(c is None for c in self.cores.values()) < (len(self.names) - 1) // 2:
            self.cores[name] = None
            self.network = [m for m in self.network if m.dst != name]

    def compact(self) -> None:
        name = self.rng.choice(self.names)
        core = self.cores[name]
        if core is None or core.log.applied < 3:
            return
        index = core.log.applied - 1
        storage = self.storages[name]
        storage.create_snapshot(index, core.conf_at(index), b"")
        storage.compact(index)

    def transfer(self) -> None:
        for core in self.live():
            if core.role is Role.LEADER:
                with contextlib.suppress(ProposalDropped):
                    core.transfer_leadership(self.rng.choice(self.names))

    def read(self) -> None:
        core = self.rng.choice(self.live() or [None])
        if core is not None:
            with contextlib.suppress(ProposalDropped):
                core.read_index(b"r%d" % self.rng.getrandbits(16))

    def change_membership(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        node = self.rng.choice(self.names)
        voters = leader.conf.voters
        if node in voters and len(voters) > 3:
            kind = ConfigChangeType.REMOVE
        elif node in voters:
            kind = ConfigChangeType.ADD_LEARNER  # demote
        else:
            kind = ConfigChangeType.ADD_VOTER
        with contextlib.suppress(ProposalDropped):
            leader.propose_conf_change(ConfigChange(kind, node))

    def heal_and_settle(self, ticks: int = 400) -> None:
        """Heal, restart everyone, and run without faults until a leader commits."""
        self.cuts.clear()
        for name in self.names:
            if self.cores[name] is None:
                self.cores[name] = self._boot(name)
        for _ in range(ticks):
            self.tick_all()
            while self.network:
                self.deliver_one()
                self.process_all()
            self.process_all()

    def live(self) -> list[RaftCore]:
        return [c for c in self.cores.values() if c is not None]

    def process_all(self) -> None:
        for name in self.names:
            core = self.cores[name]
            while core is not None and core.has_ready():
                self._execute(name, core, core.ready())
                self.check(name, core)

    def _execute(self, name: str, core: RaftCore, rd: Ready) -> None:
        storage = self.storages[name]
        for hook in self.ready_hooks:
            hook(name, rd)
        for action in plan(rd):
            if isinstance(action, InstallSnapshot):
                storage.apply_snapshot(action.snapshot)
            elif isinstance(action, Append):
                storage.append(action.entries)
            elif isinstance(action, SaveHardState):
                storage.set_hard_state(action.hard_state)
            elif isinstance(action, Send):
                self.network.extend(action.messages)
            elif isinstance(action, Apply):
                self._check_apply(name, action.entries)
        core.advance(rd)

    # -- the checks ---------------------------------------------------------------------------

    def check(self, name: str, core: RaftCore) -> None:
        self._check_election_safety(name, core)
        self._check_leader_append_only(core)
        self._check_commit(name, core)

    def _check_election_safety(self, name: str, core: RaftCore) -> None:
        if core.role is not Role.LEADER:
            return
        first = self.leader_of_term.setdefault(core.term, name)
        if first != name:
            raise SafetyViolation("election-safety", f"{first} and {name} lead term {core.term}")
        if core.term not in self.leader_log:
            self._check_leader_completeness(name, core)
            self.leader_log[core.term] = {}

    def _check_leader_completeness(self, name: str, core: RaftCore) -> None:
        first = core.log.first_index()
        for index, (term, _) in self.committed.items():
            if index >= first and core.log.term_or_zero(index) != term:
                raise SafetyViolation(
                    "leader-completeness", f"new leader {name} lacks committed {index}:t{term}"
                )

    def _check_leader_append_only(self, core: RaftCore) -> None:
        if core.role is not Role.LEADER:
            return
        seen = self.leader_log[core.term]
        first, last = core.log.first_index(), core.log.last_index()
        for index, term in seen.items():
            if index >= first and core.log.term_or_zero(index) != term:
                raise SafetyViolation("leader-append-only", f"{core.id} rewrote index {index}")
        for index in range(max(first, last - 8), last + 1):
            seen[index] = core.log.term(index)

    def _check_commit(self, name: str, core: RaftCore) -> None:
        commit = core.log.committed
        if commit < self.commit_seen[name] and self.cores[name] is core:
            raise SafetyViolation("commit-monotonic", f"{name} commit went back to {commit}")
        start = max(self.commit_seen[name], core.log.first_index() - 1) + 1
        for entry in core.log.entries_between(start, commit + 1):
            known = self.committed.setdefault(entry.index, (entry.term, entry.data))
            if known != (entry.term, entry.data):
                raise SafetyViolation(
                    "log-matching", f"{name} committed {entry.index}:t{entry.term}, not {known}"
                )
        self.commit_seen[name] = max(self.commit_seen[name], commit)

    def _check_apply(self, name: str, entries: tuple[Entry, ...]) -> None:
        core = self.cores[name]
        for e in entries:
            if core is not None and e.index > core.log.committed:
                raise SafetyViolation("apply-before-commit", f"{name} applied {e.index}")
            known = self.applied.setdefault(e.index, (e.term, e.data))
            if known != (e.term, e.data):
                raise SafetyViolation(
                    "state-machine-safety", f"{name} applied {e.index}:t{e.term}, others {known}"
                )

    def check_log_matching(self) -> None:
        """Raft 5.3: same index and term means identical logs up to there (all pairs)."""
        cores = self.live()
        for a in cores:
            for b in cores:
                if a.id >= b.id:
                    continue
                self._match_pair(a, b)

    def _match_pair(self, a: RaftCore, b: RaftCore) -> None:
        first = max(a.log.first_index(), b.log.first_index())
        last = min(a.log.last_index(), b.log.last_index())
        matched = False
        for index in range(last, first - 1, -1):
            same = a.log.term(index) == b.log.term(index)
            if same:
                matched = True
            elif matched:
                raise SafetyViolation(
                    "log-matching", f"{a.id} and {b.id} agree after {index} but not at it"
                )
            if matched:
                ea = a.log.entries_between(index, index + 1)[0]
                eb = b.log.entries_between(index, index + 1)[0]
                if (ea.kind, ea.data) != (eb.kind, eb.data):
                    raise SafetyViolation("log-matching", f"{a.id}/{b.id} differ at {index}")

    def leader(self) -> RaftCore | None:
        leaders = [c for c in self.live() if c.role is Role.LEADER]
        return max(leaders, key=lambda c: c.term) if leaders else None


def normal_entries(core: RaftCore) -> list[bytes]:
    entries = core.log.entries_between(core.log.first_index(), core.log.committed + 1)
    return [e.data for e in entries if e.kind is EntryKind.NORMAL]
