"""Synthetic histories for tests and benchmarks: linearizable by construction.

`simulate` runs a sequential register/cas-register/kv/set/log model under random concurrency:
each call is invoked, takes effect at one random moment between its invoke and completion (or,
for a crashed call, maybe never), and completes with what the model returned at that moment.
Such a history is linearizable by construction, whatever the interleaving.
"""

from __future__ import annotations

import random
from typing import Any

from harness.history import Op


def _random_input(
    model: str, rng: random.Random, keys: int, counter: list[int], states: dict[Any, Any]
) -> tuple[str, dict[str, Any]]:
    key = f"k{rng.randrange(keys)}"
    if model in ("register", "cas-register"):
        roll = rng.random()
        if roll < 0.4:
            return "read", {"key": key}
        if roll < 0.7 or model == "register":
            return "write", {"key": key, "value": rng.randrange(4)}
        return "cas", {"key": key, "from": rng.randrange(4), "to": rng.randrange(4)}
    if model == "kv":
        f = rng.choice(["get", "put", "append"])
        counter[0] += 1
        return f, {"key": key, "value": None if f == "get" else f"x{counter[0]};"}
    if model == "set":
        counter[0] += 1
        if rng.random() < 0.4:
            return "read", {}
        return "add", {"value": counter[0]}
    if model == "log":
        topic = f"t{rng.randrange(keys)}"
        counter[0] += 1
        if rng.random() < 0.5:
            # Near the end of the log and bounded, as a consumer polls: histories stay linear.
            end = len(states.get(topic, ()))
            return "poll", {"topic": topic, "from": max(0, end - rng.randrange(8)), "max": 8}
        return "send", {"topic": topic, "value": counter[0]}
    raise ValueError(model)


def _apply(
    model: str, states: dict[Any, Any], f: str, v: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Apply one call to the true state; its completion type and value."""
    key = v.get("topic", v.get("key"))
    if model in ("register", "cas-register"):
        cur = states.get(key)
        if f == "read":
            return "ok", {**v, "value": cur}
        if f == "write":
            states[key] = v["value"]
            return "ok", v
        if cur != v["from"]:
            return "fail", v
        states[key] = v["to"]
        return "ok", v
    if model == "kv":
        cur = states.get(key, "")
        if f == "get":
            return "ok", {**v, "value": cur}
        states[key] = v["value"] if f == "put" else cur + v["value"]
        return "ok", v
    if model == "set":
        cur = states.setdefault(None, set())
        if f == "read":
            return "ok", {"value": sorted(cur)}
        cur.add(v["value"])
        return "ok", v
    log = states.setdefault(key, [])
    if f == "poll":
        start = v["from"]
        return "ok", {
            **v,
            "msgs": [[o, log[o]] for o in range(start, min(len(log), start + v["max"]))],
        }
    log.append(v["value"])
    return "ok", {**v, "offset": len(log) - 1}


def simulate(
    model: str,
    rng: random.Random,
    n_calls: int,
    concurrency: int,
    keys: int = 1,
    crash_p: float = 0.1,
    final_reads: bool = False,
) -> list[Op]:
    """A linearizable history of about `n_calls` calls over `concurrency` processes."""
    history: list[Op] = []
    states: dict[Any, Any] = {}
    counter = [0]
    idle = list(range(concurrency))
    next_process = concurrency
    # process -> (f, invoke value, completion or None while it has not taken effect)
    pending: dict[int, tuple[str, dict[str, Any], tuple[str, dict[str, Any]] | None]] = {}
    invoked = 0

    def emit(process: Any, type_: str, f: str, value: Any) -> None:
        history.append(
            {
                "index": len(history),
                "time": len(history) * 1_000_000,  # one event per ms
                "process": process,
                "type": type_,
                "f": f,
                "value": value,
            }
        )

    while invoked < n_calls or pending:
        roll = rng.random()
        if idle and invoked < n_calls and (roll < 0.4 or not pending):
            p = idle.pop(rng.randrange(len(idle)))
            f, v = _random_input(model, rng, keys, counter, states)
            pending[p] = (f, v, None)
            emit(p, "invoke", f, v)
            invoked += 1
            continue
        p = rng.choice(list(pending))
        f, v, result = pending[p]
        if result is None:
            pending[p] = (f, v, _apply(model, states, f, v))
            continue
        del pending[p]
        if rng.random() < crash_p:
            emit(p, "info", f, v)
            idle.append(next_process)  # a crashed process never issues again (Jepsen)
            next_process += 1
        else:
            emit(p, result[0], f, result[1])
            idle.append(p)
    if final_reads and model == "log":
        # A complete read of every topic at the end, as a workload's final phase does.
        for topic, log in sorted(states.items()):
            value = {"topic": topic, "from": 0, "max": len(log)}
            emit("final", "invoke", "poll", value)
            emit("final", "ok", "poll", {**value, "msgs": [[o, x] for o, x in enumerate(log)]})
    return history
