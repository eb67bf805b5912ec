"""`disk`: while a node is down, truncate or corrupt the tail of its newest log segment.

The broker cuts a torn record off the end of its log on start, so this tests exactly that
recovery path, and what Raft does when a node comes back missing entries it had acknowledged.
Heal restarts every node that is down.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from harness.nemesis.base import NemesisContext, NemesisError, pick_targets

MODES = ("truncate", "corrupt")


class Disk:
    name = "disk"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        mode = value.get("mode") or ctx.rng.choice(MODES)
        if mode not in MODES:
            raise NemesisError(f"unknown disk mode {mode!r}; one of {MODES}")
        size = int(value.get("bytes", ctx.rng.randrange(1, 64)))
        targets = await pick_targets(ctx, value.get("targets"))
        done = {}
        for name in targets:
            await ctx.db.kill(name)
            done[name] = await self._damage(ctx, name, mode, size)
        return {"nemesis": self.name, "mode": mode, "targets": targets, "files": done}

    async def _damage(self, ctx: NemesisContext, name: str, mode: str, size: int) -> dict[str, Any]:
        node = ctx.inventory.node(name)
        log_dir = shlex.quote(f"{node.data_dir}/log")
        found = await ctx.remote.run(node, f"ls -1 {log_dir}/*.log 2>/dev/null | sort | tail -n 1")
        path = found.stdout.strip()
        if not path:
            return {"file": None, "note": "no log segment yet"}
        quoted = shlex.quote(path)
        before = int((await ctx.remote.run(node, f"stat -c %s {quoted}")).stdout)
        size = min(size, before)
        if mode == "truncate":
            await ctx.remote.run(node, f"truncate -s {before - size} {quoted}")
        else:
            octal = "".join(f"\\{ctx.rng.randrange(256):03o}" for _ in range(size))
            await ctx.remote.run(
                node,
                f"printf '{octal}' | dd of={quoted} bs=1 seek={before - size} "
                f"conv=notrunc status=none",
            )
        after = int((await ctx.remote.run(node, f"stat -c %s {quoted}")).stdout)
        return {"file": path, "bytes": size, "size_before": before, "size_after": after}

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        names = ctx.inventory.names
        running = await asyncio.gather(*(ctx.db.is_running(n) for n in names))
        down = [n for n, up in zip(names, running, strict=True) if not up]
        await asyncio.gather(*(ctx.db.start(n) for n in down))
        return {"nemesis": self.name, "targets": down, "restarted": down}
