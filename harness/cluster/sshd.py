"""A private sshd per node: generated keys, a config of our own, and waiting until it answers."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from harness.cluster import ProviderError
from harness.cluster.inventory import NodeSpec
from harness.control import RemoteError
from harness.control.ssh import SshRemote

SSH_READY_TIMEOUT = 30.0


def ssh_keys(directory: Path) -> dict[str, Path]:
    """A client key (the harness logs in with it) and a host key, made fresh for this cluster."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {"client": directory / "id_ed25519", "host": directory / "host_ed25519"}
    for path in keys.values():
        if not path.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "wiber-harness",
                    "-f",
                    str(path),
                ],
                check=True,
                capture_output=True,
            )
    keys["authorized"] = directory / "authorized_keys"
    keys["authorized"].write_text(keys["client"].with_suffix(".pub").read_text())
    return keys


def sshd_config(host: str, port: int, keys: dict[str, Path]) -> str:
    # MaxSessions: the harness multiplexes many concurrent commands over one connection.
    return "\n".join(
        [
            f"ListenAddress {host}",
            f"Port {port}",
            f"HostKey {keys['host']}",
            f"AuthorizedKeysFile {keys['authorized']}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PidFile none",
            "MaxSessions 100",
            "MaxStartups 100:30:200",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]
    )


async def wait_ssh(node: NodeSpec, timeout: float = SSH_READY_TIMEOUT) -> None:
    remote = SshRemote()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                await remote.run(node, "true", timeout=5)
                return
            except RemoteError as e:
                if time.monotonic() > deadline:
                    raise ProviderError(f"{node.name}: ssh not ready in {timeout}s: {e}") from None
                await asyncio.sleep(0.1)
    finally:
        await remote.close()
