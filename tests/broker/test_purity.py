"""The broker is pure: the same module runs in the runtime and in the simulator."""

from __future__ import annotations

from pathlib import Path

import wiber.broker
from tests.purity import forbidden_imports

FORBIDDEN = {"asyncio", "socket", "time", "os", "threading", "random", "wiber.runtime"}


def forbidden_in(source: str) -> set[str]:
    return forbidden_imports(source, FORBIDDEN)


def test_the_broker_imports_no_io_clock_or_randomness() -> None:
    package = Path(wiber.broker.__file__).parent
    found = {
        path.name: bad
        for path in sorted(package.glob("*.py"))
        if (bad := forbidden_in(path.read_text()))
    }
    assert found == {}


def test_the_check_catches_a_forbidden_import() -> None:
    assert forbidden_in("import os.path\nfrom time import monotonic\nimport msgpack\n") == {
        "os.path",
        "time",
    }
