"""`python -m wiber.sim`: `harness sim`'s options, plus the causal workload and client count.

`--causal` adds causal producers and two-topic subscribers (`wiber.sim.causal`); the clock
nemesis is one of the fault kinds (`--faults clock,...`, and part of `all`). stdout is a pure
function of the arguments, as with `harness sim`: a failing seed prints the violated property,
the last events and a command that replays it; the exit status is then 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from harness.commands import sim as harness_sim
from wiber.sim.simulator import SimResult, parse_faults, simulate


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m wiber.sim", description=__doc__)
    harness_sim.configure(p)
    p.add_argument("--causal", action="store_true", help="run the causal workload too")
    p.add_argument("--clients", type=int, metavar="N", help="log-workload client slots")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        core = harness_sim._core(args.core_variant)
        seeds = harness_sim._seeds(args)
        harness_sim._check_history(args.history, len(seeds))
        faults = parse_faults(args.faults)
        if args.clients is not None and args.clients < 1:
            raise ValueError("--clients needs a positive count")
    except (ValueError, ImportError, KeyError) as error:
        print(f"python -m wiber.sim: {error}", file=sys.stderr)
        return 2
    failed: list[int] = []
    started = time.perf_counter()
    for seed in seeds:
        result = simulate(
            seed,
            nodes=args.nodes,
            faults=faults,
            time=args.time,
            core_factory=core,
            history_path=harness_sim._history_path(args.history, seed),
            clients=args.clients,
            causal=args.causal,
        )
        _report(result, args)
        if not result.ok:
            failed.append(seed)
    if len(seeds) > 1:
        verdict = "ok" if not failed else f"FAILED seeds {' '.join(map(str, failed))}"
        print(f"{len(seeds)} seeds: {len(seeds) - len(failed)} ok, {len(failed)} failed: {verdict}")
    print(f"wall {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 1 if failed else 0


def replay_command(seed: int, args: argparse.Namespace) -> str:
    command = f"python -m wiber.sim --seed {seed} --nodes {args.nodes} --faults {args.faults}"
    command += f" --time {args.time:g}"
    if args.clients is not None:
        command += f" --clients {args.clients}"
    if args.causal:
        command += " --causal"
    if args.core_variant:
        command += f" --core-variant {args.core_variant}"
    return command


def _report(result: SimResult, args: argparse.Namespace) -> None:
    stats = result.stats
    head = (
        f"seed {result.seed}: nodes {args.nodes}, {stats['events']} events, "
        f"{result.virtual_us / 1e6:.3f}s virtual, {stats['faults']} faults, "
        f"{stats['ops']} ops, {stats['acked']} acked, {stats['terms']} terms"
    )
    if args.causal:
        head += (
            f", causal {stats['causal_acked']} acked, {stats['causal_delivered']} delivered "
            f"({stats['causal_held']} held, {stats['causal_marked']} marked)"
        )
    if result.ok:
        print(f"{head}: ok")
        return
    print(f"{head}: FAILED")
    print(f"  violated: {result.violation}")
    print("  last events:")
    for line in result.trace:
        print(f"    {line}")
    print(f"  replay: {replay_command(result.seed, args)}")


if __name__ == "__main__":
    sys.exit(main())
