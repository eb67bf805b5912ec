"""Workloads: each is a client, a generator, a final phase and the checkers that fit it.

`WORKLOADS[name](opts, concurrency)` builds one; `harness run --workload NAME` picks it.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.workloads import causal, log, register
from harness.workloads.base import Workload, WorkloadOptions


def _log(opts: WorkloadOptions, concurrency: int) -> Workload:
    return log.workload(opts)


def _register(opts: WorkloadOptions, concurrency: int) -> Workload:
    return register.workload(opts)


def _causal(opts: WorkloadOptions, concurrency: int) -> Workload:
    return causal.workload(opts, concurrency)


WORKLOADS: dict[str, Callable[[WorkloadOptions, int], Workload]] = {
    "log": _log,
    "register": _register,
    "causal": _causal,
}

__all__ = ["WORKLOADS", "Workload", "WorkloadOptions"]
