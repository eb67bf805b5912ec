"""`wiber cluster up` that fails leaves no broker running behind its error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.runtime.clusters import free_base_port
from wiber import localcluster


def test_a_cluster_that_does_not_come_up_in_time_is_stopped(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    with pytest.raises(localcluster.ClusterError, match="did not listen"):
        localcluster.up(directory, 3, free_base_port(3), timeout=0.0)
    time.sleep(0.2)
    assert localcluster.pids(directory) == {"n1": None, "n2": None, "n3": None}
    assert not list(directory.glob("*.pid"))
