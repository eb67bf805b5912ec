"""A small builder for hand-made histories in the shape of DESIGN.md 4.3."""

from __future__ import annotations

from typing import Any

from harness.history import Op


class History:
    def __init__(self) -> None:
        self.ops: list[Op] = []

    def op(self, process: Any, type_: str, f: str, value: Any) -> History:
        n = len(self.ops)
        self.ops.append(
            {
                "index": n,
                "time": n * 1_000_000,
                "process": process,
                "type": type_,
                "f": f,
                "value": value,
            }
        )
        return self

    def invoke(self, process: Any, f: str, value: Any) -> History:
        return self.op(process, "invoke", f, value)

    def complete(self, process: Any, f: str, value: Any, type_: str = "ok") -> History:
        return self.op(process, type_, f, value)

    def call(self, process: Any, f: str, value: Any, type_: str = "ok", **result: Any) -> History:
        """An invoke and its completion back to back; `result` fields join the ok value."""
        self.invoke(process, f, value)
        return self.complete(process, f, {**value, **result} if type_ == "ok" else value, type_)

    def send(
        self, process: Any, topic: str, value: Any, offset: int | None, type_: str = "ok"
    ) -> History:
        extra = {} if offset is None else {"offset": offset}
        return self.call(process, "send", {"topic": topic, "value": value}, type_, **extra)

    def poll(self, process: Any, topic: str, start: int | None, msgs: list[list[Any]]) -> History:
        value: dict[str, Any] = {"topic": topic}
        if start is not None:
            value["from"] = start
        return self.call(process, "poll", value, msgs=msgs)

    def nemesis(self, f: str, kind: str = "partition") -> History:
        return self.op("nemesis", "info", f, {"nemesis": kind})
