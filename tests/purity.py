"""The import rule for the pure packages (DESIGN.md 2), read from source with `ast`."""

from __future__ import annotations

import ast
from collections.abc import Iterable


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def forbidden_imports(source: str, forbidden: Iterable[str]) -> set[str]:
    bad = tuple(forbidden)
    return {
        name
        for name in imported_modules(source)
        if any(name == b or name.startswith(b + ".") for b in bad)
    }
