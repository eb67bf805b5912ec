"""Stats and performance: what happened, how fast, and how available during each fault.

Both are informational (valid unless the history holds no client calls at all): a run that
never succeeds is reported by `never_ok`, and latency and availability are figures to read, as
Jepsen's stats and perf checkers give them.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

from harness.checkers.calls import Call, Interval, nemesis_intervals, pair_calls
from harness.history import Op

NS_PER_MS = 1_000_000
QUANTILES = (0.5, 0.95, 0.99, 1.0)


def stats(history: list[Op]) -> dict[str, Any]:
    """ok/fail/info counts per f and overall."""
    calls = pair_calls(history)
    by_f: dict[str, Counter[str]] = defaultdict(Counter)
    for c in calls:
        by_f[c.f][c.type] += 1
    table = {
        f: {t: n[t] for t in ("ok", "fail", "info")} | {"count": n.total()} for f, n in by_f.items()
    }
    totals = Counter(c.type for c in calls)
    return {
        "valid": True if calls else "unknown",
        "anomalies": {},
        "by_f": dict(sorted(table.items())),
        "count": len(calls),
        "ok": totals["ok"],
        "fail": totals["fail"],
        "info": totals["info"],
        "never_ok": sorted(f for f, n in by_f.items() if not n["ok"]),
        **({} if calls else {"reason": "no client calls in the history"}),
    }


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    last = len(ordered) - 1
    return {str(q): round(ordered[min(last, int(q * len(ordered)))], 3) for q in QUANTILES}


def _throughput(calls: list[Call], bucket_ns: int) -> list[dict[str, Any]]:
    buckets: dict[int, Counter[str]] = defaultdict(Counter)
    for c in calls:
        if c.complete is not None:
            buckets[int(c.complete.get("time", 0)) // bucket_ns][c.type] += 1
    if not buckets:
        return []
    return [
        {"t": b * bucket_ns / 1e9, **{k: buckets[b][k] for k in ("ok", "fail", "info")}}
        for b in range(min(buckets), max(buckets) + 1)
    ]


def _longest_gap(ok_times: list[int], start: int, stop: int) -> int:
    """The longest stretch of [start, stop] without an ok completion, in ns."""
    points = [start, *(t for t in ok_times if start <= t <= stop), stop]
    return max(b - a for a, b in itertools.pairwise(points))


def _availability(calls: list[Call], intervals: list[Interval], end: int) -> list[dict[str, Any]]:
    ok_times = sorted(
        int(c.complete.get("time", 0)) for c in calls if c.complete and c.type == "ok"
    )
    out = []
    for iv in intervals:
        stop = iv.stop if iv.stop is not None else end
        mine = [
            c for c in calls if c.complete and iv.start <= int(c.complete.get("time", 0)) <= stop
        ]
        ok = sum(c.type == "ok" for c in mine)
        out.append(
            {
                "nemesis": iv.name,
                "start_s": iv.start / 1e9,
                "stop_s": stop / 1e9,
                "completed": len(mine),
                "ok_fraction": round(ok / len(mine), 4) if mine else None,
                "longest_unavailable_ms": _longest_gap(ok_times, iv.start, stop) / NS_PER_MS,
            }
        )
    return out


def perf(history: list[Op], bucket_s: float = 1.0) -> dict[str, Any]:
    """Latency quantiles per f (ms), throughput per bucket and unavailability per fault."""
    calls = pair_calls(history)
    latencies: dict[str, list[float]] = defaultdict(list)
    for c in calls:
        if c.latency is not None and c.type == "ok":
            latencies[c.f].append(c.latency / NS_PER_MS)
    end = max((int(op.get("time", 0)) for op in history), default=0)
    return {
        "valid": True,
        "anomalies": {},
        "latency_ms": {f: quantiles(v) | {"count": len(v)} for f, v in sorted(latencies.items())},
        "throughput": _throughput(calls, max(1, int(bucket_s * 1e9))),
        "nemesis": _availability(calls, nemesis_intervals(history), end),
    }
