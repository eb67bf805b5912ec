"""Golden interaction scripts (etcd raft's datadriven tests): every `testdata/*.txt` is run and
its output compared. `WIBER_REWRITE=1` rewrites the expected outputs; read the diff and
convince yourself it is correct Raft before committing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.core.interaction import run_script, script_paths


@pytest.mark.parametrize("path", script_paths(), ids=lambda p: p.stem)
def test_script(path: Path) -> None:
    text = path.read_text()
    actual = run_script(text)
    if os.environ.get("WIBER_REWRITE") == "1":
        path.write_text(actual)
        return
    assert actual == text


def test_scripts_exist_and_open_with_a_comment() -> None:
    paths = script_paths()
    assert len(paths) >= 8
    for path in paths:
        assert path.read_text().startswith("# "), path.name
