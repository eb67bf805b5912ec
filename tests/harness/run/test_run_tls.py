"""`harness run --tls` on the `local` provider: the workload, the status queries and the
nemeses all speak TLS to a cluster that refuses plaintext, and the run says it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.run.test_run_local import brokers_under, harness_run, latest_run, results_of


def tls_sections(run_dir: Path) -> dict[str, Any]:
    """Each node's `tls:` section, from the cluster.yaml the run collected."""
    sections = {}
    for config in sorted((run_dir / "nodes").glob("*/cluster.yaml")):
        sections[config.parent.name] = yaml.safe_load(config.read_text()).get("tls")
    return sections


def test_log_workload_under_kill_on_a_tls_cluster(tmp_path: Path) -> None:
    done = harness_run(
        tmp_path, "--tls", "--workload", "log", "--nemesis", "kill", "--seed", "11",
        "--time-limit", "4",
    )  # fmt: skip
    run_dir = latest_run(tmp_path)
    results = results_of(run_dir)
    assert results["valid"] is True, done.stdout + done.stderr
    assert done.returncode == 0
    # The nodes served TLS only: a plaintext client was refused while the run went on...
    assert results["tls"]["plaintext_client"] == "tls-required"
    assert results["tls"]["client_auth"] == "cert"
    sections = tls_sections(run_dir)
    assert sorted(sections) == ["n1", "n2", "n3"]
    certs = run_dir / "certs"
    for node, section in sections.items():
        assert section is not None, f"{node} ran without TLS"
        assert section["client_auth"] == "cert"
        assert section["cert"] == str(certs / f"node-{node}.crt")
        assert section["superusers"] == ["harness"]
    # ...so every acknowledged op went over TLS, with the harness's certificate.
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert any(op["f"] == "send" and op["type"] == "ok" for op in history)
    assert not any(op.get("error") in ("tls-failed", "tls-required") for op in history)
    kills = [op for op in history if op["process"] == "nemesis" and op["type"] == "info"]
    assert any(op["f"] == "start" and op["value"].get("targets") for op in kills)
    spec = json.loads((run_dir / "test.json").read_text())
    assert spec["tls"]["certs"] == str(certs)
    assert "TLS, clients authenticated by cert" in (run_dir / "index.html").read_text()
    assert brokers_under(spec["inventory"]["nodes"][0]["root_dir"]) == []


@pytest.mark.slow
def test_register_workload_under_membership_changes_with_password_auth(tmp_path: Path) -> None:
    done = harness_run(
        tmp_path, "--tls", "--tls-client-auth", "password", "--workload", "register",
        "--nemesis", "membership", "--seed", "2",
    )  # fmt: skip
    run_dir = latest_run(tmp_path)
    results = results_of(run_dir)
    assert results["valid"] is True, done.stdout + done.stderr
    assert results["tls"]["client_auth"] == "password"
    assert results["tls"]["plaintext_client"] == "tls-required"
    assert all(s is not None and "harness" in s["users"] for s in tls_sections(run_dir).values())
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    changes = [op["value"] for op in history if op["process"] == "nemesis" and op["type"] == "info"]
    # The admin calls went through: a voter was removed and added back, over TLS.
    assert any(c["action"] == "remove" and c["targets"] and not c["errors"] for c in changes)
    assert any(c["action"] == "add" and c["targets"] and not c["errors"] for c in changes)


def test_tls_client_auth_without_tls_is_refused(tmp_path: Path) -> None:
    done = harness_run(tmp_path, "--tls-client-auth", "password", timeout=60)
    assert done.returncode == 2
    assert "--tls-client-auth needs --tls" in done.stderr
    assert not (tmp_path / "reports").exists()
