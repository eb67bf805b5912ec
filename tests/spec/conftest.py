"""Shared fixtures: TLC tests are skipped (not silently passed) where Java or the jar is
missing, with the reason in the pytest summary."""

from __future__ import annotations

import pytest

from spec.tlc_runner import ToolMissing, find_jar, find_java


@pytest.fixture(scope="session")
def tlc_available() -> None:
    try:
        find_java()
        find_jar()
    except ToolMissing as missing:
        pytest.skip(str(missing))
