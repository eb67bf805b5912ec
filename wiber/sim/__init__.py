"""The deterministic cluster simulator: whole clusters of core + broker in one thread.

`simulate(seed, nodes, faults, time, core_factory=...)` runs one seed and returns a
`SimResult` (the violation, if any, the trace of the last events, the history and counts).
`harness sim` is its command line; `python -m wiber.sim.bench` measures its speed. Modules:
`events` (the one queue and virtual time), `disk`, `network`, `grudges`, `node` (executes
`plan(ready)`), `machine` (the broker), `clients`, `nemesis`, `invariants`, `trace`,
`simulator`.
"""

from wiber.sim.nemesis import FAULT_KINDS
from wiber.sim.simulator import SimOptions, SimResult, Simulator, parse_faults, simulate

__all__ = ["FAULT_KINDS", "SimOptions", "SimResult", "Simulator", "parse_faults", "simulate"]
