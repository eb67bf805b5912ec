"""Histories: one op per JSON line (DESIGN.md 4.3), written while a test runs.

The harness, the simulator and every checker speak this one shape. An op is a plain dict:
`{"index", "time", "process", "type", "f", "value", "node"?, "error"?}`; `type` is one of
invoke, ok, fail, info (indeterminate: it may or may not have happened).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

Op = dict[str, Any]
OP_TYPES = frozenset({"invoke", "ok", "fail", "info"})


class HistoryError(Exception):
    """A history file or op that does not follow DESIGN.md 4.3."""


def encode_op(op: Op) -> str:
    # Keys sorted so that equal histories are equal bytes (simulator runs replay byte for byte).
    return json.dumps(op, sort_keys=True, separators=(",", ":"))


class HistoryWriter:
    """Appends ops to a JSONL file, flushing each line so a crash keeps everything written."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def write(self, op: Op) -> None:
        self._file.write(encode_op(op) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_history(path: Path, ops: Iterable[Op]) -> None:
    with HistoryWriter(path) as writer:
        for op in ops:
            writer.write(op)


def iter_history(path: Path) -> Iterator[Op]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                op = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}:{lineno}: not JSON: {e.msg}") from None
            if not isinstance(op, dict) or op.get("type") not in OP_TYPES:
                raise HistoryError(f"{path}:{lineno}: not an op (type not in {sorted(OP_TYPES)})")
            yield op


def read_history(path: Path) -> list[Op]:
    return list(iter_history(path))
