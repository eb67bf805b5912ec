"""`pause`: SIGSTOP brokers (one, minority, majority, leader, all); heal sends SIGCONT."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.nemesis.base import NemesisContext, pick_targets


class Pause:
    name = "pause"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        targets = await pick_targets(ctx, value.get("targets"))
        paused = await asyncio.gather(*(ctx.db.pause(n) for n in targets))
        return {
            "nemesis": self.name,
            "targets": targets,
            "paused": [n for n, p in zip(targets, paused, strict=True) if p],
        }

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        names = ctx.inventory.names
        resumed = await asyncio.gather(*(ctx.db.resume(n) for n in names))
        return {
            "nemesis": self.name,
            "targets": names,
            "resumed": [n for n, r in zip(names, resumed, strict=True) if r],
        }
