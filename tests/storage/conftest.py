"""Fixtures for storage tests: directories on tmpfs when there is one, where fsync is nearly
free, so the tests exercise the same code paths without waiting for the disk."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


def fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="wiber-storage-", dir=SHM if SHM.is_dir() else None))


@pytest.fixture
def log_dir() -> Iterator[Path]:
    directory = fresh_dir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
