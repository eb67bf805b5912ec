"""The provisioning scripts on a throwaway root: a chroot of a scratch folder inside new mount,
network, UTS and PID namespaces (throwaway-root.sh), seeing this Debian 12's /usr and package
database read-only. Package installation is skipped by its flag (WIBER_SKIP_PACKAGES=1: there
is no mirror for a scratch root); every other step runs for real, including installing Wiber
from a wheelhouse built here and starting the installed brokers from the written cluster file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.cluster.vagrant import VAGRANT_DIR

THROWAWAY = Path(__file__).with_name("throwaway-root.sh")
PROVISION = VAGRANT_DIR / "provision"
PLAN = "n1=10.213.9.11,n2=10.213.9.12"

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "chroot", "ip")),
        reason="needs root with unshare, chroot and ip",
    ),
]

PROVISION_ALL = f"""
set -euo pipefail
export WIBER_SKIP_PACKAGES=1
bash /provision/system.sh
bash /provision/ssh.sh /harness_key.pub
bash /provision/wiber.sh /wheelhouse
bash /provision/node-config.sh n2 {PLAN}
"""

# Files the scripts own; a second run must leave every byte and timestamp as it was.
OWNED = ("etc/wiber", "etc/ssh/sshd_config.d", "root/.ssh", "opt/wiber", "usr-local")


@dataclass(frozen=True)
class Root:
    path: Path
    wheelhouse: Path

    def run(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        (self.path / "scenario.sh").write_text(script)
        return subprocess.run(
            ["unshare", "--mount", "--net", "--uts", "--pid", "--fork", str(THROWAWAY),
             str(self.path), str(PROVISION), str(self.wheelhouse), "/bin/bash", "/scenario.sh"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )  # fmt: skip

    def snapshot(self) -> dict[str, tuple[str, int]]:
        seen: dict[str, tuple[str, int]] = {}
        for top in OWNED:
            for path in sorted((self.path / top).rglob("*")):
                info = path.lstat()
                if path.is_symlink():
                    what = "-> " + os.readlink(path)
                elif path.is_file():
                    what = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    continue
                seen[str(path.relative_to(self.path))] = (what, info.st_mtime_ns)
        return seen


@dataclass(frozen=True)
class Provisioned:
    root: Root
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    before: dict[str, tuple[str, int]]
    after: dict[str, tuple[str, int]]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Root:
    from harness.control.wheels import build_wheelhouse

    path = tmp_path_factory.mktemp("node-root")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "harness", "-f", str(path / "k")],
        check=True,
        timeout=60,
    )
    (path / "harness_key.pub").write_text((path / "k.pub").read_text())
    return Root(path, build_wheelhouse())


@pytest.fixture(scope="module")
def provisioned(root: Root) -> Provisioned:
    first = root.run(PROVISION_ALL)
    assert first.returncode == 0, first.stdout + first.stderr
    before = root.snapshot()
    second = root.run(PROVISION_ALL)
    assert second.returncode == 0, second.stdout + second.stderr
    return Provisioned(root, first, second, before, root.snapshot())


def test_provisioning_writes_the_node_files(provisioned: Provisioned) -> None:
    path = provisioned.root.path
    cluster = yaml.safe_load((path / "etc/wiber/cluster.yaml").read_text())
    assert cluster["nodes"] == [
        {"id": "n1", "host": "10.213.9.11", "client_port": 7070, "peer_port": 7071},
        {"id": "n2", "host": "10.213.9.12", "client_port": 7070, "peer_port": 7071},
    ]
    assert (path / "etc/wiber/node-id").read_text() == "n2\n"
    key = (path / "harness_key.pub").read_text().strip()
    assert (path / "root/.ssh/authorized_keys").read_text().splitlines() == [key]
    assert (path / "root/.ssh/authorized_keys").stat().st_mode & 0o777 == 0o600
    drop_in = (path / "etc/ssh/sshd_config.d/wiber.conf").read_text()
    assert "PermitRootLogin prohibit-password" in drop_in
    tools = dict(
        line.split("=", 1)
        for line in (path / "etc/wiber/tools").read_text().splitlines()
        if not line.startswith("#")
    )
    assert set(tools) == {"netem", "iptables", "chronyc", "libfaketime"}
    assert tools["netem"] in {"yes", "no"}
    assert os.readlink(path / "usr-local/bin/wiber") == "/opt/wiber/venv/bin/wiber"
    assert "wiber: installed" in provisioned.first.stdout


def test_a_second_run_changes_nothing(provisioned: Provisioned) -> None:
    assert provisioned.after == provisioned.before
    out = provisioned.second.stdout
    assert "ssh: harness key already authorized" in out
    assert "wiber: already installed from these wheels" in out
    assert "node-config: /etc/wiber/cluster.yaml unchanged" in out


def test_nothing_lands_on_the_host(provisioned: Provisioned) -> None:
    assert not Path("/etc/ssh/sshd_config.d/wiber.conf").exists()
    assert not Path("/opt/wiber").exists()
    assert not Path("/usr/local/bin/wiber").exists()


def test_installed_brokers_form_a_cluster_from_the_written_config(
    provisioned: Provisioned,
) -> None:
    # Both plan addresses live on this namespace's loopback, so n1 and n2 run side by side
    # from the one cluster file; their data goes to /var/lib/wiber/data/<id>.
    script = """
set -euo pipefail
ip addr add 10.213.9.11/32 dev lo
ip addr add 10.213.9.12/32 dev lo
export WIBER_FSYNC=never
has_leader='import json, sys; sys.exit("leader" not in [n["role"] for n in json.load(sys.stdin)])'
for id in n1 n2; do
    wiber broker --config /etc/wiber/cluster.yaml --id $id >/tmp/$id.log 2>&1 &
done
for _ in $(seq 120); do
    if wiber cluster status --bootstrap 10.213.9.11:7070,10.213.9.12:7070 --json \\
        >/tmp/status.json 2>/dev/null && python3 -c "$has_leader" </tmp/status.json; then
        cat /tmp/status.json
        exit 0
    fi
    sleep 0.5
done
cat /tmp/n1.log /tmp/n2.log >&2
exit 1
"""
    done = provisioned.root.run(script, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    nodes = json.loads(done.stdout)
    assert sorted(n["id"] for n in nodes) == ["n1", "n2"]
    assert [n["role"] for n in nodes].count("leader") == 1
    assert (provisioned.root.path / "var/lib/wiber/data/n1").is_dir()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("bash /provision/node-config.sh n3 " + PLAN, "n3 is not in the plan"),
        ("bash /provision/node-config.sh n1 n1=10.213.9", "bad plan entry 'n1=10.213.9'"),
        ("bash /provision/node-config.sh 'n 1' " + PLAN, "bad node id"),
        ("echo nonsense >/bad.pub; bash /provision/ssh.sh /bad.pub", "not hold an OpenSSH"),
        ("mkdir -p /empty; bash /provision/wiber.sh /empty", "no wiber-*.whl in /empty"),
    ],
)
def test_bad_input_is_refused_with_a_reason(root: Root, command: str, message: str) -> None:
    done = root.run(command, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr
