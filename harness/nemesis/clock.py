"""`clock`: bump or strobe brokers' wall clocks; heal resets them.

Nodes with a clock of their own (VMs, `Inventory.tools.clock_step`) get it stepped with
`date`, chrony stopped meanwhile; nodes sharing the control host's clock (namespaces,
containers, local processes) get it moved through libfaketime (see `WiberDB.clock_mode`).
Either way only the wall clock moves (libfaketime is told FAKETIME_DONT_FAKE_MONOTONIC=1), so
Raft timers keep real time and the fault shows in what the broker stamps: its HLC timestamps. Sizes
follow Jepsen's: a bump is +-1.5^(6+U[0,25)) ms (11 ms .. 288 s); a strobe flips between the
real time and an offset every period for a while.

A start's `delta_ms` fixes the size instead; a list of sizes is taken in turn, one per start,
so a schedule can skew forward and then backward (`harness run --nemesis clock
--nemesis-option kind=bump --nemesis-option 'delta_ms=[4000,-4000]'`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from harness.nemesis.base import NemesisContext, NemesisError, pick_targets

KINDS = ("bump", "strobe")
# The leader stamps every message: skewing another node instead (what `pick_targets` falls
# back to while no leader is known) would test nothing, so wait a little for one first.
LEADER_WAIT_S = 5.0


class Clock:
    name = "clock"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        kind = value.get("kind") or ctx.rng.choice(KINDS)
        spec = value.get("targets")
        if spec == "leader":
            spec = await _leader_within(ctx, LEADER_WAIT_S) or spec
        targets = await pick_targets(ctx, spec)
        offsets: dict[str, float] = ctx.state.setdefault("clock", {})
        if kind == "bump":
            delta_ms = next_delta(ctx, value.get("delta_ms"))
            for node in targets:
                ms = float(delta_ms) if delta_ms is not None else bump_ms(ctx)
                offsets[node] = offsets.get(node, 0.0) + ms / 1000
                await ctx.db.set_clock_offset(node, offsets[node])
            return {
                "nemesis": self.name,
                "kind": kind,
                "targets": targets,
                "offsets_s": {n: offsets[n] for n in targets},
            }
        if kind == "strobe":
            return await self._strobe(ctx, value, targets)
        raise NemesisError(f"unknown clock kind {kind!r}; one of {KINDS}")

    async def _strobe(
        self, ctx: NemesisContext, value: dict[str, Any], targets: list[str]
    ) -> dict[str, Any]:
        given = next_delta(ctx, value.get("delta_ms"))
        delta_ms = float(given if given is not None else 2 ** (2 + ctx.rng.randrange(16)))
        # SSH round trips bound how fast we can flip: a period below 100 ms would only queue.
        period_ms = max(100.0, float(value.get("period_ms", 2 ** ctx.rng.randrange(10))))
        duration_s = float(value.get("duration_s", ctx.rng.uniform(0, 32)))
        await _stop_strobe(ctx)
        task = asyncio.create_task(_strobe_loop(ctx, targets, delta_ms, period_ms, duration_s))
        ctx.state["strobe"] = task
        return {
            "nemesis": self.name,
            "kind": "strobe",
            "targets": targets,
            "delta_ms": delta_ms,
            "period_ms": period_ms,
            "duration_s": duration_s,
        }

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        await _stop_strobe(ctx)
        names = ctx.inventory.names
        ctx.state["clock"] = {}
        for node in names:
            if await ctx.db.clock_mode(ctx.inventory.node(node)) is not None:
                await ctx.db.set_clock_offset(node, 0.0)
        return {"nemesis": self.name, "targets": names, "offsets_s": dict.fromkeys(names, 0.0)}


async def _leader_within(ctx: NemesisContext, seconds: float) -> str | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        with contextlib.suppress(Exception):
            leader = await ctx.db.leader()
            if leader in ctx.inventory.names:
                return leader
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.1)


def next_delta(ctx: NemesisContext, delta_ms: Any) -> Any:
    """`delta_ms` itself, or the next of a list of them (kept across heals)."""
    if not isinstance(delta_ms, list | tuple):
        return delta_ms
    if not delta_ms:
        raise NemesisError("clock delta_ms: an empty list")
    turn: int = ctx.state.get("clock_turn", 0)
    ctx.state["clock_turn"] = turn + 1
    return delta_ms[turn % len(delta_ms)]


def bump_ms(ctx: NemesisContext) -> float:
    magnitude: float = 1.5 ** (6 + ctx.rng.uniform(0, 25))
    return magnitude if ctx.rng.random() < 0.5 else -magnitude


async def _strobe_loop(
    ctx: NemesisContext, targets: list[str], delta_ms: float, period_ms: float, duration_s: float
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + duration_s
    base: dict[str, float] = dict(ctx.state.get("clock", {}))
    high = False
    while loop.time() < end:
        high = not high
        for node in targets:
            offset = base.get(node, 0.0) + (delta_ms / 1000 if high else 0.0)
            await ctx.db.set_clock_offset(node, offset)
        await asyncio.sleep(period_ms / 1000)
    for node in targets:
        await ctx.db.set_clock_offset(node, base.get(node, 0.0))


async def _stop_strobe(ctx: NemesisContext) -> None:
    task = ctx.state.pop("strobe", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
