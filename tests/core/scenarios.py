"""Hand-driven scenarios shared by the paper-rule tests and the mutant tests.

Each returns the environment after the scenario, for the test to inspect. They are written
against `InteractionEnv`, so `core_class` may be a mutant from `tests/mutants.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.core.interaction import InteractionEnv
from wiber.core.raft import RaftCore
from wiber.core.types import Role


def run(env: InteractionEnv, *commands: str) -> None:
    for command in commands:
        env.handle(command)


def deliver_until(env: InteractionEnv, done: Callable[[], bool], limit: int = 500) -> None:
    """Process Readies and deliver messages one at a time, oldest first, until `done()`."""
    for _ in range(limit):
        for name in env._live([]):
            env.process_ready(name)
        if done() or not env.network:
            return
        m = env.network.pop(0)
        if frozenset((m.src, m.dst)) not in env.cuts and env.nodes[m.dst].core is not None:
            env.core(m.dst).step(m)
    raise RuntimeError("deliver_until: limit reached")


def leaders(env: InteractionEnv) -> list[tuple[str, int]]:
    out = []
    for name, node in env.nodes.items():
        if node.core is not None and node.core.role is Role.LEADER:
            out.append((name, node.core.term))
    return out


def two_candidates_one_voter(core_class: type[RaftCore]) -> InteractionEnv:
    """n1 and n3 campaign in the same term; n2 hears both requests."""
    env = InteractionEnv(core_class)
    run(
        env,
        "add-nodes 3 pre-vote=false check-quorum=false",
        "campaign n1",
        "campaign n3",
        "process-ready n1 n3",
        "deliver n2",
        "process-ready n2",
        "deliver n1 n3",
        "process-ready n1 n3",
    )
    return env


def vote_then_restart(core_class: type[RaftCore]) -> InteractionEnv:
    """n2 votes for n1 in term 2, crashes and restarts, then n3 asks it for term 2."""
    env = InteractionEnv(core_class)
    run(
        env,
        "add-nodes 3 pre-vote=false check-quorum=false",
        "campaign n1",
        "stabilize",
        "crash n1",
        "restart n1",
        "campaign n1",
        "process-ready n1",
        "deliver n2",
        "process-ready n2",
        "crash n2",
        "restart n2",
        "campaign n3",
        "process-ready n3",
        "deliver n2",
        "process-ready n2",
        "deliver n1 n3",
        "process-ready n1 n3",
    )
    return env


def figure8(core_class: type[RaftCore]) -> InteractionEnv:
    """Raft paper Figure 8 on three nodes, one entry per AppendEntries.

    n1 (term 1) writes "old" at index 2 alone and crashes; n2 (term 2) writes its NOOP at
    index 2 alone and crashes; n1 restarts, is elected for term 3 and copies "old" to n3, a
    majority, then crashes before its own term-3 entry gets anywhere; n2 restarts and is
    elected for term 4 with n3's vote, and overwrites index 2. A core that committed "old" by
    counting replicas has applied an entry that the cluster then replaced.
    """
    env = InteractionEnv(core_class)
    run(
        env,
        "add-nodes 3 pre-vote=false check-quorum=false max-append-bytes=1",
        "campaign n1",
        "stabilize",
        "partition n1",
        "propose n1 old",
        "stabilize",
        "crash n1",
        "heal",
        "campaign n2",
        "process-ready n2",
        "deliver n3",
        "process-ready n3",
        "deliver n2",
        "process-ready n2",
        "drop n2",
        "crash n2",
        "restart n1",
        "campaign n1",
        "stabilize",
        "campaign n1",
    )
    n1 = env.core("n1")
    deliver_until(env, lambda: "n3" in n1.prs and n1.prs["n3"].match >= 2)
    run(env, "process-ready n1", "crash n1", "restart n2")
    env.network = []
    run(env, "campaign n2", "stabilize", "campaign n2", "stabilize")
    return env
