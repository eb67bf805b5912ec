"""When appended records reach the disk.

- `always`: every `append()` ends with an fsync before it returns (slow: one fsync per batch).
- `group` (default): `append()` only writes to the page cache; the runtime calls `sync()` (in a
  worker thread) and acknowledges everything the returned index covers, so one fsync covers
  every append that waited for it.
- `interval:<ms>`: like `group`, but the runtime calls `sync()` on a timer every `<ms>`
  milliseconds instead of before each acknowledgement (the log reads no clock itself).
- `never`: nothing is ever fsynced by `sync()`; it reports everything written as durable. For
  benchmarks and throwaway nodes only: a crash of the machine may lose acknowledged data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Mode = Literal["always", "group", "interval", "never"]
_SIMPLE: Final[tuple[Mode, ...]] = ("always", "group", "never")


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    mode: Mode
    interval_ms: int | None = None  # set only for mode "interval"

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        """Parse "always" | "group" | "interval:<ms>" | "never"; `str()` gives the text back."""
        cleaned = text.strip().lower()
        for mode in _SIMPLE:
            if cleaned == mode:
                return cls(mode)
        prefix, sep, rest = cleaned.partition(":")
        if prefix == "interval" and sep and rest.isdigit() and int(rest) > 0:
            return cls("interval", int(rest))
        raise ValueError(
            f"bad fsync policy {text!r}: expected always, group, interval:<ms> (ms > 0) or never"
        )

    def __str__(self) -> str:
        if self.mode == "interval":
            return f"interval:{self.interval_ms}"
        return self.mode

    @property
    def syncs_each_append(self) -> bool:
        return self.mode == "always"

    @property
    def fsyncs(self) -> bool:
        return self.mode != "never"
