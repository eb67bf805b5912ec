"""`wiber certs init|issue`: a cluster CA and the node and client certificates it signs.

Layout of a certificate folder (what `tls:` in the cluster file and the clients point at):

    ca.crt, ca.key                  the cluster CA (keep ca.key offline in production)
    node-<id>.crt, node-<id>.key    a node: CN and a DNS SAN are the node id, plus its hosts
    client-<name>.crt/.key          a client: CN is the principal it authenticates as

Keys are ECDSA P-256 and written with mode 0600. Certificates last `days` (default a year).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DAYS = 365


class CertError(Exception):
    """A certificate folder is missing, incomplete or inconsistent."""


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def ca_paths(directory: Path) -> Issued:
    return Issued(directory / "ca.crt", directory / "ca.key")


def node_paths(directory: Path, node_id: str) -> Issued:
    return Issued(directory / f"node-{node_id}.crt", directory / f"node-{node_id}.key")


def client_paths(directory: Path, name: str) -> Issued:
    return Issued(directory / f"client-{name}.crt", directory / f"client-{name}.key")


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def init_ca(directory: Path, *, name: str = "Wiber cluster CA", days: int = 3650) -> Issued:
    """Create the CA in `directory`; refuses to overwrite an existing one."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = ca_paths(directory)
    if paths.cert.exists() or paths.key.exists():
        raise CertError(f"{directory} already holds a CA ({paths.cert.name})")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(paths.key, key)
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    paths = ca_paths(directory)
    try:
        cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
        key = serialization.load_pem_private_key(paths.key.read_bytes(), password=None)
    except OSError as e:
        raise CertError(
            f"no CA in {directory}: {e.strerror} ({e.filename}); run `wiber certs init`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{paths.key}: not an EC key")
    return cert, key


def issue_node(
    directory: Path, node_id: str, hosts: tuple[str, ...] = (), *, days: int = DEFAULT_DAYS
) -> Issued:
    """A node certificate: server and client auth, names = node id, localhost and `hosts`."""
    names = list(dict.fromkeys([node_id, "localhost", "127.0.0.1", *hosts]))
    return _issue(directory, node_paths(directory, node_id), node_id, names, days, server=True)


def issue_client(directory: Path, name: str, *, days: int = DEFAULT_DAYS) -> Issued:
    """A client certificate whose subject CN is the principal `name`."""
    return _issue(directory, client_paths(directory, name), name, [], days, server=False)


def _issue(
    directory: Path, paths: Issued, common_name: str, names: list[str], days: int, *, server: bool
) -> Issued:
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(paths.key, key)
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def ensure_cluster_certs(directory: Path, node_ids: list[str], clients: list[str]) -> None:
    """Create whatever of the CA, node and client certificates is missing (for `cluster up`)."""
    if not ca_paths(directory).cert.exists():
        init_ca(directory)
    for node_id in node_ids:
        if not node_paths(directory, node_id).cert.exists():
            issue_node(directory, node_id)
    for name in clients:
        if not client_paths(directory, name).cert.exists():
            issue_client(directory, name)
