"""`VagrantProvider` against a stand-in for `vagrant`: what it runs and what it writes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.cluster import get_provider
from harness.cluster.inventory import Inventory
from harness.cluster.vagrant import Completed, VagrantError, VagrantProvider, run_command
from tests.harness.vagrant.samples import (
    LXC_SSH_CONFIG,
    STATUS_NOT_CREATED,
    STATUS_RUNNING,
    VIRTUALBOX_SSH_CONFIG,
)

TOOLS_NETEM = "# written by vagrant/provision/system.sh\nnetem=yes\niptables=yes\nchronyc=yes\n"


@dataclass
class FakeVagrant:
    """Answers `vagrant` commands from canned output and records every call."""

    statuses: list[str]
    ssh_config: str = VIRTUALBOX_SSH_CONFIG
    fail: str | None = None  # first word of a command that should fail
    # /etc/wiber/tools per machine, as provisioning writes it; a missing machine fails `ssh`.
    tools: dict[str, str] = field(
        default_factory=lambda: {n: TOOLS_NETEM for n in ("n1", "n2", "n3", "n4", "n5")}
    )
    calls: list[tuple[list[str], Path, dict[str, str]]] = field(default_factory=list)

    async def __call__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
    ) -> Completed:
        argv = list(argv)
        self.calls.append((argv, cwd, dict(env)))
        word = argv[1] if argv[0] == "vagrant" else Path(argv[0]).name
        if word == self.fail:
            return Completed(1, "", f"{word}: the hypervisor said no")
        if word == "status":
            return Completed(0, self.statuses.pop(0), "")
        if word == "ssh-config":
            return Completed(0, self.ssh_config, "")
        if word == "ssh":
            node = argv[2]
            if node not in self.tools:
                return Completed(255, "", f"{node}: connection refused")
            return Completed(0, self.tools[node], "")
        return Completed(0, f"ran {' '.join(argv)}\n", "")

    def commands(self) -> list[str]:
        return [" ".join([Path(argv[0]).name, *argv[1:]]) for argv, _, _ in self.calls]


def provider(tmp_path: Path, fake: FakeVagrant, **options: object) -> VagrantProvider:
    return VagrantProvider(
        vagrant_dir=tmp_path / "vagrant",
        runner=fake,
        install_wheels=False,
        **options,  # type: ignore[arg-type]
    )


def test_up_brings_machines_up_and_writes_the_inventory(tmp_path: Path) -> None:
    fake = FakeVagrant(statuses=[STATUS_NOT_CREATED, STATUS_RUNNING])
    vagrant = provider(tmp_path, fake, vm_provider="libvirt")
    inventory = asyncio.run(vagrant.up(3, tmp_path / "work"))

    assert fake.commands() == [
        "vagrant status --machine-readable",
        "vagrant up --provider=libvirt",
        "vagrant status --machine-readable",
        "vagrant ssh-config n1 n2 n3",
        "vagrant ssh n1 -c cat /etc/wiber/tools",
        "vagrant ssh n2 -c cat /etc/wiber/tools",
        "vagrant ssh n3 -c cat /etc/wiber/tools",
    ]
    _, cwd, env = fake.calls[1]
    key = tmp_path / "vagrant" / ".wiber" / "harness_key"
    assert cwd == tmp_path / "vagrant"
    assert env["WIBER_NODES"] == "3"
    assert env["WIBER_SSH_KEY"] == str(key)
    assert env["WIBER_SSH_PUBKEY"] == f"{key}.pub"
    assert key.with_name("harness_key.pub").read_text().startswith("ssh-ed25519 ")
    assert [n.host for n in inventory.nodes] == ["192.168.56.11", "192.168.56.12", "192.168.56.13"]
    assert {n.key for n in inventory.nodes} == {str(key)}
    assert inventory.extra["vm_provider"] == "libvirt"
    assert inventory.extra["tools"] == {"netem": True, "clock_step": True}
    assert Inventory.load(tmp_path / "work" / "inventory.yaml") == inventory
    assert "ran vagrant up" in (tmp_path / "work" / "vagrant-up.log").read_text()


def test_up_reuses_machines_that_already_run(tmp_path: Path) -> None:
    fake = FakeVagrant(statuses=[STATUS_RUNNING])
    inventory = asyncio.run(provider(tmp_path, fake).up(3, tmp_path / "work"))
    assert "up" not in [c[0][1] for c in fake.calls]
    assert inventory.names == ["n1", "n2", "n3"]


def test_up_without_reuse_runs_vagrant_up_even_when_running(tmp_path: Path) -> None:
    fake = FakeVagrant(statuses=[STATUS_RUNNING, STATUS_RUNNING])
    asyncio.run(provider(tmp_path, fake, reuse=False).up(3, tmp_path / "work"))
    assert "vagrant up" in fake.commands()


def test_lxc_makes_the_host_bridge_first_and_records_shared_kernel_limits(
    tmp_path: Path,
) -> None:
    fake = FakeVagrant(
        statuses=[STATUS_NOT_CREATED, STATUS_RUNNING.replace("libvirt", "lxc")],
        ssh_config=LXC_SSH_CONFIG,
    )
    vagrant = provider(tmp_path, fake, vm_provider="lxc", network="10.213.7", box="wiber/x")
    inventory = asyncio.run(vagrant.up(2, tmp_path / "work"))
    assert fake.commands()[1:3] == [
        "lxc-bridge.sh up 10.213.7 wibervbr0",
        "vagrant up --provider=lxc",
    ]
    assert fake.calls[2][2]["WIBER_LXC_BOX"] == "wiber/x"
    assert [n.host for n in inventory.nodes] == ["10.213.7.11", "10.213.7.12"]
    assert inventory.extra["tools"] == {"netem": False, "clock_step": False}

    fake.calls.clear()
    # `harness cluster down` makes a fresh provider with no options: all it knows comes
    # from the inventory.
    asyncio.run(provider(tmp_path, fake).down(inventory))
    assert fake.commands() == [
        "vagrant destroy --force",
        "lxc-bridge.sh down 10.213.7 wibervbr0",
    ]
    # destroy sees the machine count and paths the Vagrantfile saw at up.
    assert fake.calls[0][2]["WIBER_NODES"] == "2"
    assert fake.calls[0][2]["WIBER_NETWORK"] == "10.213.7"
    assert fake.calls[0][2]["VAGRANT_DEFAULT_PROVIDER"] == "lxc"


def test_netem_is_used_only_when_every_machine_passed_the_netem_probe(tmp_path: Path) -> None:
    tools = {"n1": TOOLS_NETEM, "n2": TOOLS_NETEM.replace("netem=yes", "netem=no")}
    fake = FakeVagrant(statuses=[STATUS_RUNNING], tools=tools)
    inventory = asyncio.run(provider(tmp_path, fake, vm_provider="libvirt").up(3, tmp_path / "w"))
    # n2's kernel lacks netem and n3 could not be asked: delays fall back to the userspace
    # holder on every node; the clock is still each VM's own.
    assert inventory.tools.netem is False
    assert inventory.tools.clock_step is True
    assert inventory.extra["tools_found"]["n2"]["netem"] == "no"
    assert "connection refused" in inventory.extra["tools_found"]["n3"]["error"]


def test_status_reports_each_node_state(tmp_path: Path) -> None:
    fake = FakeVagrant(statuses=[STATUS_RUNNING, STATUS_NOT_CREATED])
    vagrant = provider(tmp_path, fake)
    inventory = asyncio.run(vagrant.up(3, tmp_path / "work"))
    rows = asyncio.run(vagrant.status(inventory))
    assert [(r["name"], r["state"], r["address"]) for r in rows] == [
        ("n1", "not_created", "192.168.56.11:7070"),
        ("n2", "not_created", "192.168.56.12:7070"),
        ("n3", "not_created", "192.168.56.13:7070"),
    ]


def test_a_failed_vagrant_up_leaves_an_inventory_that_down_can_clean_up(
    tmp_path: Path,
) -> None:
    fake = FakeVagrant(statuses=[STATUS_NOT_CREATED], fail="up")
    vagrant = provider(tmp_path, fake, vm_provider="lxc", network="10.213.7")
    with pytest.raises(VagrantError, match="the hypervisor said no"):
        asyncio.run(vagrant.up(2, tmp_path / "work"))
    assert "the hypervisor said no" in (tmp_path / "work" / "vagrant-up.log").read_text()

    left = Inventory.load(tmp_path / "work" / "inventory.yaml")
    assert left.extra["provisional"] is True
    assert [n.host for n in left.nodes] == ["10.213.7.11", "10.213.7.12"]
    fake.calls.clear()
    asyncio.run(provider(tmp_path, fake).down(left))
    assert fake.commands() == [
        "vagrant destroy --force",
        "lxc-bridge.sh down 10.213.7 wibervbr0",
    ]


def test_get_provider_finds_the_vagrant_provider(tmp_path: Path) -> None:
    found = get_provider("vagrant", vagrant_dir=tmp_path, install_wheels=False)
    assert isinstance(found, VagrantProvider)
    assert found.name == "vagrant"


def test_run_command_returns_code_and_output(tmp_path: Path) -> None:
    done = asyncio.run(
        run_command(["sh", "-c", 'echo "$X"; echo oops >&2; exit 3'], tmp_path, {"X": "hi"}, 30)
    )
    assert done == Completed(3, "hi\n", "oops\n")


def test_run_command_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f'sh -c "echo \\$\\$ > {pid_file}; sleep 30; true"; true'
    with pytest.raises(VagrantError, match="no result after"):
        asyncio.run(run_command(["sh", "-c", script], tmp_path, {}, 1))
    grandchild = int(pid_file.read_text())
    assert not Path(f"/proc/{grandchild}").exists()
