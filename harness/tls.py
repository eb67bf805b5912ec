"""TLS for the harness's clusters: certificates made on the control host, the nodes' `tls:`
section, and the credentials every client the harness makes connects with.

`harness run --tls` (and `harness cluster up --tls`) makes, with `wiber.security.certs`, a
cluster CA, one certificate per node (its id as CN and DNS SAN, its inventory host as a SAN,
because clients check the address they dial) and a client certificate for the principal
`harness`, a superuser, so that workloads, status queries and nemeses may do everything. With
`client_auth: password` the harness authenticates by SCRAM instead, as a bootstrap user of the
cluster file whose password is kept beside the certificates.

The folder is the run's store (`<run>/certs`) or the `harness cluster` folder; nodes that do
not share the control host's filesystem get their own files uploaded to `<root_dir>/certs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cluster.inventory import NodeSpec
from wiber.client.connection import Credentials, parse_address
from wiber.codec import MAGIC
from wiber.codec import messages as m
from wiber.codec.framed import Frame, FrameDecoder, encode
from wiber.security.certs import (
    ca_paths,
    client_paths,
    init_ca,
    issue_client,
    issue_node,
    node_paths,
)
from wiber.security.scram import derive, format_credential

PRINCIPAL = "harness"  # the superuser the harness's own clients authenticate as
CLIENT_AUTH = ("cert", "password")
NODE_DIR = "certs"  # under a node's root_dir, when the files are uploaded
PASSWORD_FILE = f"client-{PRINCIPAL}.password"
VERIFIER_FILE = f"client-{PRINCIPAL}.scram"


class TlsSetupError(Exception):
    pass


@dataclass(frozen=True)
class ClusterTls:
    """The TLS material of one cluster, in `directory` on the control host."""

    directory: Path
    client_auth: str = "cert"

    @classmethod
    def create(
        cls, directory: Path, nodes: Sequence[NodeSpec], client_auth: str = "cert"
    ) -> ClusterTls:
        if client_auth not in CLIENT_AUTH:
            raise TlsSetupError(f"client auth {client_auth!r} is not one of {list(CLIENT_AUTH)}")
        directory = directory.resolve()
        init_ca(directory)
        for node in nodes:
            issue_node(directory, node.name, (node.host,))
        issue_client(directory, PRINCIPAL)
        if client_auth == "password":
            password = secrets.token_urlsafe(18)
            verifier = format_credential(derive(password, secrets.token_bytes(16)))
            _write_secret(directory / PASSWORD_FILE, password)
            _write_secret(directory / VERIFIER_FILE, verifier)
        return cls(directory, client_auth)

    @classmethod
    def from_json(cls, raw: Any) -> ClusterTls:
        """What `to_json` wrote (into an inventory or test.json)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("certs"), str):
            raise TlsSetupError(f"tls: expected a mapping with `certs`, got {raw!r}")
        tls = cls(Path(raw["certs"]), str(raw.get("client_auth", "cert")))
        if not ca_paths(tls.directory).cert.is_file():
            raise TlsSetupError(f"tls: no CA in {tls.directory}")
        return tls

    def to_json(self) -> dict[str, Any]:
        return {"certs": str(self.directory), "client_auth": self.client_auth}

    @property
    def credentials(self) -> Credentials:
        """How the harness's clients connect: TLS to the CA, as the `harness` superuser."""
        ca = str(ca_paths(self.directory).cert)
        if self.client_auth == "password":
            password = (self.directory / PASSWORD_FILE).read_text().strip()
            return Credentials(ca=ca, user=PRINCIPAL, password=password)
        client = client_paths(self.directory, PRINCIPAL)
        return Credentials(ca=ca, cert=str(client.cert), key=str(client.key))

    def node_files(self, node: NodeSpec) -> dict[str, Path]:
        """The files a node needs, by the name they have in its certificate folder."""
        own = node_paths(self.directory, node.name)
        return {
            "ca.crt": ca_paths(self.directory).cert,
            own.cert.name: own.cert,
            own.key.name: own.key,
        }

    def section(self, node: NodeSpec, folder: str) -> dict[str, Any]:
        """The `tls:` section of `node`'s cluster file, its files being in `folder`."""
        own = node_paths(self.directory, node.name)
        section: dict[str, Any] = {
            "ca": f"{folder}/ca.crt",
            "cert": f"{folder}/{own.cert.name}",
            "key": f"{folder}/{own.key.name}",
            "client_auth": self.client_auth,
            "superusers": [PRINCIPAL],
        }
        if self.client_auth == "password":
            verifier = (self.directory / VERIFIER_FILE).read_text().strip()
            section["users"] = {PRINCIPAL: verifier}
        return section


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


async def plaintext_refusal(address: str, timeout: float = 5.0) -> str:
    """What a node answers a client that does not start TLS: the error code it sends
    (`tls-required` on a TLS node), "closed" if it just hangs up, "accepted" if it serves it.

    Spoken at the frame level because `Connection` waits for the answer to its own request
    id, and a node's refusal comes before any request is read (as request 0).
    """
    host, port = parse_address(address)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(MAGIC + encode(Frame(1, m.Hello([1], "harness-plaintext-probe"))))
        await writer.drain()
        decoder = FrameDecoder()
        async with asyncio.timeout(timeout):
            while data := await reader.read(1 << 16):
                for frame in decoder.feed(data):
                    if isinstance(frame, Frame):
                        message = frame.message
                        return message.code if isinstance(message, m.Error) else "accepted"
        return "closed"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


__all__ = [
    "CLIENT_AUTH",
    "NODE_DIR",
    "PRINCIPAL",
    "ClusterTls",
    "TlsSetupError",
    "plaintext_refusal",
]
