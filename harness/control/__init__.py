"""Control of cluster nodes: every command, upload and daemon goes through a `Remote`.

`SshRemote` (asyncssh) serves every real provider; `LocalRemote` runs the very same shell
steps as local subprocesses for the `local` provider (no root, no sshd). Daemons are started
detached with a pid file under `<root_dir>/run/<name>.pid`, so any later control process (a new
`harness` invocation after a crash, say) can find and signal them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.control.result import RemoteError, Result

if TYPE_CHECKING:
    from harness.cluster.inventory import Inventory, NodeSpec

__all__ = ["Remote", "RemoteError", "Result", "remote_for"]


class Remote(Protocol):
    async def run(
        self,
        node: NodeSpec,
        cmd: str,
        *,
        timeout: float = 60,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> Result: ...

    async def upload(self, node: NodeSpec, local: Path, remote: str) -> None: ...

    async def download(self, node: NodeSpec, remote: str, local: Path) -> None: ...

    async def start_daemon(
        self,
        node: NodeSpec,
        name: str,
        cmd: str,
        *,
        env: dict[str, str] | None = None,
        logfile: str,
    ) -> int: ...

    async def signal_daemon(self, node: NodeSpec, name: str, sig: str) -> bool: ...

    async def daemon_pid(self, node: NodeSpec, name: str) -> int | None: ...

    async def close(self) -> None: ...


def remote_for(inventory: Inventory) -> Remote:
    """The remote that reaches this inventory's nodes: local subprocesses or SSH."""
    if inventory.provider == "local":
        from harness.control.local import LocalRemote

        return LocalRemote()
    from harness.control.ssh import SshRemote

    return SshRemote(inventory)
