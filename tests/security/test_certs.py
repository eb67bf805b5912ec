"""Certificates: what `wiber certs` issues, what TLS accepts, and the node-id check."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from wiber.runtime.config import ConfigError, load_config
from wiber.security import certs
from wiber.security.tls import (
    TlsError,
    TlsFiles,
    certificate_names,
    client_context,
    common_name,
    names_node,
    server_context,
)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_node_certificate_names_its_node_and_hosts(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    issued = certs.issue_node(tmp_path, "n1", ("broker1.example",))
    cert = load(issued.cert)
    assert common_name(cert) == "n1"
    assert {"n1", "localhost", "broker1.example"} <= certificate_names(cert)
    assert names_node(cert, "n1")
    assert not names_node(cert, "n2")
    assert not names_node(None, "n1")
    assert issued.key.stat().st_mode & 0o077 == 0


def test_a_client_certificate_names_its_principal_only(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    cert = load(certs.issue_client(tmp_path, "alice").cert)
    assert certificate_names(cert) == {"alice"}


def test_certificates_verify_against_their_own_ca_only(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    certs.init_ca(ours)
    certs.init_ca(theirs)
    good = load(certs.issue_node(ours, "n1").cert)
    foreign = load(certs.issue_node(theirs, "n1").cert)
    ca = load(ours / "ca.crt")
    good.verify_directly_issued_by(ca)
    with pytest.raises(InvalidSignature):
        foreign.verify_directly_issued_by(ca)


def test_the_ca_is_never_overwritten(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    with pytest.raises(certs.CertError, match="already holds a CA"):
        certs.init_ca(tmp_path)
    with pytest.raises(certs.CertError, match="no CA"):
        certs.issue_client(tmp_path / "empty", "x")


def test_contexts_speak_tls_1_3_only(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    node = certs.issue_node(tmp_path, "n1")
    files = TlsFiles(tmp_path / "ca.crt", node.cert, node.key)
    server = server_context(files, require_client_cert=True)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_3
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert client_context(files).minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(TlsError):
        server_context(
            TlsFiles(tmp_path / "missing.crt", node.cert, node.key), require_client_cert=True
        )


def write_cluster(tmp_path: Path, tls: object) -> Path:
    path = tmp_path / "cluster.yaml"
    nodes = [{"id": "n1", "host": "127.0.0.1", "client_port": 7070}]
    path.write_text(yaml.safe_dump({"tls": tls, "nodes": nodes}))
    return path


def test_the_tls_section_resolves_per_node_files(tmp_path: Path) -> None:
    certs.init_ca(tmp_path / "certs")
    certs.issue_node(tmp_path / "certs", "n1")
    tls = {
        "ca": "certs/ca.crt",
        "cert": "certs/node-{id}.crt",
        "key": "certs/node-{id}.key",
        "client_auth": "password",
        "superusers": ["root"],
    }
    config = load_config(write_cluster(tmp_path, tls), "n1")
    assert config.tls is not None
    assert config.tls.cert == tmp_path / "certs" / "node-n1.crt"
    assert config.tls.client_auth == "password"
    assert config.tls.superusers == ("root",)


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"ca": "x"}, "tls: missing cert, key"),
        ({"ca": "x", "cert": "y", "key": "z"}, "tls.ca: no such file"),
        (
            {"ca": "ca.crt", "cert": "ca.crt", "key": "ca.key", "client_auth": "maybe"},
            "client_auth",
        ),
        ({"ca": "ca.crt", "cert": "ca.crt", "key": "ca.key", "colour": 1}, "unknown key"),
        ({"ca": "ca.crt", "cert": "ca.crt", "key": "ca.key", "users": {"a": "pw"}}, "tls.users"),
    ],
)
def test_a_bad_tls_section_is_a_clear_error(tmp_path: Path, tls: object, message: str) -> None:
    certs.init_ca(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_config(write_cluster(tmp_path, tls), "n1")
