"""Test configuration: hypothesis profiles (`dev` locally, `ci` in CI) chosen by env, and
the fixture every TLC test uses."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from spec.tlc_runner import ToolMissing, find_jar, find_java

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def tlc_available() -> None:
    """Skip, with the reason, where Java or tla2tools.jar is missing."""
    try:
        find_java()
        find_jar()
    except ToolMissing as missing:
        pytest.skip(str(missing))
