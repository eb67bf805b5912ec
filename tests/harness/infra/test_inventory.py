from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cluster import ProviderError, get_provider
from harness.cluster.inventory import DEFAULT_ROOT, Inventory, InventoryError, NodeSpec


def test_round_trip_keeps_nodes_and_extra(tmp_path: Path) -> None:
    nodes = (
        NodeSpec("n1", "10.0.0.1", key="/k", client_port=7000, peer_port=7001),
        NodeSpec("n2", "10.0.0.2", ssh_port=2222, user="admin"),
    )
    inventory = Inventory("ssh", nodes, {"note": "kept"})
    inventory.dump(tmp_path / "inventory.yaml")
    loaded = Inventory.load(tmp_path / "inventory.yaml")
    assert loaded == inventory
    raw = yaml.safe_load((tmp_path / "inventory.yaml").read_text())
    assert raw["provider"] == "ssh"
    assert raw["nodes"][1]["ssh_port"] == 2222


def test_defaults_follow_the_design() -> None:
    node = NodeSpec("n3", "10.0.0.3")
    assert node.root_dir == f"{DEFAULT_ROOT}/n3"
    assert (node.ssh_port, node.user, node.client_port, node.peer_port) == (22, "root", 7070, 7071)
    assert node.client_address == "10.0.0.3:7070"
    assert node.data_dir == f"{DEFAULT_ROOT}/n3/data"


def test_user_written_inventory_with_minimal_nodes(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("nodes:\n  - {name: a, host: h1}\n  - {name: b, host: h2, key: null}\n")
    inventory = Inventory.load(path)
    assert inventory.provider == "ssh"
    assert inventory.names == ["a", "b"]
    assert inventory.node("b").host == "h2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "mapping"),
        ("provider: ssh\nnodes: []\n", "non-empty"),
        ("nodes:\n  - {host: h}\n", "name"),
        ("nodes:\n  - {name: a, host: h, colour: red}\n", "unknown keys"),
        ("nodes:\n  - {name: a, host: h}\n  - {name: a, host: g}\n", "duplicate"),
        ("nodes: [: :\n", "not YAML"),
    ],
)
def test_bad_inventories_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=message):
        Inventory.load(path)


def test_unknown_node_name_is_an_error() -> None:
    inventory = Inventory("ssh", (NodeSpec("n1", "h"),))
    with pytest.raises(InventoryError, match="no node 'n9'"):
        inventory.node("n9")


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ProviderError, match="unknown provider"):
        get_provider("carrier-pigeon")


def test_without_root_the_default_is_local_and_netns_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    from harness.cluster import default_provider
    from tests.harness.infra.helpers import netns_unavailable

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert default_provider() == "local"
    assert netns_unavailable() == "needs root"
    with pytest.raises(ProviderError, match="needs root"):
        asyncio.run(get_provider("netns").up(3, tmp_path))
    assert not (tmp_path / "inventory.yaml").exists()
