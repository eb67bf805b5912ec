"""Typed storage errors.

Everything the storage engine raises on purpose derives from `StorageError`, so the runtime can
tell a disk or data problem from a bug. Corruption is never skipped silently: it is raised with
the file and byte offset so an operator can look at the exact bytes.
"""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """Base of every error raised on purpose by `wiber.storage`."""


class CorruptFileError(StorageError):
    """A file's content does not verify (bad magic, length or CRC)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CorruptLogError(CorruptFileError):
    """A log record that does not verify and is not a torn tail (valid records follow it, or
    it sits in a segment that is not the last one)."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        StorageError.__init__(self, f"{path} at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class OutOfRangeError(StorageError, IndexError):
    """An index outside what the log holds (below `first_index` or above `last_index`)."""


class LogUsageError(StorageError, ValueError):
    """A call that breaks the log's contract (a gap in appended indexes, a bad argument)."""
