"""Histories from any supported format, as our op dicts (DESIGN.md 4.3)."""

from __future__ import annotations

from pathlib import Path

from harness.history import Op, read_history
from harness.importers.jepsen import read_edn_history, read_log_history

FORMATS = ("jsonl", "jepsen-edn", "jepsen-log")


def guess_format(path: Path) -> str:
    if path.suffix == ".edn":
        return "jepsen-edn"
    if path.suffix in (".log", ".txt"):
        with path.open(encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
        return "jepsen-log" if "jepsen.util - " in head else "jepsen-edn"
    return "jsonl"


def load_history(path: Path, fmt: str | None = None) -> list[Op]:
    """Read `path` in `fmt` (one of FORMATS; guessed from the name and content when None)."""
    fmt = fmt or guess_format(path)
    if fmt == "jsonl":
        return read_history(path)
    if fmt == "jepsen-edn":
        return read_edn_history(path)
    if fmt == "jepsen-log":
        return read_log_history(path)
    raise ValueError(f"unknown history format {fmt!r}; expected one of {FORMATS}")
