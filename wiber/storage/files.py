"""Small durable-file helpers: fsync a directory, replace a file atomically.

A rename is only durable once the directory holding it is fsynced, and a file's content only
once the file is; `atomic_write` does both in the order that leaves either the old or the new
content under `path` after a crash, never a mix.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """pwrite() until every byte is written (a short write is legal for regular files)."""
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], offset + done)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: write a new file, fsync it, rename it over, fsync the dir."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
