"""The deterministic cluster simulator: whole clusters of core + broker in one thread.

`simulate(seed, nodes, faults, time, core_factory=..., causal=..., parts=...)` runs one seed and
returns a `SimResult` (the violation, if any, the trace of the last events, the history, counts
and the causal subscribers' deliveries). `harness sim` is its command line (`--causal` for the
causal workload); `python -m wiber.sim.bench` measures its speed.
Modules: `events` (the one queue and virtual time), `disk`, `network`, `grudges`, `clock` (wall
clocks and HLC stamping), `node` (executes `plan(ready)`), `machine` (the broker), `clients`,
`causal` (the causal workload), `nemesis`, `invariants`, `ordering` (time and causal checks),
`trace`, `simulator`.
"""

from wiber.sim.nemesis import FAULT_KINDS
from wiber.sim.simulator import (
    SimOptions,
    SimParts,
    SimResult,
    Simulator,
    parse_faults,
    simulate,
)

__all__ = [
    "FAULT_KINDS",
    "SimOptions",
    "SimParts",
    "SimResult",
    "Simulator",
    "parse_faults",
    "simulate",
]
