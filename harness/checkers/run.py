"""Run a set of checkers on one history and merge their verdicts (DESIGN.md 4.4).

The worst verdict wins: false over "unknown" over true. A checker that raises yields
"unknown" with the error as its reason, never a silent pass.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.history import Op

Checker = Callable[[list[Op], dict[str, Any]], dict[str, Any]]

REGISTER_FS = frozenset({"read", "write", "cas"})
KV_FS = frozenset({"get", "put", "append"})


def _linearizable(history: list[Op], opts: dict[str, Any]) -> dict[str, Any]:
    from harness.checkers import linearizable

    model = opts.get("model") or guess_model(history)
    budget = linearizable.Budget(seconds=float(opts.get("seconds", 60.0)))
    return linearizable.check(history, model, budget)


def _log(history: list[Op], opts: dict[str, Any]) -> dict[str, Any]:
    from harness.checkers import log

    return log.check(history, cycles=bool(opts.get("cycles", True)))


def _raft(history: list[Op], opts: dict[str, Any]) -> dict[str, Any]:
    from harness.checkers import raft

    traces = opts.get("traces")
    if traces is None:
        return {"valid": "unknown", "anomalies": {}, "reason": "no trace directory given"}
    return raft.check(raft.read_traces(Path(traces)))


def _module_check(module: str, fn: str = "check") -> Checker:
    def run(history: list[Op], opts: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = getattr(importlib.import_module(module), fn)(history)
        return result

    return run


CHECKERS: dict[str, Checker] = {
    "linearizable": _linearizable,
    "log": _log,
    "raft": _raft,
    "causal": _module_check("harness.checkers.causal"),
    "stats": _module_check("harness.checkers.stats", "stats"),
    "perf": _module_check("harness.checkers.stats", "perf"),
}


def _client_fs(history: Iterable[Op]) -> set[str]:
    return {str(op.get("f")) for op in history if op.get("process") != "nemesis"}


def guess_model(history: list[Op]) -> str:
    fs = _client_fs(history)
    if fs & KV_FS:
        return "kv"
    if "cas" in fs:
        return "cas-register"
    if fs & {"send", "poll"}:
        return "log"
    if "add" in fs:
        return "set"
    return "register"


def choose_checkers(history: list[Op], model: str | None = None) -> list[str]:
    """The checkers that fit the history's workload, plus stats and perf."""
    fs = _client_fs(history)
    causal = "deliver" in fs or any(
        isinstance(op.get("value"), dict) and "deps" in op["value"] for op in history
    )
    chosen: list[str] = []
    if model or fs & (REGISTER_FS | KV_FS | {"add"}):
        chosen.append("linearizable")
    if not model and fs & {"send", "poll", "txn"} and not causal:
        chosen.append("log")
    if causal:
        chosen.append("causal")
    return [*chosen, "stats", "perf"]


def worst(verdicts: Iterable[Any]) -> bool | str:
    seen = list(verdicts)
    if any(v is False for v in seen):
        return False
    if any(v is not True for v in seen):
        return "unknown"
    return True


def run_checkers(history: list[Op], names: list[str], opts: dict[str, Any]) -> dict[str, Any]:
    """`{"valid": worst verdict, "checkers": {name: result}}`."""
    results: dict[str, Any] = {}
    for name in names:
        checker = CHECKERS.get(name)
        if checker is None:
            results[name] = {"valid": "unknown", "anomalies": {}, "reason": f"no checker {name!r}"}
            continue
        try:
            results[name] = checker(history, opts)
        except Exception as e:  # a crash is "unknown" with its reason, never a pass
            results[name] = {
                "valid": "unknown",
                "anomalies": {},
                "reason": f"{type(e).__name__}: {e}",
            }
    return {"valid": worst(r.get("valid") for r in results.values()), "checkers": results}
