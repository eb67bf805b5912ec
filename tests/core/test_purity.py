"""The core is pure: no I/O, clock, threads or module-level randomness (DESIGN.md section 2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wiber.core

FORBIDDEN = {"asyncio", "socket", "time", "os", "threading", "subprocess", "selectors"}
CORE_FILES = sorted(Path(wiber.core.__file__).parent.glob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_module_imports_no_io(path: Path) -> None:
    assert not _imports(ast.parse(path.read_text())) & FORBIDDEN


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_module_uses_only_an_injected_rng(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
            continue
        if node.value.id == "random":
            assert node.attr == "Random", f"{path.name}: random.{node.attr}"


def test_purity_check_catches_a_forbidden_import() -> None:
    assert _imports(ast.parse("import time\nfrom os import path")) & FORBIDDEN == {"time", "os"}
