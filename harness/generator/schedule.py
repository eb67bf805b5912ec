"""The nemesis schedule: faults one at a time, each followed by a quiet period (DESIGN 4.3 ops).

A cycle is: quiet for `quiet` ns, `start` a fault drawn from `names` with `ctx.rng`, hold it
for `hold` ns, `stop` it. `final_heal` stops every kind, for the phase after the main one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.generator.combinators import Cycle, Sleep
from harness.generator.core import Context, GenLike, Op


def start_op(name: str, options: Mapping[str, Any] | None = None) -> Op:
    return {"f": "start", "value": {**(options or {}), "nemesis": name}}


def stop_op(name: str) -> Op:
    return {"f": "stop", "value": {"nemesis": name}}


def fault_cycle(
    names: Sequence[str], *, hold: int, quiet: int, options: Mapping[str, Any] | None = None
) -> Cycle:
    """`options` go into every start op's value (e.g. `{"targets": "leader"}`)."""
    if not names:
        raise ValueError("a fault schedule needs at least one nemesis")
    kinds = tuple(names)

    def one_fault(ctx: Context) -> GenLike:
        name = ctx.rng.choice(kinds)
        return [Sleep(quiet), start_op(name, options), Sleep(hold), stop_op(name)]

    return Cycle(one_fault)


def final_heal(names: Sequence[str]) -> list[Op]:
    return [stop_op(name) for name in dict.fromkeys(names)]
