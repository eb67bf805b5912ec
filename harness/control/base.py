"""Daemon handling written once over `run`, so every remote manages daemons the same way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from harness.control import shell
from harness.control.result import RemoteError, Result

if TYPE_CHECKING:
    from harness.cluster.inventory import NodeSpec


class ShellRemote(ABC):
    @abstractmethod
    async def run(
        self,
        node: NodeSpec,
        cmd: str,
        *,
        timeout: float = 60,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> Result: ...

    @abstractmethod
    async def upload(self, node: NodeSpec, local: Path, remote: str) -> None: ...

    @abstractmethod
    async def download(self, node: NodeSpec, remote: str, local: Path) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def start_daemon(
        self,
        node: NodeSpec,
        name: str,
        cmd: str,
        *,
        env: dict[str, str] | None = None,
        logfile: str,
    ) -> int:
        if await self.daemon_pid(node, name) is not None:
            raise RemoteError(node.name, cmd, f"daemon {name} is already running")
        script = shell.start_daemon_script(node, name, cmd, logfile, env)
        result = await self.run(node, script, timeout=30)
        pid = shell.parse_pid(node, script, result)
        if pid is None:
            raise RemoteError(node.name, script, "daemon started but printed no pid", result)
        return pid

    async def signal_daemon(self, node: NodeSpec, name: str, sig: str) -> bool:
        result = await self.run(node, shell.signal_script(node, name, sig), check=False)
        return result.exit_status == 0

    async def daemon_pid(self, node: NodeSpec, name: str) -> int | None:
        script = shell.daemon_pid_script(node, name)
        return shell.parse_pid(node, script, await self.run(node, script, timeout=30))
