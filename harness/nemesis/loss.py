"""`loss`: targets drop a random share of the packets from the other nodes (iptables)."""

from __future__ import annotations

from typing import Any

from harness import net
from harness.nemesis.base import NemesisContext, pick_targets


class Loss:
    name = "loss"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        targets = await pick_targets(ctx, value.get("targets"), default="all")
        probability = float(value.get("probability", 0.2))
        await net.heal(ctx.remote, ctx.inventory, [net.LOSS_CHAIN])
        await net.lose(ctx.remote, ctx.inventory, targets, probability)
        return {"nemesis": self.name, "targets": targets, "probability": probability}

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        await net.heal(ctx.remote, ctx.inventory, [net.LOSS_CHAIN])
        return {"nemesis": self.name, "targets": ctx.inventory.names}
