"""A node's client-side security: its TLS context, how principals are found, who is a superuser.

Built once per node from the `tls:` configuration. Users stored through Raft (the broker's
replicated state) win over the bootstrap users of the configuration, so a password changed
with `wiber user add` replaces the configured one everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import ssl
from collections.abc import Callable
from typing import Any

from wiber.broker.access import Credential
from wiber.security.scram import DEFAULT_ITERATIONS, ScramServer, parse_credential
from wiber.security.tls import TlsFiles, common_name, peer_certificate, server_context

ANONYMOUS = "anonymous"
CLIENT_AUTH_MODES = ("none", "cert", "password", "any")


class ClientSecurity:
    def __init__(
        self,
        files: TlsFiles,
        client_auth: str,
        superusers: tuple[str, ...],
        bootstrap_users: tuple[tuple[str, str], ...],
        stored_user: Callable[[str], Credential | None],
    ) -> None:
        if client_auth not in CLIENT_AUTH_MODES:
            raise ValueError(f"client_auth {client_auth!r} is not one of {CLIENT_AUTH_MODES}")
        self.client_auth = client_auth
        self.context: ssl.SSLContext = server_context(
            files, require_client_cert=client_auth == "cert"
        )
        self.superusers = frozenset(superusers)
        self._bootstrap = {name: parse_credential(text) for name, text in bootstrap_users}
        self._stored_user = stored_user
        self._secret = secrets.token_bytes(32)

    def lookup(self, name: str) -> Credential | None:
        return self._stored_user(name) or self._bootstrap.get(name)

    def certificate_principal(self, ssl_object: Any) -> str | None:
        """The principal a verified client certificate names, if certificates count here."""
        if self.client_auth not in ("cert", "any"):
            return None
        cert = peer_certificate(ssl_object)
        return None if cert is None else common_name(cert)

    def initial_principal(self, ssl_object: Any) -> str | None:
        """Who a new connection is before any `Authenticate` (None: must authenticate)."""
        if self.client_auth == "none":
            return ANONYMOUS
        return self.certificate_principal(ssl_object)

    def scram_server(self) -> ScramServer:
        if self.client_auth not in ("password", "any"):
            raise ValueError(f"passwords are not accepted here (client_auth {self.client_auth})")
        return ScramServer(self.lookup, secrets.token_urlsafe(18), self._decoy)

    def _decoy(self, name: str) -> Credential:
        # The same fake salt for the same unknown name, so that probing twice reveals nothing.
        digest = hmac.new(self._secret, name.encode(), hashlib.sha256).digest()
        return Credential(digest[:16], DEFAULT_ITERATIONS, digest, digest)
