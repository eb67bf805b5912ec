"""`harness cluster up --tls --start`, `status` and `down` with the local provider."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.tls import plaintext_refusal
from tests.harness.infra.helpers import run
from tests.harness.infra.test_cluster_command import alive, harness


def test_up_tls_start_status_down(tmp_path: Path) -> None:
    workdir = tmp_path / "c"
    up = harness(
        "up", "--provider", "local", "--nodes", "3", "--dir", str(workdir), "--tls", "--start"
    )
    assert up.returncode == 0, up.stderr
    assert f"export WIBER_TLS_CERT={workdir / 'certs' / 'client-harness.crt'}" in up.stdout
    try:
        inventory = yaml.safe_load((workdir / "inventory.yaml").read_text())
        assert inventory["tls"] == {"certs": str(workdir / "certs"), "client_auth": "cert"}
        status = harness("status", "--dir", str(workdir), "--json")
        assert status.returncode == 0, status.stderr
        rows = json.loads(status.stdout)
        # Roles come from the brokers themselves: the status query spoke TLS with a certificate
        # (a plaintext one would see every node `unreachable`).
        roles = {r["role"] for r in rows}
        assert roles <= {"leader", "follower", "candidate", "pre-candidate"}, rows
        assert run(plaintext_refusal(rows[0]["address"])) == "tls-required"
    finally:
        down = harness("down", "--dir", str(workdir))
    assert down.returncode == 0, down.stderr
    assert [r["pid"] for r in rows if alive(r["pid"])] == []
    assert not (workdir / "certs").exists()
