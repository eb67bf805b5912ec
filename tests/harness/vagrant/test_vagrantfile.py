"""The shipped Vagrantfile: what every machine gets, and `vagrant validate` on it.

The Vagrantfile is evaluated by Ruby against a recording stand-in (vagrantfile_probe.rb), so
the address plan and the provisioning steps are checked without Vagrant; `vagrant validate -p`
then checks it against Vagrant itself (Debian package `vagrant`) when that is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cluster.vagrant import VAGRANT_DIR, address_plan

PROBE = Path(__file__).with_name("vagrantfile_probe.rb")
VAGRANTFILE = VAGRANT_DIR / "Vagrantfile"


def probe(**env: str) -> list[dict[str, Any]]:
    if not shutil.which("ruby"):
        pytest.skip("ruby is not installed (it comes with Debian's vagrant package)")
    done = subprocess.run(
        ["ruby", str(PROBE), str(VAGRANTFILE)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"Vagrantfile did not load:\n{done.stderr}")
    records: list[dict[str, Any]] = json.loads(done.stdout)
    return records


def machines(records: list[dict[str, Any]]) -> list[str]:
    return list(
        dict.fromkeys(
            r["path"][0][len("machine:") :] for r in records if r["path"][0].startswith("machine:")
        )
    )


def calls(records: list[dict[str, Any]], path: list[str], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r["path"] == path and r.get("call") == name]


def test_a_bad_node_count_or_network_stops_the_vagrantfile() -> None:
    with pytest.raises(AssertionError, match="WIBER_NODES must be between 1 and 200"):
        probe(WIBER_NODES="0")
    with pytest.raises(AssertionError, match="WIBER_NETWORK must be three octets"):
        probe(WIBER_NETWORK="10.213.7.0")


def test_node_count_comes_from_wiber_nodes_and_defaults_to_five() -> None:
    assert machines(probe()) == ["n1", "n2", "n3", "n4", "n5"]
    assert machines(probe(WIBER_NODES="3")) == ["n1", "n2", "n3"]


def test_every_provider_puts_a_node_on_the_same_private_address() -> None:
    records = probe(WIBER_NODES="3", WIBER_NETWORK="10.213.7")
    plan = address_plan(3, "10.213.7")
    for name, ip in plan.items():
        vm = ["machine:" + name, "vm"]
        for hypervisor in ("libvirt", "virtualbox"):
            nets = calls(records, [*vm, f"provider:{hypervisor}", "override", "vm"], "network")
            assert [(n["args"], n["kw"]) for n in nets] == [(["private_network"], {"ip": ip})]
        lxc = calls(records, [*vm, "provider:lxc"], "customize")
        assert ["net.0.ipv4.address", f"{ip}/24"] in [c["args"] for c in lxc]


def test_every_node_is_provisioned_with_the_whole_plan_and_its_own_id() -> None:
    records = probe(WIBER_NODES="3", WIBER_NETWORK="10.213.7")
    plan = ",".join(f"{n}={a}" for n, a in address_plan(3, "10.213.7").items())
    for name in ("n1", "n2", "n3"):
        steps = calls(records, ["machine:" + name, "vm"], "provision")
        by_name = {s["args"][0]: s["kw"] for s in steps}
        assert by_name["node-config"]["args"] == [name, plan]
        assert by_name["system"]["path"] == "provision/system.sh"
        for step in steps:
            if "path" in step["kw"]:
                assert (VAGRANT_DIR / step["kw"]["path"]).is_file()


def test_key_and_wheel_steps_appear_only_when_their_files_exist(tmp_path: Path) -> None:
    absent = probe(
        WIBER_NODES="1",
        WIBER_SSH_PUBKEY=str(tmp_path / "no.pub"),
        WIBER_WHEELHOUSE=str(tmp_path / "none"),
    )
    names = [s["args"][0] for s in calls(absent, ["machine:n1", "vm"], "provision")]
    assert names == ["clean-upload", "system", "node-config"]

    (tmp_path / "k.pub").write_text("ssh-ed25519 AAAA test\n")
    (tmp_path / "wheels").mkdir()
    present = probe(
        WIBER_NODES="1",
        WIBER_SSH_PUBKEY=str(tmp_path / "k.pub"),
        WIBER_WHEELHOUSE=str(tmp_path / "wheels"),
    )
    steps = {s["args"][0]: s["kw"] for s in calls(present, ["machine:n1", "vm"], "provision")}
    assert list(steps) == [
        "clean-upload",
        "system",
        "harness-key",
        "ssh",
        "wheelhouse",
        "wiber",
        "node-config",
    ]
    assert steps["harness-key"]["source"] == str(tmp_path / "k.pub")
    assert steps["ssh"]["args"] == [steps["harness-key"]["destination"]]
    assert steps["wiber"]["args"] == [steps["wheelhouse"]["destination"]]


def vagrant_validate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("vagrant"):
        pytest.skip("vagrant is not installed (Debian package `vagrant`)")
    return subprocess.run(
        ["vagrant", "validate", *args],
        cwd=VAGRANT_DIR,
        env={**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_vagrant_validate_accepts_the_vagrantfile() -> None:
    # -p (--ignore-provider): the libvirt and lxc plugins need not be installed to validate.
    done = vagrant_validate("-p", WIBER_NODES="3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout
