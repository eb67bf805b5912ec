"""Fixtures for the harness infrastructure tests: local and netns clusters with Wiber running.

netns tests need root, `ip netns` and sshd; without them they skip. A module-scoped netns
cluster serves every nemesis test of a module and is torn down at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.cluster import get_provider
from harness.cluster.inventory import Inventory
from tests.harness.infra.helpers import require_netns, run, start_cluster


@pytest.fixture(scope="module")
def netns_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    """Three netns nodes with Wiber installed from the wheelhouse and running."""
    require_netns()
    workdir = tmp_path_factory.mktemp("netns-cluster")
    provider = get_provider("netns")
    inventory = run(provider.up(3, workdir))
    try:
        run(start_cluster(inventory))
        yield inventory
    finally:
        run(provider.down(inventory))


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    """Three local nodes, shared by a module's tests: each test heals what it breaks."""
    provider = get_provider("local")
    inventory = run(provider.up(3, tmp_path_factory.mktemp("local-cluster")))
    try:
        run(start_cluster(inventory))
        yield inventory
    finally:
        run(provider.down(inventory))
