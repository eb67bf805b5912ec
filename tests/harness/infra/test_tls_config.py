"""`harness.tls` and `WiberDB.configure` with TLS: certificates, uploads, the `tls:` section.

No broker is started: each node's cluster.yaml is read back with Wiber's own config loader,
which checks every file it names, so a section the broker would refuse fails here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control.local import LocalRemote
from harness.db import WiberDB
from harness.tls import NODE_DIR, PRINCIPAL, ClusterTls, TlsSetupError, plaintext_refusal
from harness.workloads.runner import check_tls_in_force
from tests.harness.infra.helpers import run
from wiber.codec import messages as m
from wiber.codec.framed import Frame, encode
from wiber.runtime.config import load_config
from wiber.security.scram import derive, parse_credential


def inventory(tmp_path: Path, *, shared_fs: bool) -> Inventory:
    nodes = tuple(
        NodeSpec(
            name=f"n{i}",
            host=host,
            ssh_port=0,
            user="",
            root_dir=str(tmp_path / "nodes" / f"n{i}"),
            client_port=7000 + 10 * i,
            peer_port=7001 + 10 * i,
        )
        for i, host in ((1, "127.0.0.1"), (2, "10.9.8.7"))
    )
    return Inventory("local", nodes, {"shared_fs": shared_fs})


def configure(inv: Inventory, tls: ClusterTls) -> WiberDB:
    db = WiberDB(inv, LocalRemote(), install_mode="control", tls=tls, faketime=False)
    run(db.configure())
    return db


@pytest.mark.parametrize("shared_fs", [True, False])
def test_every_node_gets_a_tls_section_wiber_accepts(tmp_path: Path, shared_fs: bool) -> None:
    inv = inventory(tmp_path, shared_fs=shared_fs)
    tls = ClusterTls.create(tmp_path / "certs", inv.nodes)
    configure(inv, tls)
    for node in inv.nodes:
        config = load_config(Path(node.root_dir) / "cluster.yaml", node.name)
        assert config.tls is not None, f"{node.name}: no tls section"
        assert config.tls.client_auth == "cert"
        assert config.tls.superusers == (PRINCIPAL,)
        assert config.tls.cert.name == f"node-{node.name}.crt"
        # Sharing our filesystem: the run's own files; else a copy uploaded to the node.
        expected = tls.directory if shared_fs else Path(node.root_dir) / NODE_DIR
        assert config.tls.ca.parent == expected
        assert config.tls.ca.read_bytes() == (tls.directory / "ca.crt").read_bytes()
        assert stat.S_IMODE(config.tls.key.stat().st_mode) == 0o600
        if not shared_fs:  # a node holds its own key only
            assert sorted(p.name for p in expected.iterdir()) == [
                "ca.crt",
                f"node-{node.name}.crt",
                f"node-{node.name}.key",
            ]
    assert shared_fs or not (Path(inv.nodes[0].root_dir) / NODE_DIR / "ca.key").exists()


def test_node_certificates_name_the_node_and_its_host(tmp_path: Path) -> None:
    inv = inventory(tmp_path, shared_fs=True)
    tls = ClusterTls.create(tmp_path / "certs", inv.nodes)
    cert = x509.load_pem_x509_certificate((tls.directory / "node-n2.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "n2" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.9.8.7") in san.get_values_for_type(x509.IPAddress)
    client = x509.load_pem_x509_certificate((tls.directory / "client-harness.crt").read_bytes())
    assert client.subject.rfc4514_string() == f"CN={PRINCIPAL}"
    credentials = tls.credentials
    assert credentials.cert == str(tls.directory / "client-harness.crt")
    assert credentials.user is None


def test_password_auth_bootstraps_the_harness_user(tmp_path: Path) -> None:
    inv = inventory(tmp_path, shared_fs=False)
    tls = ClusterTls.create(tmp_path / "certs", inv.nodes, "password")
    configure(inv, tls)
    config = load_config(Path(inv.nodes[0].root_dir) / "cluster.yaml", "n1")
    assert config.tls is not None
    assert config.tls.client_auth == "password"
    users = dict(config.tls.users)
    credentials = tls.credentials
    assert credentials.user == PRINCIPAL
    assert credentials.cert is None
    assert credentials.password is not None
    # The verifier in the cluster file is the password the clients will use, and only that.
    stored = parse_credential(users[PRINCIPAL])
    assert derive(credentials.password, stored.salt, stored.iterations) == stored
    assert derive(credentials.password + "x", stored.salt, stored.iterations) != stored
    assert credentials.password not in (Path(inv.nodes[0].root_dir) / "cluster.yaml").read_text()


def test_a_plaintext_run_writes_no_tls_section(tmp_path: Path) -> None:
    inv = inventory(tmp_path, shared_fs=False)
    db = WiberDB(inv, LocalRemote(), install_mode="control", faketime=False)
    run(db.configure())
    assert db.credentials is None
    assert load_config(Path(inv.nodes[0].root_dir) / "cluster.yaml", "n1").tls is None
    assert not (Path(inv.nodes[0].root_dir) / NODE_DIR).exists()


def test_a_tls_inventory_entry_round_trips_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    inv = inventory(tmp_path, shared_fs=True)
    tls = ClusterTls.create(tmp_path / "certs", inv.nodes, "password")
    assert ClusterTls.from_json(tls.to_json()) == tls
    with pytest.raises(TlsSetupError, match="no CA"):
        ClusterTls.from_json({"certs": str(tmp_path / "elsewhere")})
    with pytest.raises(TlsSetupError, match="client auth"):
        ClusterTls.create(tmp_path / "more", inv.nodes, "none")


async def _serve_once(reply: bytes) -> tuple[asyncio.Server, str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (encode(Frame(1, m.HelloOk(1, "n1"))), "accepted"),
        (encode(Frame(0, m.Error("tls-required", "TLS only", definite=True))), "tls-required"),
        (b"", "closed"),
    ],
)
def test_the_plaintext_probe_tells_a_refusal_from_a_node_serving_plaintext(
    reply: bytes, expected: str
) -> None:
    async def probe() -> str:
        server, address = await _serve_once(reply)
        async with server:
            return await plaintext_refusal(address)

    assert run(probe()) == expected


def test_a_run_whose_nodes_serve_plaintext_stops_before_its_workload(tmp_path: Path) -> None:
    async def check() -> None:
        server, address = await _serve_once(encode(Frame(1, m.HelloOk(1, "n1"))))
        host, port = address.split(":")
        node = NodeSpec(
            "n1", host, ssh_port=0, user="", root_dir=str(tmp_path), client_port=int(port)
        )
        db = WiberDB(Inventory("local", (node,), {}), LocalRemote(), install_mode="control")
        async with server:
            await check_tls_in_force(db)

    with pytest.raises(RuntimeError, match=r"TLS is not in force.*accepted"):
        run(check())
