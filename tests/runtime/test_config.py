"""Node configuration: files, cluster files, environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiber.runtime.config import ConfigError, NodeConfig, apply_env, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


CLUSTER = """
data_dir: /d
nodes:
  - {id: n1, host: 10.0.0.1, client_port: 7000, peer_port: 7001}
  - {id: n2, host: 10.0.0.2, client_port: 7010, peer_port: 7011}
  - {id: n3, host: 10.0.0.3, client_port: 7020}
"""


def test_a_cluster_file_selects_the_node_and_lists_the_rest_as_peers(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CLUSTER), "n2")
    assert (config.id, config.host, config.client_port, config.peer_port) == (
        "n2",
        "10.0.0.2",
        7010,
        7011,
    )
    assert [p.id for p in config.peers] == ["n1", "n3"]
    assert config.peers[1].peer_port == 7021
    assert config.data_dir == Path("/d/n2")
    assert config.voters == ("n1", "n2", "n3")


def test_initial_voters_may_be_a_subset(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CLUSTER + "voters: [n1, n2]\n"), "n3")
    assert config.voters == ("n1", "n2")


@pytest.mark.parametrize(
    ("text", "node", "message"),
    [
        (CLUSTER, None, "needs --id"),
        (CLUSTER, "n9", "not among the cluster's nodes"),
        (CLUSTER + "voters: [n1, x]\n", "n1", "not nodes of the cluster file"),
        ("client_port: 70000\n", None, "not a TCP port"),
        ("client_port: seven\n", None, "expected an integer"),
        ("colour: blue\n", None, "unknown key"),
        ("debug_fault: crash-often\n", None, "debug_fault"),
        ("- a\n- b\n", None, "mapping at the top level"),
        ("a: [\n", None, "not valid YAML"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(
    tmp_path: Path, text: str, node: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), node)


def test_environment_overrides_the_file() -> None:
    config = apply_env(
        NodeConfig(), {"WIBER_PORT": "8000", "WIBER_HOST": "0.0.0.0", "WIBER_DATA_DIR": "/x"}
    )
    assert (config.client_port, config.peer_port, config.metrics_port) == (8000, 8001, 8002)
    assert (config.host, config.data_dir) == ("0.0.0.0", Path("/x"))
    with pytest.raises(ConfigError, match="WIBER_PORT"):
        apply_env(NodeConfig(), {"WIBER_PORT": "eighty"})
