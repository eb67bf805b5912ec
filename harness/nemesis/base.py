"""The nemesis protocol, its context, and target selection shared by every nemesis."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.cluster.inventory import Inventory
from harness.control import Remote
from harness.db import WiberDB


class NemesisError(Exception):
    pass


@dataclass
class NemesisContext:
    inventory: Inventory
    remote: Remote
    db: WiberDB
    rng: random.Random
    # Free room for nemeses to remember what to undo (killed nodes, removed members, ...).
    state: dict[str, Any] = field(default_factory=dict)


class Nemesis(Protocol):
    name: str

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        """Cause the fault; returns what it did (the value of the history's nemesis op)."""
        ...

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        """Undo every fault this nemesis caused; safe to call when nothing is broken."""
        ...


TARGET_SPECS = ("one", "minority", "majority", "leader", "all", "primaries", "minority-third")


async def pick_targets(ctx: NemesisContext, spec: Any, *, default: str = "one") -> list[str]:
    """Jepsen's node-target specs: a name from TARGET_SPECS, a node name, or a list of nodes.

    `leader` (and `primaries`) fall back to one random node when no leader is known, so the
    fault still happens; the returned list says which nodes were hit.
    """
    names = ctx.inventory.names
    spec = default if spec is None else spec
    if isinstance(spec, list | tuple):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise NemesisError(f"unknown target nodes {unknown}; the cluster has {names}")
        return list(spec)
    if spec in names:
        return [spec]
    if spec in ("leader", "primaries"):
        leader = await ctx.db.leader()
        return [leader] if leader in names else [ctx.rng.choice(names)]
    return sample(names, spec, ctx.rng)


def sample(names: Sequence[str], spec: str, rng: random.Random) -> list[str]:
    count = len(names)
    sizes = {
        "one": 1,
        "minority": (count - 1) // 2,
        "majority": count // 2 + 1,
        "all": count,
        "minority-third": max(0, (count - 1) // 3),
    }
    if spec not in sizes:
        raise NemesisError(f"unknown target spec {spec!r}; one of {TARGET_SPECS} or a list")
    return sorted(rng.sample(list(names), max(1, sizes[spec])))
