"""Named simulator scenarios (TigerBeetle's replica_test style): a scripted fault on top of a
seeded run, then the safety checks after every event and the liveness checks at the end."""

from __future__ import annotations

from wiber.core.types import ConfigChange, ConfigChangeType, Role
from wiber.sim.grudges import Grudge
from wiber.sim.simulator import SimOptions, Simulator

QUIET = frozenset[str]()


def quiet(seed: int, nodes: int = 3, spares: int = 0) -> Simulator:
    return Simulator(SimOptions(seed=seed, nodes=nodes, faults=QUIET, time_s=1.5, spares=spares))


def test_fault_free_cluster_elects_one_leader_and_acknowledges_publishes() -> None:
    result = quiet(1).run()
    assert result.ok, result.violation
    assert result.stats["terms"] == 1
    assert result.stats["acked"] > 20


def test_power_loss_of_every_node_at_once_keeps_every_acknowledged_entry() -> None:
    sim = quiet(2)

    def power_loss() -> None:
        for node in sim.nodes.values():
            sim.crash(node, power_loss=True)

    def restart() -> None:
        for node in sim.nodes.values():
            sim.restart(node)

    sim.at(700_000, power_loss)
    sim.at(750_000, restart)
    result = sim.run()
    assert result.ok, result.violation
    acked_before = [op for op in result.history if op["type"] == "ok" and op["time"] < 7e8]
    assert acked_before, "the scenario needs publishes acknowledged before the power loss"
    assert result.stats["terms"] >= 2


def test_isolated_leader_is_replaced_by_the_majority() -> None:
    sim = quiet(3, nodes=5)
    first: list[str] = []

    def isolate() -> None:
        leader = sim.leader()
        assert leader is not None
        first.append(leader.id)
        others = frozenset(n for n in sim.nodes if n != leader.id)
        grudge: Grudge = {leader.id: others} | {n: frozenset({leader.id}) for n in others}
        sim.network.grudge = grudge

    sim.at(600_000, isolate)
    sim.at(1_200_000, lambda: None)
    result = sim.run()
    assert result.ok, result.violation
    final = sim.leader()
    assert final is not None
    assert result.stats["terms"] >= 2
    assert any(n.role is Role.LEADER and n.id != first[0] for n in sim.nodes.values())


def test_membership_adds_the_spare_then_removes_the_leader() -> None:
    sim = quiet(4, spares=1)
    removed: list[str] = []

    def change(kind: ConfigChangeType, target: str | None) -> None:
        leader = sim.leader()
        assert leader is not None
        assert leader.core is not None
        if target is None:
            target = leader.id
            removed.append(target)
        leader.core.propose_conf_change(ConfigChange(kind, target))
        sim.drain(leader)

    sim.at(500_000, lambda: change(ConfigChangeType.ADD_VOTER, "n4"))
    sim.at(1_000_000, lambda: change(ConfigChangeType.REMOVE, None))
    result = sim.run()
    assert result.ok, result.violation
    leader = sim.leader()
    assert leader is not None
    assert leader.id != removed[0]
    voters = leader.conf().voters
    assert "n4" in voters
    assert removed[0] not in voters
