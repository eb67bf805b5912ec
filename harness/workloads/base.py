"""What every workload is: a client, a generator for the main phase, a final phase and the
checkers that judge the history (Jepsen's test map, cut down to what Wiber needs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.generator.core import Generator, Op, Thread
from harness.generator.interpreter import Client
from wiber.client import Client as WiberClient
from wiber.client import ClientError
from wiber.client.connection import Credentials

READ_FS = frozenset({"read", "poll", "committed", "deliver"})


@dataclass(frozen=True)
class WorkloadOptions:
    addresses: Sequence[str]  # client addresses of the nodes (host:port)
    topics: int = 3  # log/causal: topics written
    keys: int = 8  # register: keys live at once
    ops_per_key: int = 150  # register: a key retires after this many ops (keeps checking cheap)
    request_timeout: float = 3.0  # one request to a node
    op_timeout: float = 8.0  # one op, retries included (the interpreter's limit is above it)
    names: Sequence[str] = ()  # node names, parallel to addresses (for the history's "node")
    credentials: Credentials | None = None  # TLS cluster: how the workload's clients connect


@dataclass(frozen=True)
class Workload:
    name: str
    open_client: Callable[[Thread, Any], Awaitable[Client]]
    generator: Generator  # client ops of the main phase (the run adds rate and time limit)
    final: Generator | None  # client ops after the faults are healed (read everything back)
    checkers: tuple[str, ...]
    checker_opts: dict[str, Any] = field(default_factory=dict)


def rotated(addresses: Sequence[str], process: Any) -> list[str]:
    """The nodes in an order that starts at this process's own node, so that clients spread
    over the cluster (reads go to the first node that answers)."""
    n = len(addresses)
    first = process % n if isinstance(process, int) and n else 0
    return [*addresses[first:], *addresses[:first]]


def wiber_client(opts: WorkloadOptions, process: Any) -> WiberClient:
    """The one way a workload makes its client: this process's node first, and the run's
    credentials (TLS and the harness's certificate) when the cluster has TLS."""
    return WiberClient(
        rotated(opts.addresses, process),
        timeout=opts.request_timeout,
        credentials=opts.credentials,
    )


def node_name(opts: WorkloadOptions, process: Any) -> str | None:
    if not opts.names or not isinstance(process, int):
        return None
    return str(opts.names[process % len(opts.names)])


def failure(op: Op, error: ClientError) -> Op:
    """A client error as a completion: `fail` when the op certainly did not happen (or only
    read), `info` when it may have."""
    definite = error.definite or op["f"] in READ_FS
    return {"type": "fail" if definite else "info", "error": error.code}
