"""Brokers estimate each other's clock offsets; a node whose wall clock is skewed (libfaketime)
shows up in `cluster status` with an estimate that contains the real skew."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.runtime.clusters import running_cluster
from wiber import admin, localcluster

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SKEW_S = 3


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime (Debian faketime) not installed")
def test_a_skewed_node_is_seen_with_its_offset(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "c", 3) as cluster:
        n3 = cluster.node("n3")
        localcluster.stop_node(cluster.directory, n3)
        localcluster.start_node(
            cluster.directory,
            n3,
            env={
                "LD_PRELOAD": str(FAKETIME),
                "FAKETIME": f"+{SKEW_S}s",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_NO_CACHE": "1",
            },
        )
        offsets: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = asyncio.run(admin.cluster_status(cluster.addresses))
            offsets = {
                r["id"]: r["clock_offset_ms"] for r in rows if r.get("clock_offset_ms") is not None
            }
            if len(offsets) == 3 and abs(offsets["n3"] - SKEW_S * 1000) < 200:
                break
            time.sleep(0.5)
        assert abs(offsets["n3"] - SKEW_S * 1000) < 200, offsets
        assert abs(offsets["n1"]) < 200, offsets
        assert abs(offsets["n2"]) < 200, offsets
