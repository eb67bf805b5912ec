"""Network faults on the nodes through iptables: partitions from grudges, loss, delay hooks.

A grudge maps each node to the set of nodes it drops traffic from (Jepsen's term). Rules live
in chains of our own, one per kind of fault (`WIBER-PARTITION`, `WIBER-LOSS`, `WIBER-DELAY`),
jumped to from INPUT, so that healing one fault is flushing its chain and never touches another
fault's rules or anything the host had. Each node runs these in its own network namespace (or
on its own machine): the rules see only that node's traffic.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Iterable, Mapping, Sequence

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control import Remote

Grudge = dict[str, set[str]]

PARTITION_CHAIN = "WIBER-PARTITION"
LOSS_CHAIN = "WIBER-LOSS"
DELAY_CHAIN = "WIBER-DELAY"
CHAINS = (PARTITION_CHAIN, LOSS_CHAIN, DELAY_CHAIN)


class NetError(Exception):
    pass


# -- grudges (pure) -------------------------------------------------------------------------


def complete_grudge(components: Sequence[Iterable[str]]) -> Grudge:
    """Every node drops traffic from every node outside its own component."""
    groups = [set(c) for c in components]
    everyone = set().union(*groups) if groups else set()
    return {node: everyone - group for group in groups for node in group}


def halves(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """A clean split; the smaller half comes first, as in Jepsen."""
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    cut = len(shuffled) // 2
    return complete_grudge([shuffled[:cut], shuffled[cut:]])


def isolate(nodes: Sequence[str], target: str) -> Grudge:
    return complete_grudge([[target], [n for n in nodes if n != target]])


def bridge(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Two halves that cannot see each other, and one node that both halves still see."""
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    middle, rest = shuffled[0], shuffled[1:]
    cut = len(rest) // 2
    left, right = set(rest[:cut]), set(rest[cut:])
    grudge: Grudge = {n: set(right) for n in left}
    grudge.update({n: set(left) for n in right})
    grudge[middle] = set()
    return grudge


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Every node sees a majority, and no two nodes see the same majority.

    Nodes sit on a shuffled ring; each sees itself and its nearest neighbours on both sides, as
    many as make a majority. With an even count the view leans one way round the ring.
    """
    ring = list(nodes)
    rng.shuffle(ring)
    count = len(ring)
    majority = count // 2 + 1
    grudge: Grudge = {}
    for i, node in enumerate(ring):
        offsets = [0, *itertools.chain.from_iterable((k, -k) for k in range(1, count))]
        seen = {ring[(i + k) % count] for k in offsets[:majority]}
        grudge[node] = set(ring) - seen
    return grudge


def reachable(grudge: Mapping[str, set[str]], a: str, b: str) -> bool:
    """Whether a and b can talk both ways under the grudge (TCP needs both directions)."""
    return b not in grudge.get(a, set()) and a not in grudge.get(b, set())


def serializable(grudge: Mapping[str, set[str]]) -> dict[str, list[str]]:
    return {node: sorted(others) for node, others in sorted(grudge.items())}


# -- iptables on the nodes ------------------------------------------------------------------


async def gather_all(*steps: Awaitable[object]) -> None:
    """Run steps on all nodes at once; wait for every one before raising the first error, so
    that no step is left running (or cancelled half-way) behind the caller's back."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def require_distinct_hosts(inventory: Inventory) -> None:
    hosts = [n.host for n in inventory.nodes]
    if len(set(hosts)) != len(hosts):
        raise NetError(
            f"network faults need one address per node; the {inventory.provider} provider "
            f"gives {hosts} (use the netns provider)"
        )


def _ensure_chain(chain: str) -> str:
    return (
        f"{{ iptables -w -N {chain} 2>/dev/null || true; }}; "
        f"iptables -w -C INPUT -j {chain} 2>/dev/null || iptables -w -I INPUT -j {chain}"
    )


async def add_rules(remote: Remote, node: NodeSpec, chain: str, rules: Sequence[str]) -> None:
    """Append `rules` (iptables match+target text, e.g. `-s 10.0.0.2 -j DROP`) to `chain`."""
    script = "; ".join([_ensure_chain(chain), *(f"iptables -w -A {chain} {r}" for r in rules)])
    await remote.run(node, f"set -e; {script}" if rules else script, timeout=30)


async def flush(remote: Remote, node: NodeSpec, chain: str) -> None:
    await remote.run(node, f"iptables -w -F {chain} 2>/dev/null; true", timeout=30)


async def rules(remote: Remote, node: NodeSpec, chain: str) -> list[str]:
    """The rules now in `chain` on the node (`-A CHAIN ...` lines), for checks and reports."""
    result = await remote.run(node, f"iptables -w -S {chain} 2>/dev/null; true", timeout=30)
    return [line for line in result.stdout.splitlines() if line.startswith("-A ")]


async def drop_all(remote: Remote, inventory: Inventory, grudge: Mapping[str, set[str]]) -> None:
    """Apply a grudge: each node drops every packet from the nodes it holds a grudge against."""
    require_distinct_hosts(inventory)
    await gather_all(
        *(
            add_rules(
                remote,
                inventory.node(name),
                PARTITION_CHAIN,
                [f"-s {inventory.node(o).host} -j DROP" for o in sorted(others)],
            )
            for name, others in grudge.items()
            if others
        )
    )


async def heal(remote: Remote, inventory: Inventory, chains: Sequence[str] = CHAINS) -> None:
    await gather_all(*(flush(remote, node, chain) for node in inventory.nodes for chain in chains))


async def lose(
    remote: Remote, inventory: Inventory, targets: Sequence[str], probability: float
) -> None:
    """Targets drop each packet from the other nodes with `probability`."""
    require_distinct_hosts(inventory)
    if not 0 < probability <= 1:
        raise NetError(f"loss probability must be in (0, 1], not {probability}")
    await gather_all(
        *(
            add_rules(
                remote,
                inventory.node(name),
                LOSS_CHAIN,
                [
                    f"-s {other.host} -m statistic --mode random "
                    f"--probability {probability:.4f} -j DROP"
                    for other in inventory.nodes
                    if other.name != name
                ],
            )
            for name in targets
        )
    )
