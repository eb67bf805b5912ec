"""`SshRemote`: the Remote protocol over asyncssh, one connection per node, reconnecting.

Host keys are not checked: the harness talks only to hosts it was handed in an inventory (and
the netns provider regenerates host keys on every `up`), so there is nothing to pin.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from harness.control import shell
from harness.control.base import ShellRemote
from harness.control.result import RemoteError, Result

if TYPE_CHECKING:
    from harness.cluster.inventory import Inventory, NodeSpec

CONNECT_TIMEOUT = 10.0


class SshRemote(ShellRemote):
    def __init__(self, inventory: Inventory | None = None) -> None:
        self.inventory = inventory
        self._conns: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _connect(self, node: NodeSpec) -> asyncssh.SSHClientConnection:
        lock = self._locks.setdefault(node.name, asyncio.Lock())
        async with lock:
            conn = self._conns.get(node.name)
            if conn is not None and not conn.is_closed():
                return conn
            try:
                conn = await asyncssh.connect(
                    node.host,
                    node.ssh_port,
                    username=node.user,
                    client_keys=[node.key] if node.key else (),
                    known_hosts=None,
                    connect_timeout=CONNECT_TIMEOUT,
                    keepalive_interval=5,
                    keepalive_count_max=3,
                )
            except (OSError, asyncssh.Error, TimeoutError) as e:
                raise RemoteError(node.name, "ssh connect", f"{type(e).__name__}: {e}") from None
            self._conns[node.name] = conn
            return conn

    def _drop(self, node: NodeSpec) -> None:
        conn = self._conns.pop(node.name, None)
        if conn is not None:
            conn.close()

    async def run(
        self,
        node: NodeSpec,
        cmd: str,
        *,
        timeout: float = 60,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> Result:
        full = shell.with_env(cmd, env)
        # A command that never started (the cached connection had died: the node restarted, a
        # partition outlived keepalives) is retried once on a fresh connection. One that may
        # have run is never repeated: rerunning a daemon start would leave an orphan.
        for attempt in (1, 2):
            conn = await self._connect(node)
            try:
                done = await conn.run(full, check=False, timeout=timeout)
            except asyncssh.TimeoutError:
                raise RemoteError(node.name, cmd, f"timed out after {timeout}s") from None
            except asyncssh.ChannelOpenError as e:
                self._drop(node)
                if attempt == 2:
                    raise RemoteError(node.name, cmd, f"cannot open a session: {e}") from None
                continue
            except (asyncssh.Error, OSError) as e:
                self._drop(node)
                raise RemoteError(node.name, cmd, f"{type(e).__name__}: {e}") from None
            status = done.exit_status if done.exit_status is not None else -1
            result = Result(status, _text(done.stdout), _text(done.stderr))
            return shell.checked(node, cmd, result, check)
        raise RemoteError(node.name, cmd, "unreachable")  # the loop always returns or raises

    async def upload(self, node: NodeSpec, local: Path, remote: str) -> None:
        await self._sftp(node, "put", str(local), remote)

    async def download(self, node: NodeSpec, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        await self._sftp(node, "get", remote, str(local))

    async def _sftp(self, node: NodeSpec, verb: str, source: str, target: str) -> None:
        conn = await self._connect(node)
        try:
            async with conn.start_sftp_client() as sftp:
                if verb == "put":
                    parent = str(Path(target).parent)
                    await sftp.makedirs(parent, exist_ok=True)
                    await sftp.put(source, target, recurse=True, preserve=True)
                else:
                    await sftp.get(source, target, recurse=True, preserve=True)
        except (asyncssh.Error, OSError) as e:
            raise RemoteError(node.name, f"sftp {verb} {source}", f"{type(e).__name__}: {e}") from e

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.wait_closed()


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data if isinstance(data, str) else ""
