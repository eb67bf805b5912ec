"""What a remote command returns, and the error a failed checked command raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class RemoteError(Exception):
    """A command failed (non-zero exit with check=True), timed out, or the node was unreachable."""

    def __init__(self, node: str, cmd: str, message: str, result: Result | None = None) -> None:
        super().__init__(f"{node}: `{_short(cmd)}`: {message}")
        self.node = node
        self.cmd = cmd
        self.result = result


def _short(cmd: str, limit: int = 160) -> str:
    return cmd if len(cmd) <= limit else cmd[: limit - 3] + "..."
