"""Simulator speed: `python -m wiber.sim.bench [--seeds N] [--time S]`.

A benchmark, not a test: it runs a fixed set of seeds on 3- and 5-node clusters with every
fault kind and prints events per second and simulated seconds per wall second (and per CPU
second, which a busy machine disturbs less). The figures depend on the machine and its load;
they are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import time

from wiber.sim.simulator import simulate


def measure(nodes: int, seeds: int, fault_time: float) -> dict[str, float]:
    events = virtual_us = 0
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    for seed in range(seeds):
        result = simulate(seed, nodes=nodes, faults="all", time=fault_time)
        events += result.events
        virtual_us += result.virtual_us
    wall = time.perf_counter() - wall_started
    cpu = time.process_time() - cpu_started
    virtual = virtual_us / 1e6
    return {
        "events": events,
        "virtual_s": virtual,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_wall_s": events / wall,
        "events_per_cpu_s": events / cpu,
        "virtual_per_wall_s": virtual / wall,
        "virtual_per_cpu_s": virtual / cpu,
        "wall_per_seed_s": wall / seeds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m wiber.sim.bench", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--time", type=float, default=2.0, help="fault phase, virtual seconds")
    args = parser.parse_args()
    print(f"simulator benchmark: {args.seeds} seeds per size, --faults all --time {args.time:g}")
    for nodes in (3, 5):
        m = measure(nodes, args.seeds, args.time)
        print(
            f"{nodes} nodes: {m['events']:,.0f} events in {m['wall_s']:.2f}s wall "
            f"({m['cpu_s']:.2f}s CPU): {m['events_per_wall_s']:,.0f} events/s wall, "
            f"{m['events_per_cpu_s']:,.0f} events/s CPU; "
            f"{m['virtual_per_wall_s']:.2f} simulated s per wall s "
            f"({m['virtual_per_cpu_s']:.2f} per CPU s); {m['wall_per_seed_s']:.3f}s per seed"
        )


if __name__ == "__main__":
    main()
