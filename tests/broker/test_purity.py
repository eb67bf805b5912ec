"""The broker is pure: the same module runs in the runtime and in the simulator."""

from __future__ import annotations

import ast
from pathlib import Path

import wiber.broker

FORBIDDEN = {"asyncio", "socket", "time", "os", "threading", "random", "wiber.runtime"}


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def forbidden_in(source: str) -> set[str]:
    return {
        name
        for name in imported_modules(source)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }


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
