"""A brute-force linearizability oracle for cross-checking the WGL search."""

from __future__ import annotations

from typing import Any

from harness.checkers.calls import Call, pair_calls
from harness.checkers.models import make_model
from harness.checkers.synth import simulate
from harness.history import Op

__all__ = ["brute_force", "simulate"]


def brute_force(history: list[Op], model_name: str) -> bool:
    """Exhaustive linearizability search without caching or partitioning: the oracle."""
    calls = [c for c in pair_calls(history) if c.type != "fail"]
    model = make_model(model_name)

    def ok_after(done: frozenset[int], state: Any) -> bool:
        left = [i for i in range(len(calls)) if i not in done]
        if all(calls[i].type != "ok" for i in left):
            return True
        for i in left:
            c = calls[i]
            if any(_precedes(calls[j], c) for j in left if j != i):
                continue
            legal, nxt = model.step(state, c.f, c.value, c.type == "ok")
            if legal and ok_after(done | {i}, nxt):
                return True
        return False

    return ok_after(frozenset(), model.init)


def _precedes(a: Call, b: Call) -> bool:
    return a.type == "ok" and a.end is not None and a.end < b.position
