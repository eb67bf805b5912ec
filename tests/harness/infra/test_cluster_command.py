"""`harness cluster up|status|down` with the local provider (no root needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_up_start_status_down(tmp_path: Path) -> None:
    workdir = str(tmp_path / "c")
    up = harness("up", "--provider", "local", "--nodes", "3", "--dir", workdir, "--start")
    assert up.returncode == 0, up.stderr
    assert "wiber running: --bootstrap 127.0.0.1:" in up.stdout
    try:
        again = harness("up", "--provider", "local", "--dir", workdir)
        assert again.returncode == 2
        assert "already holds a cluster" in again.stderr
        status = harness("status", "--dir", workdir, "--json")
        assert status.returncode == 0, status.stderr
        rows = json.loads(status.stdout)
        assert [r["name"] for r in rows] == ["n1", "n2", "n3"]
        assert all(isinstance(r["pid"], int) for r in rows)
        assert {r["role"] for r in rows} <= {"leader", "follower", "candidate", "pre-candidate"}
    finally:
        down = harness("down", "--dir", workdir)
    assert down.returncode == 0, down.stderr
    pids = [r["pid"] for r in rows]
    assert [p for p in pids if alive(p)] == []
    assert not (tmp_path / "c" / "inventory.yaml").exists()


def test_down_without_a_cluster_is_an_error(tmp_path: Path) -> None:
    done = harness("down", "--dir", str(tmp_path / "nothing"))
    assert done.returncode == 2
    assert "inventory.yaml" in done.stderr
