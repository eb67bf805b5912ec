"""Pair each invocation with its completion, the way every checker reads a history.

A call is one client operation: its invoke op and its completion (ok, fail or info). A call
whose process never completed (the history ended first) counts as info: it may or may not have
happened. Nemesis ops are not calls; `nemesis_intervals` turns them into start/stop periods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.history import Op

NEMESIS = "nemesis"


@dataclass(frozen=True, slots=True)
class Call:
    process: Any
    f: str
    invoke: Op
    complete: Op | None
    position: int  # the invoke's position in the history (real-time order)
    end: int | None  # the completion's position; None for a call that never completed

    @property
    def type(self) -> str:
        return "info" if self.complete is None else str(self.complete["type"])

    @property
    def value(self) -> Any:
        """The completion's value when ok (it adds results to the invoke's), else the invoke's."""
        if self.complete is not None and self.complete["type"] == "ok":
            return self.complete.get("value")
        return self.invoke.get("value")

    @property
    def latency(self) -> int | None:
        if self.complete is None:
            return None
        return int(self.complete.get("time", 0)) - int(self.invoke.get("time", 0))


def describe(call: Call) -> dict[str, Any]:
    """A small JSON-able witness for a call: what a person needs to find it in the history."""
    out: dict[str, Any] = {
        "process": call.process,
        "type": call.type,
        "f": call.f,
        "value": call.value,
        "index": call.invoke.get("index", call.position),
    }
    if call.complete is not None:
        out["complete_index"] = call.complete.get("index", call.end)
        if "error" in call.complete:
            out["error"] = call.complete["error"]
    return out


def pair_calls(history: Iterable[Op]) -> list[Call]:
    """Client calls in invoke order. A completion without an invoke is ignored."""
    calls: list[Call] = []
    open_: dict[Any, tuple[Op, int]] = {}
    slots: dict[Any, int] = {}
    for pos, op in enumerate(history):
        process = op.get("process")
        if process == NEMESIS:
            continue
        if op["type"] == "invoke":
            if process in open_:
                # A process that invokes again without completing: the first call is indefinite.
                _close(calls, slots, process, open_.pop(process), None, None)
            open_[process] = (op, pos)
            slots[process] = len(calls)
            calls.append(Call(process, str(op.get("f")), op, None, pos, None))
        elif process in open_:
            _close(calls, slots, process, open_.pop(process), op, pos)
    return calls


def _close(
    calls: list[Call],
    slots: dict[Any, int],
    process: Any,
    opened: tuple[Op, int],
    complete: Op | None,
    end: int | None,
) -> None:
    invoke, pos = opened
    calls[slots.pop(process)] = Call(process, str(invoke.get("f")), invoke, complete, pos, end)


@dataclass(frozen=True, slots=True)
class Interval:
    """A nemesis period: from its start op to its stop op (or the end of the history)."""

    name: str
    start: int  # time, ns
    stop: int | None
    value: Any


def nemesis_intervals(history: Iterable[Op]) -> list[Interval]:
    """Periods between a nemesis `start...` op and the next `stop...` op of the same kind.

    Jepsen writes `:start-partition`/`:stop-partition` or `:start`/`:stop`; ours writes `start`
    and `stop` with `{"nemesis": kind}`. A period opens at the first start op of its kind and
    closes at the first stop op after it, so the invoke/completion pair Jepsen logs for each
    nemesis op counts once.
    """
    out: list[Interval] = []
    open_: dict[str, tuple[int, Any]] = {}
    for op in history:
        if op.get("process") != NEMESIS:
            continue
        verb, _, kind = str(op.get("f")).partition("-")
        value = op.get("value")
        if isinstance(value, dict) and "nemesis" in value:
            kind = str(value["nemesis"])
        kind = kind or "nemesis"
        time = int(op.get("time", 0))
        if verb == "start" and kind not in open_:
            open_[kind] = (time, value)
        elif verb == "stop":
            # A stop that names no kind heals everything (Jepsen's plain `:stop`).
            for k in [kind] if kind in open_ else list(open_) if kind == "nemesis" else []:
                begun, v = open_.pop(k)
                out.append(Interval(k, begun, time, v))
    out.extend(Interval(kind, t, None, v) for kind, (t, v) in open_.items())
    return sorted(out, key=lambda i: i.start)
