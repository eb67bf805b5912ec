"""Reading `vagrant ssh-config` and `vagrant status` into an inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster.inventory import Inventory
from harness.cluster.vagrant import (
    SshEntry,
    VagrantError,
    address_plan,
    inventory_from_ssh_config,
    parse_machine_states,
    parse_ssh_config,
)
from tests.harness.vagrant.samples import (
    LXC_SSH_CONFIG,
    STATUS_NOT_CREATED,
    STATUS_RUNNING,
    VIRTUALBOX_SSH_CONFIG,
)

KEY = "/work/main/vagrant/.wiber/harness_key"


def test_parse_ssh_config_reads_every_host_block() -> None:
    entries = parse_ssh_config(VIRTUALBOX_SSH_CONFIG)
    assert list(entries) == ["n1", "n2", "n3"]
    assert entries["n1"] == SshEntry(
        name="n1",
        hostname="127.0.0.1",
        port=2222,
        user="vagrant",
        identity_file="/home/ana/wiber/vagrant/.vagrant/machines/n1/virtualbox/private_key",
    )
    # Vagrant quotes a path with spaces.
    assert entries["n2"].identity_file == (
        "/home/ana/my vms/wiber/vagrant/.vagrant/machines/n2/virtualbox/private_key"
    )
    assert entries["n3"].port == 2201


def test_a_repeated_option_keeps_its_first_value_as_ssh_does() -> None:
    text = "Host n1\n  HostName 10.0.0.1\n  Port 2022\n  Port 9\n"
    assert parse_ssh_config(text)["n1"].port == 2022


def test_a_host_without_hostname_is_an_error() -> None:
    with pytest.raises(VagrantError, match="n1 has no HostName"):
        parse_ssh_config("Host n1\n  User root\n")


def test_inventory_uses_the_private_address_plan_and_the_harness_key() -> None:
    inventory = inventory_from_ssh_config(
        VIRTUALBOX_SSH_CONFIG, nodes=3, addresses=address_plan(3), key=KEY
    )
    assert inventory.provider == "vagrant"
    assert [(n.name, n.host, n.ssh_port, n.user, n.key) for n in inventory.nodes] == [
        ("n1", "192.168.56.11", 22, "root", KEY),
        ("n2", "192.168.56.12", 22, "root", KEY),
        ("n3", "192.168.56.13", 22, "root", KEY),
    ]
    assert [n.client_address for n in inventory.nodes] == [
        "192.168.56.11:7070",
        "192.168.56.12:7070",
        "192.168.56.13:7070",
    ]
    assert inventory.nodes[0].root_dir == "/var/lib/wiber-harness/n1"
    # How Vagrant itself reaches each machine is kept for debugging.
    assert inventory.extra["vagrant_ssh"]["n2"] == {
        "host": "127.0.0.1",
        "port": 2200,
        "user": "vagrant",
        "key": "/home/ana/my vms/wiber/vagrant/.vagrant/machines/n2/virtualbox/private_key",
    }


def test_inventory_without_a_plan_reaches_nodes_as_vagrant_does() -> None:
    inventory = inventory_from_ssh_config(LXC_SSH_CONFIG, nodes=2, addresses=None, key=None)
    assert [(n.host, n.ssh_port, n.user, n.key) for n in inventory.nodes] == [
        ("10.213.7.11", 22, "root", KEY),
        ("10.213.7.12", 22, "root", KEY),
    ]


def test_inventory_takes_only_the_first_n_machines() -> None:
    inventory = inventory_from_ssh_config(
        VIRTUALBOX_SSH_CONFIG, nodes=2, addresses=address_plan(2), key=KEY
    )
    assert inventory.names == ["n1", "n2"]
    assert set(inventory.extra["vagrant_ssh"]) == {"n1", "n2"}


def test_a_missing_machine_is_named() -> None:
    with pytest.raises(VagrantError, match="no machine n3, n4"):
        inventory_from_ssh_config(LXC_SSH_CONFIG, nodes=4, addresses=address_plan(4), key=KEY)


def test_inventory_survives_a_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    inventory = inventory_from_ssh_config(
        VIRTUALBOX_SSH_CONFIG, nodes=3, addresses=address_plan(3), key=KEY, extra={"x": 1}
    )
    inventory.dump(path)
    assert Inventory.load(path) == inventory


def test_address_plan_matches_the_vagrantfile_rule() -> None:
    assert address_plan(2, "10.213.7") == {"n1": "10.213.7.11", "n2": "10.213.7.12"}
    with pytest.raises(VagrantError, match="three octets"):
        address_plan(2, "10.213")
    with pytest.raises(VagrantError, match="1 to 200"):
        address_plan(0)


def test_machine_states_are_read_from_machine_readable_status() -> None:
    assert parse_machine_states(STATUS_RUNNING) == {
        "n1": ("running", "libvirt"),
        "n2": ("running", "libvirt"),
        "n3": ("running", "libvirt"),
    }
    assert parse_machine_states(STATUS_NOT_CREATED)["n2"] == ("not_created", "libvirt")
