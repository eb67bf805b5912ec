"""`harness run` on a real 5-host netns cluster: the issue's acceptance runs.

Each takes minutes (install into 5 venvs, a 60 s main phase, heal, final reads, checks), so
they are `slow` as well as `netns`; they skip without root, `ip` or sshd.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster.netns import namespace
from tests.harness.infra.helpers import require_netns

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def harness_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_netns()
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--provider", "netns", "--store",
         str(tmp_path / "reports"), *args],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def test_partition_for_60_s_on_5_nodes_exits_0_and_writes_the_report(tmp_path: Path) -> None:
    done = harness_run(tmp_path, "--nemesis", "partition", "--time-limit", "60", "--seed", "5")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    latest = tmp_path / "reports" / "latest"
    assert (latest / "index.html").exists()
    results = json.loads((latest / "results.json").read_text())
    assert results["valid"] is True
    assert results["checkers"]["log"]["valid"] is True
    spec = json.loads((latest / "test.json").read_text())
    assert spec["nodes"] == 5
    assert len(spec["inventory"]["nodes"]) == 5
    history = (latest / "history.jsonl").read_text()
    assert '"nemesis":"partition"' in history
    # The run's own hosts are gone (other tests may have namespaces of their own meanwhile).
    slot = spec["inventory"]["slot"]
    assert not {namespace(slot, i) for i in range(1, 6)} & namespaces()


def test_stale_reads_under_partition_are_not_linearizable(tmp_path: Path) -> None:
    done = harness_run(
        tmp_path, "--nemesis", "partition", "--workload", "register", "--time-limit", "30",
        "--seed", "8", "--fault-hold", "6", "--fault-quiet", "3", "--debug-fault", "stale-reads",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    named = [line.split("\t") for line in done.stdout.splitlines()]
    assert any(row[1:2] == ["linearizable"] for row in named), done.stdout
