"""Shell snippets shared by every remote, so that local and SSH nodes run the same steps.

Daemons run detached (`setsid`, stdin from /dev/null, output to their log file): the session
that started them may end at once, and the process is reparented to init, which reaps it. The
pid file is the only handle the harness keeps.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from harness.control.result import RemoteError, Result

if TYPE_CHECKING:
    from harness.cluster.inventory import NodeSpec

SIGNALS = frozenset({"TERM", "KILL", "STOP", "CONT", "INT", "HUP", "USR1", "USR2", "0"})


def with_env(cmd: str, env: dict[str, str] | None) -> str:
    if not env:
        return cmd
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return f"export {exports}; {cmd}"


def pidfile(node: NodeSpec, name: str) -> str:
    return f"{node.root_dir}/run/{name}.pid"


def start_daemon_script(
    node: NodeSpec, name: str, cmd: str, logfile: str, env: dict[str, str] | None = None
) -> str:
    pid = shlex.quote(pidfile(node, name))
    log = shlex.quote(logfile)
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((env or {}).items()))
    inner = shlex.quote(f"exec env {assignments} {cmd}" if assignments else f"exec {cmd}")
    return (
        f"set -e; mkdir -p {shlex.quote(node.root_dir + '/run')} $(dirname {log})\n"
        f"nohup setsid sh -c {inner} </dev/null >>{log} 2>&1 &\n"
        f"echo $! > {pid}.tmp; mv {pid}.tmp {pid}; cat {pid}"
    )


def daemon_pid_script(node: NodeSpec, name: str) -> str:
    """Prints the daemon's pid when it is alive (a zombie or a stale pid file prints nothing)."""
    pid = shlex.quote(pidfile(node, name))
    return (
        f'p=$(cat {pid} 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && '
        f'! grep -q "^State:[[:space:]]*Z" /proc/"$p"/status 2>/dev/null && echo "$p"; true'
    )


def signal_script(node: NodeSpec, name: str, sig: str) -> str:
    sig = sig.upper().removeprefix("SIG")
    if sig not in SIGNALS:
        raise ValueError(f"signal {sig!r} is not one of {sorted(SIGNALS)}")
    return f'p=$({daemon_pid_script(node, name)}) && [ -n "$p" ] && kill -{sig} "$p"'


def checked(node: NodeSpec, cmd: str, result: Result, check: bool) -> Result:
    if check and result.exit_status != 0:
        tail = (result.stderr or result.stdout).strip()[-500:]
        raise RemoteError(node.name, cmd, f"exit {result.exit_status}: {tail}", result)
    return result


def parse_pid(node: NodeSpec, cmd: str, result: Result) -> int | None:
    text = result.stdout.strip()
    if not text:
        return None
    try:
        return int(text.splitlines()[-1])
    except ValueError:
        raise RemoteError(node.name, cmd, f"expected a pid, got {text!r}", result) from None
