"""The run store layout (DESIGN.md 4.5) and its `latest` links."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.store import latest, new_run, timestamp


def test_a_run_gets_its_own_timestamped_folder_and_latest_links(tmp_path: Path) -> None:
    store = tmp_path / "reports"
    run = new_run(store, "log-partition", now=0)
    assert run.path == store / "log-partition" / timestamp(0)
    assert run.nodes.is_dir()
    assert latest(store) == run.path.resolve()
    assert latest(store, "log-partition") == run.path.resolve()
    # Relative links: the store can be moved whole.
    assert not os.readlink(store / "latest").startswith("/")
    run.write_test({"seed": 7})
    run.write_results({"valid": True, "checkers": {}})
    assert json.loads(run.test.read_text())["seed"] == 7
    assert json.loads(run.results.read_text())["valid"] is True
    assert run.history.name == "history.jsonl"
    assert run.report.name == "index.html"


def test_latest_moves_to_the_newest_run_and_same_second_runs_stay_apart(tmp_path: Path) -> None:
    store = tmp_path / "reports"
    first = new_run(store, "t", now=100)
    second = new_run(store, "t", now=100)
    other = new_run(store, "u", now=200)
    assert first.path != second.path
    assert second.path.name.endswith("-2")
    assert latest(store) == other.path.resolve()
    assert latest(store, "t") == second.path.resolve()
    assert not list(store.glob(".latest*"))
    assert not list((store / "t").glob(".latest*"))


def test_timestamp_format() -> None:
    stamp = timestamp(0)
    assert len(stamp) == 15
    assert stamp[8] == "T"
    assert stamp.replace("T", "").isdigit()
