"""`kill`: SIGKILL brokers (one, minority, majority, leader, all); heal restarts them."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.nemesis.base import NemesisContext, pick_targets


class Kill:
    name = "kill"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        targets = await pick_targets(ctx, value.get("targets"))
        killed = await asyncio.gather(*(ctx.db.kill(n) for n in targets))
        down = ctx.state.setdefault("killed", set())
        down.update(targets)
        return {
            "nemesis": self.name,
            "targets": targets,
            "killed": [n for n, k in zip(targets, killed, strict=True) if k],
        }

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        # Restart every node that is down, not only those this nemesis killed: after heal the
        # cluster is whole whatever happened in between.
        running = await asyncio.gather(*(ctx.db.is_running(n) for n in ctx.inventory.names))
        down = [n for n, up in zip(ctx.inventory.names, running, strict=True) if not up]
        await asyncio.gather(*(ctx.db.start(n) for n in down))
        ctx.state.pop("killed", None)
        return {"nemesis": self.name, "targets": down, "restarted": down}
