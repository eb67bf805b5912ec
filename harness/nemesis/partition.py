"""`partition`: cut the network along a grudge with iptables on every node."""

from __future__ import annotations

from typing import Any

from harness import net
from harness.nemesis.base import NemesisContext, NemesisError, pick_targets

KINDS = ("halves", "one", "leader", "bridge", "majorities-ring")


class Partition:
    name = "partition"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        kind = value.get("kind") or ctx.rng.choice(KINDS)
        grudge = await self._grudge(ctx, kind, value)
        await net.heal(ctx.remote, ctx.inventory, [net.PARTITION_CHAIN])
        await net.drop_all(ctx.remote, ctx.inventory, grudge)
        targets = sorted(n for n, others in grudge.items() if others)
        return {
            "nemesis": self.name,
            "kind": kind,
            "targets": targets,
            "grudge": net.serializable(grudge),
        }

    async def _grudge(self, ctx: NemesisContext, kind: str, value: dict[str, Any]) -> net.Grudge:
        names = ctx.inventory.names
        if "grudge" in value:
            return {k: set(v) for k, v in value["grudge"].items()}
        if kind == "halves":
            return net.halves(names, ctx.rng)
        if kind in ("one", "leader"):
            (target,) = await pick_targets(ctx, value.get("target", kind))
            return net.isolate(names, target)
        if kind == "bridge":
            return net.bridge(names, ctx.rng)
        if kind == "majorities-ring":
            return net.majorities_ring(names, ctx.rng)
        raise NemesisError(f"unknown partition kind {kind!r}; one of {KINDS}")

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        await net.heal(ctx.remote, ctx.inventory, [net.PARTITION_CHAIN])
        return {"nemesis": self.name, "targets": ctx.inventory.names}
