"""What the report draws, reduced from a history and its results to compact JSON.

Calls become rows of numbers ([lane, start ms, end ms or -1, type code, f code, history
index, highlighted]) so that 100,000 ops embed in a few megabytes and draw from arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checkers.calls import nemesis_intervals, pair_calls
from harness.history import Op

TYPE_CODES = {"ok": 0, "fail": 1, "info": 2}
NS_PER_MS = 1e6


def witness_indices(results: dict[str, Any]) -> set[int]:
    """History indices named anywhere in the anomalies' witnesses."""
    found: set[int] = set()

    def walk(x: Any) -> Iterator[int]:
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("index", "complete_index") and isinstance(v, int):
                    yield v
                else:
                    yield from walk(v)
        elif isinstance(x, list):
            for v in x:
                yield from walk(v)

    for result in results.get("checkers", {}).values():
        found.update(walk(result.get("anomalies", {})))
    return found


def _ms(op: Op) -> float:
    return round(float(op.get("time", 0)) / NS_PER_MS, 3)


def report_data(history: list[Op], results: dict[str, Any]) -> dict[str, Any]:
    calls = pair_calls(history)
    lanes: dict[str, int] = {}
    fs: dict[str, int] = {}
    highlighted = witness_indices(results)
    rows = []
    for c in calls:
        lane = lanes.setdefault(str(c.process), len(lanes))
        f = fs.setdefault(c.f, len(fs))
        index = int(c.invoke.get("index", c.position))
        end = _ms(c.complete) if c.complete is not None else -1
        done_index = c.complete.get("index") if c.complete is not None else None
        mark = int(index in highlighted or done_index in highlighted)
        rows.append([lane, _ms(c.invoke), end, TYPE_CODES.get(c.type, 2), f, index, mark])
    end_ms = max((_ms(op) for op in history), default=0.0)
    nemesis = [
        [
            iv.name,
            iv.start / NS_PER_MS,
            (iv.stop if iv.stop is not None else end_ms * NS_PER_MS) / NS_PER_MS,
        ]
        for iv in nemesis_intervals(history)
    ]
    perf = results.get("checkers", {}).get("perf", {})
    return {
        "lanes": list(lanes),
        "fs": list(fs),
        "calls": rows,
        "nemesis": nemesis,
        "end_ms": end_ms,
        "throughput": perf.get("throughput", []),
    }
