"""The nemeses' paths for nodes with a kernel and clock of their own (VMs): `tc netem` delays and
`date` clock steps. This machine has neither netem nor a clock we may step, so the scripts run
for real in bash against stub `tc`, `ip`, `getent`, `date`, `pgrep` and `systemctl` that log
their arguments and answer as the real tools do."""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import pytest

from harness.cluster.inventory import Inventory, InventoryError, NodeSpec, Tools
from harness.control import Remote
from harness.control.base import ShellRemote
from harness.control.result import Result
from harness.db import DBError, WiberDB, step_clock_script
from harness.nemesis import NemesisContext, get_nemesis, netem
from tests.harness.infra.helpers import run

HOSTS = {"n1": "10.77.0.11", "n2": "10.77.0.12", "n3": "10.77.0.13"}

STUBS = {
    # The real `tc qdisc show` prints our netem child once start has run; the stub keeps that
    # state in a file so heal sees what start did.
    "tc": """
echo "tc $*" >> "$STUB_LOG"
case "$*" in
  "qdisc show dev"*) [ -e "$STUB_DIR/netem-on" ] && echo "qdisc netem 40: parent 1:4 limit 1000";;
  "qdisc add dev eth1 parent 1:4"*) touch "$STUB_DIR/netem-on";;
  "qdisc del dev"*) rm -f "$STUB_DIR/netem-on";;
esac
exit 0
""",
    "ip": """
echo "ip $*" >> "$STUB_LOG"
echo "$4 via 10.77.0.1 dev eth1 src 10.77.0.11 uid 0"
""",
    "getent": """echo "getent $*" >> "$STUB_LOG"; echo "$2      STREAM $2" """,
    "date": """echo "date $*" >> "$STUB_LOG" """,
    "pgrep": """echo "pgrep $*" >> "$STUB_LOG"; [ -e "$STUB_DIR/chrony-running" ]""",
    "systemctl": """
echo "systemctl $*" >> "$STUB_LOG"
case "$1" in stop) rm -f "$STUB_DIR/chrony-running";; start) touch "$STUB_DIR/chrony-running";;
esac
""",
}


class StubRemote(ShellRemote):
    """Runs every command locally in bash with the stub tools first on PATH."""

    def __init__(self, stub_dir: Path) -> None:
        self.stub_dir = stub_dir
        self.commands: list[tuple[str, str]] = []
        for name, body in STUBS.items():
            path = stub_dir / name
            path.write_text("#!/bin/bash\n" + body.strip() + "\n")
            path.chmod(0o755)

    @property
    def log(self) -> list[str]:
        path = self.stub_dir / "log"
        return path.read_text().splitlines() if path.exists() else []

    async def run(
        self, node: NodeSpec, cmd: str, *, timeout: float = 60, check: bool = True, **_: Any
    ) -> Result:
        self.commands.append((node.name, cmd))
        env = dict(os.environ)
        env.update(
            PATH=f"{self.stub_dir}:{env['PATH']}",
            STUB_LOG=str(self.stub_dir / "log"),
            STUB_DIR=str(self.stub_dir),
        )
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        result = Result(proc.returncode or 0, out.decode(), err.decode())
        assert result.ok or not check, f"{cmd}\n{result.stderr}"
        return result

    async def upload(self, node: NodeSpec, local: Path, remote: str) -> None:
        raise AssertionError("nothing is uploaded to a node with netem")

    async def download(self, node: NodeSpec, remote: str, local: Path) -> None:
        raise AssertionError("nothing is downloaded")

    async def close(self) -> None:
        pass


def vm_inventory(**tools: bool) -> Inventory:
    nodes = tuple(NodeSpec(name, host) for name, host in HOSTS.items())
    return Inventory("vagrant", nodes, {"tools": tools})


def vm_context(stub: StubRemote, **tools: bool) -> NemesisContext:
    inventory = vm_inventory(**tools)
    remote = cast(Remote, stub)
    return NemesisContext(inventory, remote, WiberDB(inventory, remote), random.Random(1))


def test_tools_come_from_the_inventory_and_typos_are_errors() -> None:
    assert vm_inventory().tools == Tools(netem=False, clock_step=False)
    assert vm_inventory(netem=True, clock_step=True).tools == Tools(True, True)
    raw = vm_inventory().to_dict()
    with pytest.raises(InventoryError, match="unknown tools"):
        Inventory.from_dict({**raw, "tools": {"netm": True}})
    with pytest.raises(InventoryError, match="true or false"):
        Inventory.from_dict({**raw, "tools": {"netem": "yes"}})


def test_delay_uses_netem_toward_the_peers_only_and_heal_removes_it(tmp_path: Path) -> None:
    stub = StubRemote(tmp_path)
    ctx = vm_context(stub, netem=True)
    done = run(
        get_nemesis("delay").start(ctx, {"targets": ["n1"], "delay_ms": 150, "jitter_ms": 10})
    )
    assert done["tool"] == "netem"
    assert done["targets"] == ["n1"]
    tc = [line for line in stub.log if line.startswith("tc ")]
    assert (
        "tc qdisc add dev eth1 parent 1:4 handle 40: netem delay 150.000ms 10.000ms "
        "distribution normal" in tc
    )
    filters = [line for line in tc if line.startswith("tc filter add")]
    assert sorted(f.split(" dst ")[1].split("/")[0] for f in filters) == [
        HOSTS["n2"],
        HOSTS["n3"],
    ]
    # No NFQUEUE holder on a node that has netem.
    assert not any("nfq_holder" in cmd for _, cmd in stub.commands)
    assert (tmp_path / "netem-on").exists()

    run(get_nemesis("delay").heal(ctx))
    assert "tc qdisc del dev eth1 root" in stub.log
    assert not (tmp_path / "netem-on").exists()


def test_netem_heal_leaves_a_root_qdisc_that_is_not_ours(tmp_path: Path) -> None:
    stub = StubRemote(tmp_path)
    run(netem.heal(cast(Remote, stub), vm_inventory().nodes))
    assert not any(line.startswith("tc qdisc del") for line in stub.log)


def test_clock_bump_steps_the_nodes_own_clock_and_heal_steps_it_home(tmp_path: Path) -> None:
    stub = StubRemote(tmp_path)
    (tmp_path / "chrony-running").touch()
    ctx = vm_context(stub, clock_step=True)
    # A mark under tmp_path instead of /run: the stubs and the test must not touch this host.
    ctx.db.python = "python3"
    mark = tmp_path / "chrony-stopped"

    ctx.db.chrony_mark = str(mark)

    async def scenario() -> None:
        assert await ctx.db.clock_mode(ctx.inventory.node("n2")) == "system"
        clock = get_nemesis("clock")
        await clock.start(ctx, {"kind": "bump", "targets": ["n2"], "delta_ms": 5000})
        assert mark.exists()
        assert not (tmp_path / "chrony-running").exists()
        await clock.start(ctx, {"kind": "bump", "targets": ["n2"], "delta_ms": -3000})
        await clock.heal(ctx)

    run(scenario())
    steps = [line for line in stub.log if line.startswith("date -s")]
    # n2 went +5 s, then -3 s (offset +2 s), then home (-2 s); heal also steps n1 and n3 by 0.
    assert len(steps) == 5
    assert (tmp_path / "chrony-running").exists()
    assert not mark.exists()
    assert "systemctl stop chrony" in stub.log
    assert "systemctl start chrony" in stub.log
    n2_steps = [cmd for node, cmd in stub.commands if node == "n2" and "date -s" in cmd]
    assert [re.findall(r" (-?\d+\.\d{6})\)", c)[0] for c in n2_steps[:3]] == [
        "5.000000",
        "-3.000000",
        "-2.000000",
    ]


def test_step_clock_script_prints_the_time_date_needs(tmp_path: Path) -> None:
    stub = StubRemote(tmp_path)
    script = step_clock_script("python3", 7200.0, home=False, mark=str(tmp_path / "m"))
    run(stub.run(NodeSpec("n1", "10.77.0.11"), script))
    (line,) = [x for x in stub.log if x.startswith("date")]
    epoch = float(line.split("@")[1])
    assert 7100 < epoch - time.time() < 7300


def test_a_node_without_either_tool_refuses_clock_skew_with_a_reason(tmp_path: Path) -> None:
    stub = StubRemote(tmp_path)
    inventory = vm_inventory()
    db = WiberDB(inventory, cast(Remote, stub), faketime=False)
    with pytest.raises(DBError, match=r"tools\.clock_step"):
        run(db.set_clock_offset("n1", 1.0))


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
def test_generated_scripts_pass_shellcheck(tmp_path: Path) -> None:
    scripts = {
        "netem-start": netem.start_script(list(HOSTS.values())[1:], 50, 5),
        "netem-heal": netem.heal_script(list(HOSTS.values())[1:]),
        "clock-step": step_clock_script("/usr/bin/python3", -1.5, home=True, mark="/run/m"),
    }
    for name, body in scripts.items():
        path = tmp_path / f"{name}.sh"
        path.write_text("#!/bin/bash\n" + body + "\n")
        found = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
        assert found.returncode == 0, f"{name}:\n{body}\n{found.stdout}"
