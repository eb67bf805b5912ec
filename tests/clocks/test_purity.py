"""wiber.clocks is pure: no I/O, clock or module-level randomness imports, and its output does
not depend on the interpreter's string-hash seed (set iteration order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import wiber.clocks
from tests.purity import forbidden_imports

PACKAGE = Path(wiber.clocks.__file__).parent
FORBIDDEN = {"asyncio", "socket", "time", "os", "random", "threading", "datetime", "wiber.runtime"}


def impure_imports(source: str) -> set[str]:
    return forbidden_imports(source, FORBIDDEN)


def test_clocks_import_nothing_impure() -> None:
    found = {
        path.name: impure_imports(path.read_text())
        for path in sorted(PACKAGE.glob("*.py"))
        if impure_imports(path.read_text())
    }
    assert found == {}


def test_the_import_check_catches_an_impure_module() -> None:
    assert impure_imports("import time\nfrom os.path import join\nimport bisect\n") == {
        "time",
        "os.path",
    }


SCENARIO = """
from wiber.clocks.reorder import Message, ReorderBuffer
b = ReorderBuffer(5, {"alpha": 0, "beta": 0, "gamma": 0, "delta": 0})
msgs = [Message(t, o, 0, tuple((u, p) for u in ("alpha", "beta", "gamma") for p in range(o)))
        for o in range(3, 0, -1) for t in ("delta", "gamma", "beta", "alpha")]
out = [d for i, m in enumerate(msgs) for d in b.offer(m, i)] + b.poll(100)
print([(d.message.key, sorted(m.value for m in d.marks), d.missing) for d in out])
"""


def test_reorder_output_does_not_depend_on_the_hash_seed() -> None:
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", SCENARIO], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert "missing-cause" in next(iter(outputs))  # the scenario exercises forced delivery
