"""`membership`: remove voters through Wiber's admin commands; heal adds them back.

At most a minority is ever removed, so the remaining voters can still commit the change.
"""

from __future__ import annotations

from typing import Any

from harness.nemesis.base import NemesisContext, NemesisError, pick_targets
from wiber.admin import change_members
from wiber.client import ClientError


class Membership:
    name = "membership"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        removed: set[str] = ctx.state.setdefault("removed", set())
        targets = await pick_targets(ctx, value.get("targets"))
        limit = (len(ctx.inventory.names) - 1) // 2
        if len(removed | set(targets)) > limit:
            raise NemesisError(f"removing {targets} would leave fewer than a majority of voters")
        done, errors = [], {}
        for node in targets:
            try:
                await change_members(
                    ctx.db.addresses(), "remove", node, credentials=ctx.db.credentials
                )
            except ClientError as e:
                errors[node] = e.message
                continue
            removed.add(node)
            done.append(node)
        return {"nemesis": self.name, "action": "remove", "targets": done, "errors": errors}

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        removed: set[str] = ctx.state.setdefault("removed", set())
        added, errors = [], {}
        for node in sorted(removed):
            if not await ctx.db.is_running(node):
                await ctx.db.start(node)
            try:
                await change_members(
                    ctx.db.addresses(), "add", node, credentials=ctx.db.credentials
                )
            except ClientError as e:
                errors[node] = e.message
                continue
            added.append(node)
        removed.difference_update(added)
        return {"nemesis": self.name, "action": "add", "targets": added, "errors": errors}
