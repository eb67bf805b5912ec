"""TLS contexts (TLS 1.3 only, mutual authentication) and the identities certificates carry.

Peers: both ends present a certificate signed by the cluster CA, and each end checks that the
other's certificate names the node id it claims (CN or a DNS SAN), so a certificate for n2
cannot be used to speak as n1. Hostname checking is off because the node id, not the address,
is the identity that matters inside the cluster.

Clients: the node presents its certificate; the client checks it against the CA (and, unless
`check_hostname` is off, against the address it dialled). A client may present a certificate
of its own, whose subject CN becomes its principal.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID


class TlsError(Exception):
    """TLS is misconfigured (missing or unreadable files)."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA to trust, and this side's certificate and key (optional for clients)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None


def _base(purpose: ssl.Purpose, files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        context.load_verify_locations(cafile=str(files.ca))
        if files.cert is not None:
            context.load_cert_chain(str(files.cert), None if files.key is None else str(files.key))
    except (OSError, ssl.SSLError) as e:
        raise TlsError(f"cannot load TLS files {files}: {e}") from None
    return context


def server_context(files: TlsFiles, *, require_client_cert: bool) -> ssl.SSLContext:
    """A listener's context; peers always require a certificate, clients may offer one."""
    if files.cert is None:
        raise TlsError("a TLS listener needs a certificate and key")
    context = _base(ssl.Purpose.CLIENT_AUTH, files)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def client_context(files: TlsFiles, *, check_hostname: bool = True) -> ssl.SSLContext:
    context = _base(ssl.Purpose.SERVER_AUTH, files)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_certificate(transport_info: Any) -> x509.Certificate | None:
    """The verified certificate the other end presented (from `get_extra_info('ssl_object')`)."""
    if not isinstance(transport_info, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = transport_info.getpeercert(binary_form=True)
    return None if der is None else x509.load_der_x509_certificate(der)


def common_name(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


def certificate_names(cert: x509.Certificate) -> set[str]:
    """The subject CN and every DNS SAN: the names a certificate vouches for."""
    names: set[str] = set()
    cn = common_name(cert)
    if cn is not None:
        names.add(cn)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return names
    names.update(san.value.get_values_for_type(x509.DNSName))
    return names


def names_node(cert: x509.Certificate | None, node_id: str) -> bool:
    """Whether `cert` vouches for node `node_id` (CN or DNS SAN)."""
    return cert is not None and node_id in certificate_names(cert)
