"""`LocalRemote`: the Remote protocol through local `sh -c` subprocesses (the `local` provider)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from harness.control import shell
from harness.control.base import ShellRemote
from harness.control.result import RemoteError, Result

if TYPE_CHECKING:
    from harness.cluster.inventory import NodeSpec


class LocalRemote(ShellRemote):
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
        process = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            full,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise RemoteError(node.name, cmd, f"timed out after {timeout}s") from None
        result = Result(process.returncode or 0, out.decode(errors="replace"), err.decode())
        return shell.checked(node, cmd, result, check)

    async def upload(self, node: NodeSpec, local: Path, remote: str) -> None:
        await asyncio.to_thread(_copy, local, Path(remote))

    async def download(self, node: NodeSpec, remote: str, local: Path) -> None:
        if not await asyncio.to_thread(Path(remote).exists):
            raise RemoteError(node.name, f"download {remote}", "no such file or directory")
        await asyncio.to_thread(_copy, Path(remote), local)

    async def close(self) -> None:
        return None


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() == target.resolve():
        return
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)
